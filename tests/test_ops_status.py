"""`sokuho status` and `sokuho backup` on a store populated through the Store API."""
from __future__ import annotations

import json
import sqlite3
import threading
from datetime import datetime, timedelta, timezone

import pytest

from bot.adapters.store import Store
from bot.cli import build_parser
from bot.core.model import Entry, Processed
from bot.core.watchlist import Feed
from bot.settings import Settings

NOW = datetime.now(timezone.utc)     # re-set per test by the `state` fixture
NHK, BBC, OLD = "https://nhk.example/rss", "https://bbc.example/rss", "https://old.example/rss"


def cli(argv, capsys):
    args = build_parser().parse_args(argv)
    rc = args.func(args, Settings.from_env({}).apply_args(args))
    return rc, capsys.readouterr()


def entry(i: int, feed: str = "NHK") -> Processed:
    return Processed(Entry(id=f"guid-{feed}-{i}", feed=feed, title=f"title {i}",
                           link=f"https://example.org/{feed}/{i}", published=NOW))


@pytest.fixture
def state(tmp_path, monkeypatch):
    """A console-only deployment's state: the real Store with the migrations such a process
    has (all but the Telegram outbox's, which registers its own where it is imported)."""
    global NOW
    NOW = datetime.now(timezone.utc)   # relative times ("3m ago") are computed against this
    d = tmp_path / "state"
    with monkeypatch.context() as m:
        m.setattr(Store, "MIGRATIONS", {k: v for k, v in Store.MIGRATIONS.items()
                                        if k != "telegram"})
        _populate(d)
    return d


def _populate(d):
    s = Store.open(d / "sokuho.db")
    s.sync_feeds([Feed(name="NHK", url=NHK, lang="ja"), Feed(name="BBC", url=BBC),
                  Feed(name="Old", url=OLD)], 300, NOW - timedelta(hours=2))
    s.sync_feeds([Feed(name="NHK", url=NHK, lang="ja"), Feed(name="BBC", url=BBC)], 300,
                 NOW - timedelta(hours=2))                       # Old: disabled
    s.save_processed([entry(i) for i in range(5)], fetched_at=NOW - timedelta(minutes=3))
    s.record_fetch(NHK, status="ok", etag='W/"5f2a9c0d1e2b3a4c"',
                   last_modified="Tue, 30 Apr 2024 10:00:00 GMT", new_items=5,
                   next_poll_at=NOW + timedelta(minutes=2), now=NOW - timedelta(minutes=3))
    for i in range(4):
        s.record_fetch(BBC, status="failed", error=f"HTTP 503 from {BBC}",
                       error_kind="http_5xx", next_poll_at=NOW + timedelta(minutes=10),
                       now=NOW - timedelta(minutes=40 - i * 10))
    s.close()


def test_status_table(state, capsys):
    rc, out = cli(["status", "--state", str(state)], capsys)
    assert rc == 0, out.err
    lines = out.out.splitlines()
    assert "5 items" in lines[0] and "last poll 3m ago" in lines[0]
    header = next(l for l in lines if l.startswith("FEED"))
    for col in ("STATUS", "LAST OK", "LAST ERROR", "ERRORS", "ITEMS", "NEXT POLL", "VALIDATORS"):
        assert col in header
    bbc = next(l for l in lines if l.startswith("BBC"))
    nhk = next(l for l in lines if l.startswith("NHK"))
    assert "failing" in bbc and "never" in bbc and "HTTP 503" in bbc and " 4 " in bbc
    assert "http_5xx" in bbc and "10m ago" in bbc
    assert "ok" in nhk and "3m ago" in nhk and " 5 " in nhk and "in 1m" in nhk
    assert 'etag W/"5f2a9c0' in nhk and "lm 04-30 10:00" in nhk
    assert not any(l.startswith("Old") for l in lines) and "1 disabled" in out.out
    assert "Telegram: not configured" in out.out


def test_status_json_and_all(state, capsys):
    rc, out = cli(["status", "--json", "--all", "--state", str(state)], capsys)
    data = json.loads(out.out)
    feeds = {f["name"]: f for f in data["feeds"]}
    assert rc == 0 and set(feeds) == {"NHK", "BBC", "Old"}
    assert feeds["BBC"]["status"] == "failing" and feeds["BBC"]["error_count"] == 4
    assert feeds["Old"]["status"] == "disabled"
    assert feeds["NHK"]["items"] == 5 and data["counts"]["items"] == 5
    assert data["delivery"] is None


def test_status_delivery_by_chat(state, capsys):
    from bot.telegram.outbox import Outbox        # the Telegram tables, by their migrations
    store = Store.open(state / "sokuho.db")
    ob = Outbox(store)
    for chat, kind, title, user in ((-100123, "channel", "Newsroom", None),
                                    (42, "private", None, "alice")):
        ob.ensure_chat(chat, kind=kind, title=title, username=user, lang="en",
                       next_digest_at=NOW + timedelta(hours=1), now=NOW)
    g = [f"guid-NHK-{i}" for i in range(5)]
    ob.enqueue([(-100123, 0, x, "cuba", "instant", "queued") for x in g]
               + [(42, 0, x, "cuba", "digest", "waiting") for x in g[:2]]
               + [(7, 0, g[0], "cuba", "instant", "queued")], NOW)   # 7: a chat without a row
    news = [r.id for r in ob.rows(-100123)]
    ob.mark_sent(news[:3], 1, NOW - timedelta(minutes=1))
    ob.mark_dead(news[3:4], "forbidden: bot was blocked")
    ob.mark_sent([r.id for r in ob.rows(7)], 2, NOW)
    store.close()
    rc, out = cli(["status", "--state", str(state)], capsys)
    assert rc == 0
    lines = out.out.splitlines()
    assert any(l.startswith("CHAT") and "PENDING" in l and "FAILED" in l for l in lines)
    newsroom = next(l for l in lines if l.startswith("Newsroom")).split()
    assert newsroom[1:4] == ["1", "3", "1"]
    assert next(l for l in lines if l.startswith("@alice")).split()[1:4] == ["2", "0", "0"]
    assert next(l for l in lines if l.startswith("7 ")).split()[1:4] == ["0", "1", "0"]


def test_status_without_database_fails_clearly(tmp_path, capsys):
    rc, out = cli(["status", "--state", str(tmp_path / "nothing")], capsys)
    assert rc == 1 and "does not exist" in out.err
    assert not (tmp_path / "nothing").exists()              # read-only: creates nothing


def test_status_while_the_service_holds_a_write_transaction(state, capsys):
    writer = sqlite3.connect(state / "sokuho.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE feeds SET items_total = 999 WHERE url = ?", (NHK,))
    try:
        rc, out = cli(["status", "--state", str(state)], capsys)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert rc == 0 and "999" not in out.out and "NHK" in out.out      # the last committed view


def test_backup_is_consistent_while_another_connection_writes(state, tmp_path, capsys):
    stop = threading.Event()
    written = []

    def write():
        s = Store.open(state / "sokuho.db")
        i = 100
        while not stop.is_set():
            s.save_processed([entry(i, "BBC"), entry(i + 1, "BBC")], fetched_at=NOW)
            written.append(i)
            i += 2
        s.close()

    t = threading.Thread(target=write)
    t.start()
    try:
        while len(written) < 5:
            stop.wait(0.01)
        dest = tmp_path / "backups" / "copy.db"
        rc, out = cli(["backup", str(dest), "--state", str(state)], capsys)
    finally:
        stop.set()
        t.join(30)
    assert rc == 0, out.err
    assert "integrity ok" in out.out and f"-> {dest}" in out.out
    b = sqlite3.connect(dest)
    assert b.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    guids = {r[0] for r in b.execute("SELECT guid FROM items")}
    n = len(guids)
    assert f"{n} items" in out.out
    assert {f"guid-NHK-{i}" for i in range(5)} <= guids
    bbc = sorted(int(g.split("-")[-1]) for g in guids if "-BBC-" in g)
    assert bbc and bbc == list(range(100, 100 + len(bbc)))        # a prefix: batches whole
    assert b.execute("PRAGMA journal_mode").fetchone()[0] == "delete"   # self-contained file
    b.close()
    rc, out = cli(["backup", str(dest), "--state", str(state)], capsys)
    assert rc == 1 and "exists" in out.err                         # no silent overwrite
    rc, out = cli(["backup", str(dest), "--force", "--state", str(state)], capsys)
    assert rc == 0
