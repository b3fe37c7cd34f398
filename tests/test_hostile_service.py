"""One bad feed must not stop the service: a parse over budget is killed, the other feeds go on,
and a cycle that stops making progress stops the systemd watchdog."""
from __future__ import annotations

import asyncio
import time

import pytest

from bot.adapters.parse import ParserPool
from bot.app import App
from bot.ops.health import Progress
from bot.settings import Settings

try:
    from tests.feedserver import make_rss
except ImportError:  # pragma: no cover
    from feedserver import make_rss

WATCH = "name: cuba\naliases:\n  en: [Cuba]\n"


BUDGET = 1.0      # small feeds parse in milliseconds, far below it even on a loaded machine


def _huge_feed() -> bytes:
    # 60,000 entries (3 MB): feedparser needs several seconds for them, far over BUDGET
    return make_rss([{"title": f"Item {i}", "guid": f"g{i}"} for i in range(60_000)])


@pytest.mark.timeout(120)
async def test_parse_over_budget_is_killed_and_the_other_feeds_go_on(tmp_path, feed_server):
    big = feed_server.route("/big.xml", body=_huge_feed())
    small = feed_server.route("/small.xml", body=make_rss([{"title": "Cuba news", "guid": "1"}]))
    wl = tmp_path / "wl"
    wl.mkdir()
    (wl / "cuba.yaml").write_text(WATCH, encoding="utf-8")
    (wl / "feeds.yaml").write_text(f"feeds:\n  - {{name: big, url: '{big}'}}\n"
                                   f"  - {{name: small, url: '{small}'}}\n", encoding="utf-8")
    s = Settings(watchlists=wl, state=tmp_path / "st", allow_private_networks=True,
                 parse_timeout=BUDGET, max_age=0)
    app = await App.open(s, parser_kind="process")
    app.parsers.workers = 2
    try:
        await app.parsers.parse(b"<rss/>", feed_name="warm-up")   # start a worker process
        report = await app.pipeline.poll_many(app.store.feeds())
        by = {o.name: o for o in report.outcomes}
        assert (by["big"].status, by["big"].error_kind) == ("failed", "timeout_parse")
        assert big in by["big"].error and f"longer than {BUDGET:g}s" in by["big"].error
        assert (by["small"].status, by["small"].entries) == ("ok", 1)
        st = {f.name: f for f in app.store.feeds()}
        assert st["big"].error_count == 1 and st["big"].last_error_kind == "timeout_parse"
        assert st["big"].next_poll_at is not None          # retried with backoff, not dropped
        assert st["small"].error_count == 0
        # the killed worker was replaced: the pool still parses
        again = await app.parsers.parse(make_rss([{"title": "a", "guid": "2"}]), feed_name="x")
        assert not again.failed and len(again.entries) == 1
    finally:
        await app.close()


@pytest.mark.timeout(120)
async def test_pool_kills_only_the_stuck_worker():
    pool = ParserPool("process", workers=2, budget=BUDGET)
    try:
        ok = make_rss([{"title": "fine", "guid": "1"}])
        await pool.parse(ok, feed_name="warm")
        results = await asyncio.gather(pool.parse(_huge_feed(), feed_name="big"),
                                       *(pool.parse(ok, feed_name=f"f{i}") for i in range(4)))
        assert results[0].failed and results[0].error_kind == "timeout_parse"
        assert all(not r.failed and len(r.entries) == 1 for r in results[1:])
        workers = set(pool._all)
        assert len(workers) <= 2
    finally:
        pool.close()
    assert all(not w.proc.is_alive() for w in workers)


def test_progress_bound():
    p = Progress(bound=10)
    assert not p.stuck(100)
    p.cycle_started(100)
    assert not p.stuck(105)
    p.feed_done(108)
    assert not p.stuck(117) and p.stuck(119)
    p.cycle_ended()
    assert not p.stuck(1000)


@pytest.mark.timeout(60)
async def test_a_stuck_cycle_stops_the_watchdog(tmp_path):
    from bot.service import Service
    wl = tmp_path / "wl"
    wl.mkdir()
    (wl / "cuba.yaml").write_text(WATCH, encoding="utf-8")
    (tmp_path / "f.xml").write_bytes(make_rss([{"title": "Cuba", "guid": "1"}]))
    (wl / "feeds.yaml").write_text(f"feeds:\n  - {{name: f, url: '{tmp_path / 'f.xml'}'}}\n")
    svc = Service(Settings(watchlists=wl, state=tmp_path / "st"))
    svc.app = await App.open(svc.settings, parser_kind="inline")
    release = asyncio.Event()

    async def hung_parse(body, **kw):       # a parser that never returns (until released)
        await release.wait()
        return await real_parse(body, **kw)
    real_parse = svc.app.parsers.parse
    svc.app.parsers.parse = hung_parse
    svc.progress.bound = 0.2
    svc.sink = type("S", (), {"notify_admins": staticmethod(lambda t: asyncio.sleep(0))})()
    try:
        assert await svc._alive()
        cycle = asyncio.create_task(svc._cycle())
        deadline = time.monotonic() + 20
        while await svc._alive():
            assert time.monotonic() < deadline, "the watchdog check never failed"
            await asyncio.sleep(0.05)
        release.set()
        await cycle
        assert await svc._alive()            # progress again: the watchdog is fed again
        assert svc.last_cycle is not None and svc.last_cycle.count("ok") == 1
    finally:
        await svc.app.close()
