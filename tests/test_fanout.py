"""No alert lost between storing an item and queueing it: a crash at every boundary of a poll
(items committed, fetch recorded, outbox half written, alerts queued but marks not cleared) is
followed by a restart that queues every alert exactly once.

The crash is deterministic, at a named injection point (bot/faults.py, test-only): in-process
tests raise from `faults.hook` (nothing after the point runs, the open transaction is rolled
back, the store is closed as a dying process would leave it); the subprocess tests set
SOKUHO_TEST_CRASH so the real process dies with os._exit at the point.
"""
from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from fakebotapi import TOKEN, FakeBotAPI
from feedserver import make_rss

from bot import faults

SOKUHO = Path(sys.executable).parent / "sokuho"
CUBA = "name: cuba\ntitle: {en: Cuba}\naliases:\n  en: [Cuba, Havana]\n"
CHATS = {101: "instant", 102: "digest"}


class Crash(BaseException):
    """Not an Exception: nothing in the pipeline may catch it (like the process dying)."""


def feed(n: int = 3) -> bytes:
    now = datetime.now(timezone.utc)
    return make_rss([{"title": f"Cuba story {i}", "link": f"https://n.example/c/{i}",
                      "guid": f"c{i}", "pubDate": now - timedelta(minutes=i)} for i in range(n)]
                    + [{"title": "Weather in Osaka", "link": "https://n.example/w", "guid": "w",
                        "pubDate": now}])


def conf(tmp_path: Path, url: str | list[str] | None) -> Path:
    d = tmp_path / "conf"
    d.mkdir(exist_ok=True)
    (d / "cuba.yaml").write_text(CUBA)
    urls = [url] if isinstance(url, str) else url or []
    (d / "feeds.yaml").write_text("feeds:\n" + "".join(
        f"  - {{name: News{k or ''}, url: '{u}', lang: en}}\n" for k, u in enumerate(urls))
        if urls else "feeds: []\n")
    return d


async def open_app(tmp_path: Path, url: str | list[str], *, database: str | None = None,
                   instance: str | None = None):
    """App + a Telegram sink (not started: publish() only queues outbox rows). database: a
    PostgreSQL URL instead of the SQLite state; instance: its name among the instances."""
    from bot.app import App
    from bot.settings import Settings
    from bot.telegram.sink import TelegramSink

    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "SOKUHO_ALLOW_PRIVATE_NETWORKS": "1",
           "SOKUHO_WATCHLISTS": str(conf(tmp_path, url)), "SOKUHO_STATE": str(tmp_path / "st")}
    if database:
        env["SOKUHO_DATABASE_URL"] = database
    if instance:
        env["SOKUHO_INSTANCE"] = instance
    settings = Settings.from_env(env)
    app = await App.open(settings, parser_kind="inline")
    sink = TelegramSink(settings, app.store, lambda: app.config.watchlists)
    app.pipeline.publish = sink.publish
    now = datetime.now(timezone.utc)
    for chat, mode in CHATS.items():
        if sink.outbox.chat(chat) is None:
            sink.outbox.ensure_chat(chat, kind="private", title=None, username=None, lang="en",
                                    next_digest_at=now + timedelta(hours=8), now=now)
            sink.outbox.subscribe(chat, 0, "cuba", mode, now)
    return app, sink


def queued(sink) -> list[tuple[int, str, str]]:
    return sorted((r.chat_id, r.guid, r.kind) for r in sink.outbox.rows())


EXPECTED = sorted([(101, f"c{i}", "instant") for i in range(3)]
                  + [(102, f"c{i}", "digest") for i in range(3)])


@pytest.fixture
def crash_at():
    def arm(point: str):
        def hook(p):
            if p == point:
                raise Crash(point)
        faults.hook = hook
    yield arm
    faults.hook = None


@pytest.mark.parametrize("point", faults.POINTS)
async def test_crash_at_each_boundary_then_restart_queues_every_alert_once(
        tmp_path, feed_server, crash_at, point):
    url = feed_server.route("/news.xml", body=feed())
    app, sink = await open_app(tmp_path, url)
    try:
        crash_at(point)
        with pytest.raises(Crash):
            await app.pipeline.poll_many(app.store.feeds())
        faults.hook = None
        stored = app.store.counts()["items"]
    finally:
        await app.close()                          # what is committed is all that survives
    assert stored == 4                             # the items were committed before the crash
    app, sink = await open_app(tmp_path, url)      # restart
    try:
        if point == "published":
            assert queued(sink) == EXPECTED        # queued before the crash...
        else:
            assert queued(sink) == []              # ...or nothing at all (no half transaction)
        assert app.store.pending_count() == 3      # the marks survived the crash
        report = await app.pipeline.poll_many(app.store.feeds())
        assert report.new_items == 0               # the refetch skips the known items
        assert report.recovered == 3
        assert queued(sink) == EXPECTED            # every alert queued, exactly once
        assert app.store.pending_count() == 0
    finally:
        await app.close()
    app, sink = await open_app(tmp_path, url)      # and a further start publishes nothing more
    try:
        report = await app.pipeline.poll_many(app.store.feeds())
        assert report.recovered == 0 and queued(sink) == EXPECTED
    finally:
        await app.close()


async def test_without_a_crash_marks_are_cleared_and_nothing_is_republished(tmp_path, feed_server):
    url = feed_server.route("/news.xml", body=feed())
    app, sink = await open_app(tmp_path, url)
    try:
        report = await app.pipeline.poll_many(app.store.feeds())
        assert report.matched == 3 and report.recovered == 0
        assert queued(sink) == EXPECTED and app.store.pending_count() == 0
    finally:
        await app.close()


async def test_a_failed_publish_is_retried_next_cycle(tmp_path, feed_server):
    """The sink fails (say the disk is full while writing the outbox): the marks stay, and the
    next cycle of the same running process queues the alerts."""
    url = feed_server.route("/news.xml", body=feed())
    app, sink = await open_app(tmp_path, url)
    try:
        real = app.pipeline.publish

        async def broken(items):
            raise OSError(28, "No space left on device")
        app.pipeline.publish = broken
        report = await app.pipeline.poll_many(app.store.feeds())
        assert report.count("failed") == 1 and queued(sink) == []
        assert app.store.pending_count() == 3
        app.pipeline.publish = real
        report = await app.pipeline.poll_many(app.store.feeds())
        assert report.recovered == 3 and queued(sink) == EXPECTED
        assert app.store.pending_count() == 0
    finally:
        await app.close()


# ------------------------------------------------------------------- several instances, one store
@pytest.fixture(params=["sqlite", "postgresql"])
def shared_db(request):
    """None (both instances on the SQLite state) or a fresh PostgreSQL database's URL."""
    return None if request.param == "sqlite" else request.getfixturevalue("pg_url")


def recorder(app, log: list):
    """Wrap the app's publish: `log` gets the guids each call hands to the sinks."""
    real = app.pipeline.publish

    async def publish(items):
        log.append(sorted(s.entry.id for s in items))
        await real(items)
    app.pipeline.publish = publish
    return real


async def test_a_live_instance_does_not_republish_what_another_is_queueing(
        tmp_path, feed_server, shared_db):
    """Instance b starts a cycle (recover) while a has stored three matches and not yet queued
    their alerts: b leaves those marks to a, and every alert is queued once, by a."""
    url = feed_server.route("/news.xml", body=feed())
    a, sink = await open_app(tmp_path, url, database=shared_db, instance="a")
    b, _ = await open_app(tmp_path, url, database=shared_db, instance="b")
    try:
        by_a, by_b, seen = [], [], []
        recorder(b, by_b)
        real = a.pipeline.publish

        async def publish(items):             # a's items are committed with their marks now
            seen.append(b.store.pending_count())
            seen.append(await b.pipeline.recover())
            by_a.append(sorted(s.entry.id for s in items))
            await real(items)
        a.pipeline.publish = publish
        report = await a.pipeline.poll_many(a.store.feeds())
        assert report.matched == 3
        assert seen == [3, 0] and by_b == []     # three marks there, none of them b's to take
        assert by_a == [["c0", "c1", "c2"]] and queued(sink) == EXPECTED
        assert a.store.pending_count() == 0
    finally:
        await a.close()
        await b.close()


async def test_marks_of_an_instance_presumed_dead_are_taken_over(tmp_path, feed_server, shared_db):
    """a stores three matches but cannot queue them (its sink fails), then stops beating. b
    leaves the marks alone while a may still be alive: a recent heartbeat, or a feed lease that
    has not run out; once neither holds, b queues them (once)."""
    url = feed_server.route("/news.xml", body=feed())
    a, sink = await open_app(tmp_path, url, database=shared_db, instance="a")
    b, _ = await open_app(tmp_path, url, database=shared_db, instance="b")
    try:
        async def broken(items):
            raise OSError(28, "No space left on device")
        a.pipeline.publish = broken
        report = await a.pipeline.poll_many(a.store.feeds())
        assert report.count("failed") == 1 and a.store.pending_count() == 3
        now = datetime.now(timezone.utc)
        held = a.store.claim_feeds("a", now, 3600, unpolled_since=now + timedelta(seconds=1))
        assert len(held) == 1                                 # a holds a lease for an hour
        by_b: list = []
        recorder(b, by_b)
        assert await b.pipeline.recover() == 0                # a beat its heart just now
        b.pipeline.clock = lambda: now + timedelta(minutes=30)
        assert await b.pipeline.recover() == 0                # no heartbeat, but a's lease runs
        assert by_b == [] and queued(sink) == [] and a.store.pending_count() == 3
        b.pipeline.clock = lambda: now + timedelta(minutes=90)
        assert await b.pipeline.recover() == 3                # neither: presumed dead
        assert by_b == [["c0", "c1", "c2"]] and queued(sink) == EXPECTED
        assert a.store.pending_count() == 0
        assert await b.pipeline.recover() == 0                # and only once
    finally:
        await a.close()
        await b.close()


@pytest.mark.parametrize("how", ["stopped", "no sink"])
async def test_marks_nobody_will_queue_are_taken_over_at_once(tmp_path, feed_server, shared_db,
                                                              how):
    """Marks of an instance that has left the registry (a clean stop after its sink failed), or
    stored by a run without a sink, are for the next instance with one: at its next recover."""
    url = feed_server.route("/news.xml", body=feed())
    a, _ = await open_app(tmp_path, url, database=shared_db, instance="a")
    b, sink = await open_app(tmp_path, url, database=shared_db, instance="b")
    try:
        if how == "no sink":
            a.pipeline.publish = None
        else:
            async def broken(items):
                raise OSError(28, "No space left on device")
            a.pipeline.publish = broken
        await a.pipeline.poll_many(a.store.feeds())
        assert a.store.pending_count() == 3 and queued(sink) == []
        if how == "stopped":
            await a.close()
        assert await b.pipeline.recover() == 3
        assert queued(sink) == EXPECTED and b.store.pending_count() == 0
    finally:
        if how != "stopped":
            await a.close()
        await b.close()


# ---------------------------------------------------------------------------- real process deaths
def _env(**kw) -> dict:
    e = {k: v for k, v in os.environ.items() if not k.startswith(("SOKUHO_", "TELEGRAM_"))}
    e.update(SOKUHO_LOG_FORMAT="plain", PYTHONUNBUFFERED="1", SOKUHO_ALLOW_PRIVATE_NETWORKS="1",
             **kw)
    return e


async def test_crash_inside_the_feed_transaction_leaves_nothing_half_written(
        tmp_path, feed_server, crash_at):
    """A crash after the items, hits and marks are written but before the poll record: the one
    transaction is rolled back whole (no item, no mark, no validator), and the next poll stores
    and queues everything once. Fails if storing a feed's batch is split into several commits."""
    url = feed_server.route("/news.xml", body=feed(), etag='"v1"')
    app, sink = await open_app(tmp_path, url)
    try:
        crash_at("items_stored")
        with pytest.raises(Crash):
            await app.pipeline.poll_many(app.store.feeds())
        faults.hook = None
    finally:
        await app.close()
    app, sink = await open_app(tmp_path, url)
    try:
        counts = app.store.counts()
        assert (counts["items"], counts["matches"], app.store.pending_count()) == (0, 0, 0)
        fs = app.store.feed(url)
        assert fs.etag is None and fs.last_success_at is None and fs.items_total == 0
        report = await app.pipeline.poll_many(app.store.feeds())
        assert report.new_items == 4 and report.recovered == 0
        assert queued(sink) == EXPECTED and app.store.pending_count() == 0
        assert app.store.feed(url).etag == '"v1"'
    finally:
        await app.close()


@pytest.mark.parametrize("point", ["items_committed", "fetch_recorded"])
async def test_poll_once_killed_at_a_boundary_prints_each_alert_on_the_next_run(
        tmp_path, feed_server, point):
    """`sokuho poll --once` (console output) dies at the point; the crashed run printed no alert,
    the next run prints the three, a third run prints nothing. (Console output cannot be
    committed with the marks: a death right after printing, `published`, prints again on the
    next run: at least once. Telegram is exactly once through the outbox's unique key.)"""
    url = feed_server.route("/news.xml", body=feed())
    c = conf(tmp_path, url)
    cmd = [str(SOKUHO), "poll", "--once", "--watchlists", str(c), "--state", str(tmp_path / "st")]

    async def run(**env) -> tuple[int, str, str]:
        p = await asyncio.create_subprocess_exec(             # the feed server shares our loop
            *cmd, env=_env(**env), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = await asyncio.wait_for(p.communicate(), 120)
        return p.returncode, out.decode(), err.decode()

    def alerts(out: str) -> list[str]:
        return sorted(re.findall(r"Cuba story (\d)", out))

    rc, out, err = await run(SOKUHO_TEST_CRASH=point)
    assert rc == faults.CRASH_EXIT, err
    assert alerts(out) == []
    rc, out, err = await run()
    assert rc == 0, err
    assert alerts(out) == ["0", "1", "2"]
    rc, out, err = await run()
    assert rc == 0 and alerts(out) == [], err


async def _wait(pred, timeout: float, what: str):
    from waiting import eventually
    return await eventually(pred, timeout, what=what)


@pytest.mark.parametrize("point", ["items_committed", "outbox_half_written"])
async def test_service_killed_at_a_boundary_delivers_every_alert_once_after_restart(
        tmp_path, feed_server, point):
    """`sokuho run` with Telegram (the fake Bot API) dies at the point; the restarted service
    sends each alert to the instant chat exactly once."""
    api = await FakeBotAPI().start()
    url = feed_server.route("/news.xml", body=feed())
    c = conf(tmp_path, None)             # first run: no feed yet, so no poll is recorded
    cmd = [str(SOKUHO), "run", "--watchlists", str(c), "--state", str(tmp_path / "st")]
    env = dict(TELEGRAM_BOT_TOKEN=api.token, SOKUHO_TELEGRAM_API=api.root)
    api.message(101, "/subscribe cuba")
    api.message(101, "/mode cuba instant")
    api.message(103, "/subscribe cuba")
    api.message(103, "/mode cuba instant")
    log = open(tmp_path / "log", "w")
    procs = []
    try:
        # first run: the chats subscribe (no feed configured yet)
        p = subprocess.Popen(cmd, env=_env(**env), stdout=log, stderr=subprocess.STDOUT)
        procs.append(p)
        await _wait(lambda: sum("instant" in m.text for m in api.sent()) == 2, 60,
                    "both chats in instant mode")
        p.send_signal(signal.SIGTERM)
        await _wait(lambda: p.poll() is not None, 30, "clean stop")
        # second run: the feed is new, so due at once; the process dies at the point
        conf(tmp_path, url)
        p = subprocess.Popen(cmd, env=_env(SOKUHO_TEST_CRASH=point, **env), stdout=log,
                             stderr=subprocess.STDOUT)
        procs.append(p)
        await _wait(lambda: p.poll() is not None, 60, "the crash")
        assert p.returncode == faults.CRASH_EXIT
        assert not any("Cuba story" in m.text for m in api.sent())
        # third run: recovery
        p = subprocess.Popen(cmd, env=_env(**env), stdout=log, stderr=subprocess.STDOUT)
        procs.append(p)
        got = lambda: sorted((m.chat_id, s) for m in api.sent()  # noqa: E731
                             for s in re.findall(r"Cuba story (\d)", m.text))
        want = sorted((chat, str(i)) for chat in (101, 103) for i in range(3))
        await _wait(lambda: got() == want, 60, "every alert delivered")
        p.send_signal(signal.SIGTERM)                  # a clean stop ends every send in flight
        await _wait(lambda: p.poll() is not None, 30, "clean stop")
        assert p.returncode == 0
        assert got() == want                           # exactly once each
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        log.close()
        await api.close()


# ------------------------------------------------- marks cleared without a commit of their own
def _three_feeds(feed_server) -> list[str]:
    now = datetime.now(timezone.utc)
    return [feed_server.route(f"/f{k}.xml", body=make_rss(
        [{"title": f"Cuba story {k}{i} in Havana", "link": f"https://n.example/{k}/{i}",
          "guid": f"f{k}-{i}", "pubDate": now - timedelta(minutes=i)} for i in range(2)]))
        for k in range(3)]


def _in_turn(app, urls: list[str]) -> None:
    """Each feed is fetched once the previous one is done (its alerts queued): a fixed order."""
    done = {u: asyncio.Event() for u in urls}
    fetch = app.pipeline.fetcher.fetch

    async def fetch_in_turn(url, **kw):
        k = urls.index(url)
        if k:
            await done[urls[k - 1]].wait()
        return await fetch(url, **kw)

    app.pipeline.fetcher.fetch = fetch_in_turn
    app.pipeline.on_outcome.append(lambda out: done[out.url].set())


async def test_marks_of_queued_alerts_are_cleared_in_a_later_feed_transaction(
        tmp_path, feed_server):
    """Clearing the "to publish" marks of queued alerts joins the next feed's transaction (the
    cycle's last ones: one commit at its end), instead of a transaction per feed. Fails when each
    feed's marks get their own BEGIN/DELETE/COMMIT again."""
    urls = _three_feeds(feed_server)
    app, sink = await open_app(tmp_path, urls)
    try:
        _in_turn(app, urls)
        seen: list[str] = []
        app.store.conn.set_trace_callback(seen.append)
        report = await app.pipeline.poll_many(app.store.feeds())
        app.store.conn.set_trace_callback(None)
        assert report.matched == 6 and report.recovered == 0
        assert len(queued(sink)) == 12 and app.store.pending_count() == 0
        clears = [i for i, q in enumerate(seen) if q.startswith("DELETE FROM publish_pending")]
        alone = [i for i in clears if seen[i - 1].startswith("BEGIN") and seen[i + 1] == "COMMIT"]
        inside = [i for i in clears if any(q.startswith("INSERT INTO items") for q in seen[i:i + 9])]
        assert len(clears) == 3 and len(alone) == 1 and len(inside) == 2, seen
    finally:
        await app.close()


async def test_a_feed_transaction_rolled_back_keeps_the_marks_it_would_have_cleared(
        tmp_path, feed_server):
    """The second feed's transaction fails after the first feed's alerts were queued: clearing
    the first feed's marks was part of it and is undone, so it is done again by a later commit;
    every alert is queued exactly once and no mark is left behind (also after a restart)."""
    urls = _three_feeds(feed_server)
    app, sink = await open_app(tmp_path, urls)
    stored = []

    def hook(point):
        if point == "items_stored":
            stored.append(point)
            if len(stored) == 2:
                assert app.pipeline._queued == []       # taken into this transaction
                raise RuntimeError("disk trouble")      # a failure inside the transaction
    try:
        _in_turn(app, urls)
        faults.hook = hook
        report = await app.pipeline.poll_many(app.store.feeds())
        faults.hook = None
        assert [o.status for o in report.outcomes] == ["ok", "failed", "ok"], [o.error for o in report.outcomes]
        assert len(queued(sink)) == 8 and app.store.pending_count() == 0
        report = await app.pipeline.poll_many(app.store.feeds())
        assert report.recovered == 0 and report.new_items == 2
        assert len(queued(sink)) == 12 and app.store.pending_count() == 0
    finally:
        faults.hook = None
        await app.close()
    app, sink = await open_app(tmp_path, urls)
    try:
        report = await app.pipeline.poll_many(app.store.feeds())
        assert report.recovered == 0 and len(queued(sink)) == 12
    finally:
        await app.close()
