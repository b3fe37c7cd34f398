"""Several instances on one PostgreSQL database: claims, leases, shared duplicate decisions."""
from __future__ import annotations

import asyncio
import os
import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.adapters.store import Store
from bot.core.watchlist import Feed

try:
    from tests.feedserver import make_rss
except ImportError:  # pragma: no cover
    from feedserver import make_rss

ROOT = Path(__file__).resolve().parents[1]
SOKUHO = ROOT / ".venv" / "bin" / "sokuho"
T0 = datetime(2026, 1, 3, 12, 0, tzinfo=timezone.utc)
WATCH = "name: storms\naliases:\n  en: [hurricane, flood]\n"


def exe() -> list[str]:
    return [str(SOKUHO)] if SOKUHO.exists() else [sys.executable, "-m", "bot.cli"]


def clean_env(**kw) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOKUHO_", "TELEGRAM_"))}
    env["SOKUHO_ALLOW_PRIVATE_NETWORKS"] = "1"       # the test feed servers are on 127.0.0.1
    env.update(kw)
    return env


def story(k: int) -> str:
    # distinct words per story, so that only the two copies of one story are near-duplicates
    words = ["Zanzibar", "Kobe", "Lagos", "Quito", "Tromso", "Perth", "Dakar", "Hilo", "Lima",
             "Oslo", "Cusco", "Aden", "Turku", "Nuuk", "Bergen", "Split", "Riga", "Fes"]
    a, b = words[k % len(words)], words[(k * 7 + 3) % len(words)]
    return f"Hurricane hits {a} harbour: {k + 3} ferries sunk, {b} evacuated"


async def run_two(cmds: list[list[str]], env: dict, timeout: float = 240):
    procs = [await asyncio.create_subprocess_exec(*c, cwd=ROOT, env=env,
                                                  stdout=asyncio.subprocess.PIPE,
                                                  stderr=asyncio.subprocess.PIPE) for c in cmds]
    outs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), timeout)
    return [(p.returncode, o.decode(), e.decode()) for p, (o, e) in zip(procs, outs)]


async def test_two_poll_once_at_the_same_moment_fetch_each_feed_once(feed_server, pg_url,
                                                                    tmp_path):
    n_plain, n_pairs = 240, 40
    now = datetime.now(timezone.utc)
    pairs = {}
    for k in range(n_pairs):        # the same story in two feeds (different guid and link)
        for side in "ab":
            pairs[side, k] = feed_server.route(f"/pair/{k}{side}.xml", delay=0.05, body=make_rss([{
                "title": story(k), "link": f"https://{side}.example/{k}", "guid": f"p{k}{side}",
                "description": "Coastal towns flooded as the storm made landfall.",
                "pubDate": now - timedelta(minutes=5)}]))
    # first copies at the start of the list, second copies at the end: claimed in different
    # batches, mostly by different instances, at different moments
    urls = [pairs["a", k] for k in range(n_pairs)]
    urls += feed_server.add_many(n_plain, items=6, latency=0.05)
    urls += [pairs["b", k] for k in range(n_pairs)]
    wl = tmp_path / "wl"
    wl.mkdir()
    (wl / "storms.yaml").write_text(WATCH)
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n" + "".join(f"  - {{name: f{i}, url: '{u}', lang: en}}\n"
                                          for i, u in enumerate(urls)))
    env = clean_env(SOKUHO_DATABASE_URL=pg_url, SOKUHO_MAX_AGE="0")
    # both processes start at the same moment: the first to open the database migrates under
    # the advisory lock, then both share one cycle
    res = await run_two([exe() + ["poll", "--once", "--quiet", "--instance", name,
                                  "--watchlists", str(wl), "--feeds", str(feeds),
                                  "--state", str(tmp_path / name)]
                         for name in ("one", "two")], env)
    for rc, out, err in res:
        assert rc == 0, err[-2000:]
    polled = [int(re.search(r"cycle: (\d+) feeds", out).group(1)) for _, out, _ in res]
    total = n_plain + 2 * n_pairs
    assert sum(polled) == total, polled
    assert all(n > 0 for n in polled), f"one instance did all the work: {polled}"
    # every feed fetched exactly once
    counts = {}
    for r in feed_server.requests:
        counts[r.path] = counts.get(r.path, 0) + 1
    assert len(counts) == total and set(counts.values()) == {1}, \
        {p: n for p, n in counts.items() if n != 1}
    assert not any((tmp_path / name).exists() for name in ("one", "two"))  # nothing in SQLite
    with Store.open(pg_url) as s:
        assert s.counts()["items"] == n_plain * 6 + 2 * n_pairs        # each item once
        rows = s.conn.execute("SELECT guid, duplicate_of FROM items WHERE guid LIKE 'p%'"
                              ).fetchall()
        assert s.instances() == [] and s.leases() == {}                # both left cleanly
    dup = dict(rows)
    for k in range(n_pairs):       # two copies polled by two instances: still one story
        a, b = dup[f"p{k}a"], dup[f"p{k}b"]
        assert (a is None) != (b is None), (k, a, b)
        assert (a or b) in (f"p{k}a", f"p{k}b")


def test_claims_are_disjoint_and_expired_leases_are_taken_over(database):
    """Two instances claiming at once get disjoint feeds; a dead instance's feeds return when
    its lease expires (the service's takeover), never before."""
    a, b = Store.open(database), Store.open(database)
    try:
        feeds = [Feed(name=f"f{i}", url=f"https://x.example/{i}") for i in range(30)]
        a.sync_feeds(feeds, 300, T0)
        got_a = a.claim_feeds("a", T0, 60, limit=20)
        got_b = b.claim_feeds("b", T0, 60)
        assert len(got_a) == 20 and len(got_b) == 10
        assert not {f.url for f in got_a} & {f.url for f in got_b}
        assert b.claim_feeds("b", T0 + timedelta(seconds=59), 60) == []
        assert a.leases() == {"a": (20, T0 + timedelta(seconds=60)),
                              "b": (10, T0 + timedelta(seconds=60))}
        # b records its polls (lease released, next poll later); a "dies" holding 20 leases
        for f in got_b:
            b.record_fetch(f.url, status="ok", next_poll_at=T0 + timedelta(seconds=300),
                           now=T0)
        later = T0 + timedelta(seconds=61)
        taken = b.claim_feeds("b", later, 60)
        assert sorted(f.url for f in taken) == sorted(f.url for f in got_a)
        # renewing keeps leases alive
        assert b.renew_leases("b", later + timedelta(seconds=120)) == 20
        assert a.claim_feeds("a", later + timedelta(seconds=100), 60) == []
    finally:
        a.close()
        b.close()


def test_concurrent_claims_on_postgresql_never_overlap(pg_url):
    import threading
    with Store.open(pg_url) as s:
        s.sync_feeds([Feed(name=f"f{i}", url=f"https://y.example/{i}") for i in range(400)],
                     300, T0)
    got: dict[str, list[str]] = {}

    def worker(name):
        with Store.open(pg_url) as s:
            mine = []
            while True:
                batch = s.claim_feeds(name, T0, 60, limit=7)
                if not batch:
                    break
                mine += [f.url for f in batch]
            got[name] = mine
    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [u for urls in got.values() for u in urls]
    assert len(every) == 400 and len(set(every)) == 400
    assert sum(1 for urls in got.values() if urls) >= 2      # the work was shared


async def test_leadership_takeover_and_notify(pg_url):
    """One holder at a time; the standby takes over when the holder's session ends; the holder
    hears NOTIFY from other instances (a follower's new outbox rows)."""
    from bot.adapters.leader import Leadership
    events = []

    def make(name):
        async def up():
            events.append(("up", name))

        async def down():
            events.append(("down", name))
        return Leadership(pg_url, "t", on_acquire=up, on_lose=down, retry=0.2,
                          channel="sokuho_test", on_notify=lambda: events.append(("poke", name)))
    a, b = make("a"), make("b")
    await a.start()
    await b.start()
    try:
        assert a.held and not b.held
        with Store.open(pg_url) as s:
            s.notify("sokuho_test")
        for _ in range(100):
            if ("poke", "a") in events:
                break
            await asyncio.sleep(0.05)
        assert ("poke", "a") in events and ("poke", "b") not in events
        a._task.cancel()                 # the holder dies (as with kill -9): its loop stops and
        a._conn.close()                  # its session ends
        for _ in range(100):
            if b.held:
                break
            await asyncio.sleep(0.05)
        assert b.held and ("up", "b") in events
    finally:
        await a.stop()
        await b.stop()
