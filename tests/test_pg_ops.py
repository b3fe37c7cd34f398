"""Moving an installation to PostgreSQL, backups of it, and `sokuho status` with instances."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.adapters.store import Store
from bot.core.model import DupVerdict, Entry, Hit, Processed
from bot.core.watchlist import Feed

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)


def sokuho(*args, env=None, timeout=120):
    e = {k: v for k, v in os.environ.items() if not k.startswith(("SOKUHO_", "TELEGRAM_"))}
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, env=e, timeout=timeout)


def fill(db: Path) -> dict:
    """An SQLite installation with feeds, items (one duplicate), matches, a Telegram chat, a
    subscription and outbox rows in several states."""
    from bot.telegram.outbox import Outbox
    hit = Hit(watchlist="cuba", alias="Cuba", field="title", text="Cuba", kind="exact")
    with Store.open(db) as s:
        s.sync_feeds([Feed(name=f"f{i}", url=f"https://f.example/{i}") for i in range(5)], 300, T0)
        batch = [Processed(Entry(id=f"g{i}", feed="f0", title=f"Cuba {i} 東京 ñ", summary="s",
                                 link=f"https://n.example/{i}", published=T0, lang="en"),
                           [hit], DupVerdict("g0" if i == 7 else None, "url" if i == 7 else ""))
                 for i in range(40)]
        s.save_processed(batch, fetched_at=T0)
        ob = Outbox(s)
        ob.ensure_chat(-1001234567890123, kind="supergroup", title="Newsroom", username=None,
                       lang="ja", next_digest_at=T0, now=T0)
        ob.subscribe(-1001234567890123, 0, "cuba", "instant", T0)
        ob.enqueue([(-1001234567890123, 0, f"g{i}", "cuba", "instant", "queued")
                    for i in range(6)], T0)
        rows = ob.rows()
        ob.mark_sent([rows[0].id, rows[1].id], 42, T0)
        ob.mark_dead([rows[2].id], "blocked")
        c = s.counts()
        return {"items": c["items"], "matches": c["matches"], "outbox": ob.counts()}


def test_db_migrate_moves_everything_and_verifies(tmp_path, pg_url):
    db = tmp_path / "state" / "sokuho.db"
    before = fill(db)
    r = sokuho("db", "migrate", "--from", str(db), "--to", pg_url)
    assert r.returncode == 0, r.stderr
    assert "counts verified" in r.stdout and "tg_outbox" in r.stdout
    from bot.telegram.outbox import Outbox
    with Store.open(pg_url) as s:
        c = s.counts()
        assert (c["items"], c["matches"], c["duplicates"], c["feeds"]) == \
            (before["items"], before["matches"], 1, 5)
        ob = Outbox(s)
        assert ob.counts() == before["outbox"]
        assert [x.watchlist for x in ob.subscriptions(-1001234567890123)] == ["cuba"]
        assert ob.chat(-1001234567890123).title == "Newsroom"        # a 64-bit chat id
        it = s.item("g3")
        assert it.entry.title == "Cuba 3 東京 ñ" and it.hits[0].watchlist == "cuba"
        assert s.item("g7").duplicate_of == "g0"
        # new rows after the move get fresh ids (identity sequences moved past the copied ids)
        ob.enqueue([(-1001234567890123, 0, "g30", "cuba", "instant", "queued")], T0)
        assert len({x.id for x in ob.rows()}) == 7
    # a second migrate into the now non-empty database is refused, nothing changes
    r = sokuho("db", "migrate", "--from", str(db), "--to", pg_url)
    assert r.returncode == 1 and "empty database" in r.stderr
    # and the service side: status on the moved installation
    st = sokuho("status", "--json", "--database-url", pg_url)
    assert st.returncode == 0, st.stderr
    data = json.loads(st.stdout)
    assert data["counts"]["items"] == before["items"] and data["database"]["engine"] == \
        "postgresql"


def test_backup_of_postgresql_with_pg_dump(tmp_path, pg_url, pg_cluster):
    with Store.open(pg_url) as s:
        s.sync_feeds([Feed(name="a", url="https://a.example/")], 300, T0)
    env = {"PATH": f"{pg_cluster.bindir}:{os.environ['PATH']}"}
    dest = tmp_path / "b" / "sokuho.dump"
    r = sokuho("backup", str(dest), "--database-url", pg_url, env=env)
    assert r.returncode == 0, r.stderr
    assert dest.exists() and "pg_dump" in r.stdout and "pg_restore" in r.stdout
    # it restores into a fresh database with the same content
    target = pg_cluster.create_database()
    rr = subprocess.run([str(pg_cluster.bindir / "pg_restore"), "--no-owner", "-d", target,
                         str(dest)], capture_output=True, text=True)
    assert rr.returncode == 0, rr.stderr
    with Store.open(target) as s:
        assert [f.url for f in s.feeds()] == ["https://a.example/"]
    r2 = sokuho("backup", str(dest), "--database-url", pg_url, env=env)
    assert r2.returncode == 1 and "exists" in r2.stderr


def test_status_shows_instances_and_leases(tmp_path, pg_url):
    now = datetime.now(timezone.utc)
    with Store.open(pg_url) as s:
        s.sync_feeds([Feed(name=f"f{i}", url=f"https://s.example/{i}") for i in range(6)],
                     300, now)
        s.register_instance("alpha", host="h1", pid=11, command="run", now=now,
                            roles="poll,telegram")
        s.register_instance("beta", host="h2", pid=22, command="run",
                            now=now - timedelta(minutes=10))
        s.claim_feeds("alpha", now, 120, limit=4)
    st = sokuho("status", "--database-url", pg_url)
    assert st.returncode == 0, st.stderr
    out = st.stdout
    assert "INSTANCE" in out and "alpha" in out and "beta" in out
    line_a = next(x for x in out.splitlines() if x.startswith("alpha"))
    line_b = next(x for x in out.splitlines() if x.startswith("beta"))
    assert "alive" in line_a and "telegram" in line_a and " 4 " in f" {line_a} "
    assert "gone" in line_b
    data = json.loads(sokuho("status", "--json", "--database-url", pg_url).stdout)
    inst = {i["name"]: i for i in data["instances"]}
    assert inst["alpha"]["feeds_leased"] == 4 and inst["alpha"]["alive"] is True
    assert inst["beta"]["alive"] is False
