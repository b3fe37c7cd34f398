"""`sokuho run` under faults: SIGTERM mid-cycle, SIGHUP storm, a watchlist deleted while running,
a locked database at start, clock jumps. Nothing stored is lost in any of them."""
from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

try:
    from tests.feedserver import make_rss
except ImportError:  # pragma: no cover
    from feedserver import make_rss

REPO = Path(__file__).resolve().parent.parent
SOKUHO = Path(sys.executable).parent / "sokuho"
CUBA = "name: cuba\naliases:\n  en: [Cuba, Havana]\n"
GREEN = "name: greenland\naliases:\n  en: [Greenland, Nuuk]\n"


def rss(prefix, n, word="Cuba"):
    return make_rss([{"title": f"{word} story {prefix}{i} number {i * 7919}",
                      "link": f"https://n.example/{prefix}/{i}", "guid": f"{prefix}{i}"}
                     for i in range(n)])


def setup_conf(tmp_path, feeds: dict[str, str]) -> Path:
    conf = tmp_path / "conf"
    conf.mkdir(exist_ok=True)
    (conf / "cuba.yaml").write_text(CUBA)
    (conf / "greenland.yaml").write_text(GREEN)
    (conf / "feeds.yaml").write_text(
        "feeds:\n" + "".join(f"  - {{name: {n}, url: '{u}', lang: en}}\n" for n, u in feeds.items()))
    return conf


def env():
    e = {k: v for k, v in os.environ.items() if not k.startswith(("SOKUHO_", "TELEGRAM_", "NOTIFY_"))}
    e["SOKUHO_LOG_FORMAT"] = "plain"
    e["SOKUHO_ALLOW_PRIVATE_NETWORKS"] = "1"       # the test feed servers are on 127.0.0.1
    return e


_procs: list = []


async def start(conf, state, log):
    proc = await asyncio.create_subprocess_exec(
        str(SOKUHO), "run", "--watchlists", str(conf), "--state", str(state),
        stdout=asyncio.subprocess.DEVNULL, stderr=open(log, "w"), env=env())
    _procs.append(proc)
    return proc


@pytest.fixture(autouse=True)
def _no_leftover_services():
    """A failing assertion must not leave a `sokuho run` behind."""
    yield
    while _procs:
        p = _procs.pop()
        if p.returncode is None:
            try:
                p.kill()
            except ProcessLookupError:
                pass


async def wait_for(pred, timeout=30.0, what="condition"):
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if pred():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def stored_guids(state: Path) -> set[str]:
    con = sqlite3.connect(f"file:{state / 'sokuho.db'}?mode=ro", uri=True)
    try:
        return {r[0] for r in con.execute("select guid from items")}
    finally:
        con.close()


async def test_sigterm_during_a_cycle_exits_cleanly_and_keeps_committed_items(feed_server, tmp_path):
    fast = feed_server.route("/fast.xml", body=rss("f", 30))
    slow = feed_server.route("/slow.xml", body=rss("s", 5), delay=20)
    conf, state, log = setup_conf(tmp_path, {"fast": fast, "slow": slow}), tmp_path / "st", tmp_path / "log"
    proc = await start(conf, state, log)
    await wait_for(lambda: feed_server.requests_for("/slow.xml") and (state / "sokuho.db").exists()
                   and len(stored_guids(state)) == 30, what="fast feed stored, slow feed in flight")
    proc.send_signal(signal.SIGTERM)
    rc = await asyncio.wait_for(proc.wait(), 25)
    assert rc == 0, log.read_text()
    assert stored_guids(state) == {f"f{i}" for i in range(30)}
    assert "stopped" in log.read_text()
    # restart: nothing lost, nothing duplicated, the slow feed is polled again
    feed_server.route("/slow.xml", body=rss("s", 5))
    proc = await start(conf, state, log)
    await wait_for(lambda: len(stored_guids(state)) == 35, what="slow feed after restart")
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 25) == 0


async def test_sighup_storm_collapses_and_service_survives(feed_server, tmp_path):
    """SIGHUP is wired to reload and a storm of them neither kills nor wedges the service. (How
    many reloads a storm collapses into is asserted without timing in the next test.)"""
    url = feed_server.route("/a.xml", body=rss("a", 3))
    conf, state, log = setup_conf(tmp_path, {"a": url}), tmp_path / "st", tmp_path / "log"
    proc = await start(conf, state, log)
    await wait_for(lambda: "cycle:" in log.read_text(), what="first cycle")
    for _ in range(60):
        proc.send_signal(signal.SIGHUP)
        await asyncio.sleep(0.005)
    await wait_for(lambda: log.read_text().count("reload:") >= 1, what="a reload")
    assert proc.returncode is None                 # still running
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 25) == 0
    reloads = log.read_text().count("configuration reloaded (no changes)")
    assert 1 <= reloads <= 4, reloads              # 60 signals, a handful of reloads
    assert len(stored_guids(state)) == 3


async def test_reload_storm_collapses_into_a_few_reloads(tmp_path):
    """60 reload requests (what SIGHUP and file edits call) spread over a while collapse: the
    test waits for the reload task itself to finish, then counts the reloads that ran."""
    from bot.adapters.console import ConsoleSink
    from bot.app import App
    from bot.service import RELOAD_SETTLE, Service
    from bot.settings import Settings

    svc = Service(Settings(watchlists=setup_conf(tmp_path, {}), state=tmp_path / "st"))
    svc.app = await App.open(svc.settings, parser_kind="inline")
    svc.sink = ConsoleSink()
    try:
        tasks = []
        for _ in range(60):
            tasks.append(svc.request_reload())
            await asyncio.sleep(RELOAD_SETTLE / 20)      # 60 requests over ~3 settle periods
        await asyncio.wait_for(asyncio.gather(*set(tasks)), 60)
        ok = svc.metrics.config_reloads.labels(status="ok")._value.get()
        assert 1 <= ok <= 5, ok                              # not 60
        assert not svc._reload_pending
        before = ok
        await asyncio.wait_for(svc.request_reload(), 30)     # a later request reloads again
        assert svc.metrics.config_reloads.labels(status="ok")._value.get() == before + 1
    finally:
        await svc.app.close()


async def test_watchlist_deleted_or_broken_while_running(feed_server, tmp_path):
    url = feed_server.route("/a.xml", body=rss("a", 2))
    conf, state, log = setup_conf(tmp_path, {"a": url}), tmp_path / "st", tmp_path / "log"
    proc = await start(conf, state, log)
    try:
        await wait_for(lambda: "cycle:" in log.read_text(), what="first cycle")
        (conf / "greenland.yaml").unlink()
        await wait_for(lambda: "watchlist removed: greenland" in log.read_text(), what="removal logged")
        (conf / "cuba.yaml").write_text("name: cuba\naliases: {en: [Cuba]\n")   # broken YAML
        await wait_for(lambda: "configuration change rejected" in log.read_text(), what="rejection")
        text = log.read_text()
        assert f"{conf / 'cuba.yaml'}:" in text and "invalid YAML" in text
        assert proc.returncode is None
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 25) == 0
    assert len(stored_guids(state)) == 2


def test_locked_database_at_start_is_a_clear_error(tmp_path):
    conf = setup_conf(tmp_path, {})
    state = tmp_path / "st"
    subprocess.run([str(SOKUHO), "check", "--watchlists", str(conf)], check=True, env=env(),
                   capture_output=True)
    # create the database, then hold an exclusive lock on it from another process
    from bot.adapters.store import Store
    Store.open(state / "sokuho.db").close()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1], isolation_level=None);"
        "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(60)"),
        str(state / "sokuho.db")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        r = subprocess.run([str(SOKUHO), "run", "--watchlists", str(conf), "--state", str(state)],
                           env=env(), capture_output=True, text=True, timeout=60)
        assert r.returncode == 3
        assert "locked" in r.stderr and str(state / "sokuho.db") in r.stderr
    finally:
        holder.kill()
        holder.wait()


def test_unwritable_state_location_is_a_clear_error(tmp_path):
    conf = setup_conf(tmp_path, {})
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    r = subprocess.run([str(SOKUHO), "run", "--watchlists", str(conf), "--state", str(blocker / "st")],
                       env=env(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 3 and str(blocker) in r.stderr


async def test_clock_jumps_reschedule_polls(tmp_path):
    """A clock set back must not leave feeds waiting for a next-poll time computed before the
    jump (the handler that reacts to a detected jump is tested in the next test)."""
    from bot.service import MAX_FUTURE, Service
    from bot.settings import Settings

    conf = setup_conf(tmp_path, {"a": str(tmp_path / "a.xml"), "b": str(tmp_path / "b.xml")})
    svc = Service(Settings(watchlists=conf, state=tmp_path / "st", allow_private_networks=True))
    from bot.app import App
    svc.app = await App.open(svc.settings, parser_kind="inline")
    try:
        now = datetime.now(timezone.utc)
        a, b = svc.app.store.feeds()
        svc.app.store.record_fetch(a.url, status="ok", next_poll_at=now + timedelta(minutes=4), now=now)
        svc.app.store.record_fetch(b.url, status="ok",
                                   next_poll_at=now + timedelta(seconds=MAX_FUTURE + 3600), now=now)
        assert [f.url for f in svc.due(now)] == [b.url]     # b's time predates a backwards jump
        assert len(svc.due(now + timedelta(minutes=5))) == 2
    finally:
        await svc.app.close()


async def test_clock_jump_runs_the_poll_job_at_once(tmp_path):
    """The real handler: a wall-clock step detected by the guard moves the scheduler's poll job
    to now, so a cycle starts long before its regular next run."""
    from bot.adapters.console import ConsoleSink
    from bot.app import App
    from bot.service import TICK, Service
    from bot.settings import Settings

    conf = setup_conf(tmp_path, {"a": str(tmp_path / "a.xml")})
    svc = Service(Settings(watchlists=conf, state=tmp_path / "st"))
    svc.app = await App.open(svc.settings, parser_kind="inline")
    svc.sink = ConsoleSink()
    runs = []
    real_cycle = svc._cycle

    async def counted_cycle():                 # counts runs of the poll job; the job is real
        runs.append(datetime.now(timezone.utc))
        await real_cycle()
    svc._cycle = counted_cycle
    offset = {"v": 0.0}
    try:
        svc._start_background()
        await wait_for(lambda: len(runs) == 1, what="the first poll")
        regular = svc.scheduler.get_job("poll").next_run_time
        assert (regular - runs[0]).total_seconds() > TICK - 1
        reads = []

        def wall():
            reads.append(1)
            return time.time() + offset["v"]
        guard = svc._spawn(svc._clock_guard(period=0.05, tolerance=30, wall=wall))
        await wait_for(lambda: len(reads) >= 2, what="the guard's first readings")
        assert len(runs) == 1                               # no jump, no extra poll
        offset["v"] = -3600.0                               # NTP steps the clock back an hour
        await wait_for(lambda: len(runs) == 2, what="the rescheduled poll")
        assert runs[1] < regular                            # not the regular tick
        guard.cancel()
    finally:
        await svc._shutdown()


def _in_mount_ns(script: str) -> subprocess.CompletedProcess:
    """Run `script` in a private mount namespace (mounts vanish with it)."""
    return subprocess.run(["unshare", "-m", "sh", "-ec", script], capture_output=True, text=True,
                          timeout=120, env=env())


def _can_mount() -> bool:
    import shutil
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    r = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs tmpfs /mnt"],
                       capture_output=True)
    return r.returncode == 0


needs_mount = pytest.mark.skipif(not _can_mount(),
                                 reason="needs root and mount namespaces (unshare -m)")


@needs_mount
@pytest.mark.parametrize("case", ["full", "readonly"])
def test_full_or_read_only_state_disk_at_start(tmp_path, case):
    conf = setup_conf(tmp_path, {})
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if case == "full":
        prepare = (f"mount -t tmpfs -o size=256k tmpfs {mnt}\n"
                   f"head -c 250000 /dev/zero > {mnt}/filler || true\n")
        words = "is full"
    else:
        prepare = (f"mount -t tmpfs -o size=1m tmpfs {mnt}\nmkdir {mnt}/st\n"
                   f"mount -o remount,ro {mnt}\n")
        words = "read-only"
    r = _in_mount_ns(prepare + f"{SOKUHO} run --watchlists {conf} --state {mnt}/st || echo exit=$?")
    assert "exit=3" in r.stdout, (r.stdout, r.stderr)
    assert words in r.stderr and f"{mnt}/st" in r.stderr


async def test_disk_filling_up_while_running_loses_nothing_committed(feed_server, tmp_path, caplog):
    """The state disk fills up mid-run (SQLite's page limit stands in for the disk): the poll fails
    with a clear log line naming the feed, the batch is not half-stored, the feed keeps its old
    validators and is retried, and everything committed before is intact."""
    from bot.app import App
    from bot.settings import Settings

    url = feed_server.route("/a.xml", body=rss("a", 5))
    conf = setup_conf(tmp_path, {"a": url})
    app = await App.open(Settings(watchlists=conf, state=tmp_path / "st",
                                  allow_private_networks=True), parser_kind="inline")
    try:
        feeds = app.store.feeds()
        await app.pipeline.poll_many(feeds)
        assert app.store.counts()["items"] == 5
        pages = app.store.conn.execute("PRAGMA page_count").fetchone()[0]
        app.store.conn.execute(f"PRAGMA max_page_count = {pages}")        # the disk is now full
        feed_server.route("/a.xml", body=rss("b", 400))
        r = await app.pipeline.poll_many(app.store.feeds())
        assert r.count("failed") == 1 and "full" in (r.outcomes[0].error or "")
        assert url in caplog.text
        app.store.conn.execute("PRAGMA max_page_count = 1073741823")     # space again
        assert app.store.counts()["items"] == 5                          # nothing half-stored
        r = await app.pipeline.poll_many(app.store.feeds())
        assert r.count("ok") == 1 and app.store.counts()["items"] == 405
    finally:
        await app.close()


@needs_mount
def test_real_enospc_during_a_cycle_and_a_backup(tmp_path):
    """The state directory is a 2 MiB tmpfs (a private mount namespace) that really fills up:
    - a poll cycle whose batch no longer fits (the WAL cannot grow) fails with a clear error
      naming the feed and the full disk, stores nothing of the batch, and the items committed
      before stay; once space is back the next cycle stores the whole batch;
    - `sokuho backup` onto the full disk (its copy uses a rollback journal) fails clearly and
      leaves no partial file behind."""
    feed = tmp_path / "news.xml"
    feed.write_bytes(rss("a", 5))
    conf = setup_conf(tmp_path, {"news": str(feed)})
    big = tmp_path / "big.xml"
    big.write_bytes(make_rss([{"title": f"Cuba story b{i} number {i * 7919}",
                               "link": f"https://n.example/b/{i}", "guid": f"b{i}",
                               "description": f"paragraph {i} " + "lorem ipsum " * 150}
                              for i in range(300)]))
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    st = f"{mnt}/st"
    poll = f"{SOKUHO} poll --once --quiet --watchlists {conf} --state {st}"
    count = (f"{sys.executable} -c \"import sqlite3,sys; print(sqlite3.connect('file:'+sys.argv[1]"
             f"+'?mode=ro', uri=True).execute('select count(*) from items').fetchone()[0])\" "
             f"{st}/sokuho.db")
    fill = f"head -c 4000000 /dev/zero > {mnt}/filler 2>/dev/null || true"
    # leave ~160 KiB: enough to open the store and record the fetch, not for the batch
    nearly = (f"head -c $(( ($(df --output=avail -k {mnt} | tail -1) - 160) * 1024 )) "
              f"/dev/zero > {mnt}/filler")
    r = _in_mount_ns(f"""
mount -t tmpfs -o size=2m tmpfs {mnt}
{poll} >/dev/null; echo "first=$?"
echo "items1=$({count})"
{nearly}
cp {big} {feed}
{poll} >/dev/null || echo "second=$?"
echo "items2=$({count})"
rm {mnt}/filler
{poll} >/dev/null; echo "third=$?"
echo "items3=$({count})"
{fill}
{SOKUHO} backup --state {st} {mnt}/copy.db || echo "backup=$?"
echo "left=$(ls -A {mnt} | grep -v -e '^st$' -e '^filler$' | tr '\\n' ' ')"
""")
    out = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    assert out.get("first") == "0" and out.get("items1") == "5", (r.stdout, r.stderr)
    assert out.get("second") == "1", (r.stdout, r.stderr[-3000:])  # the only feed failed
    assert any(str(feed) in line and "full" in line for line in r.stderr.splitlines()), r.stderr
    assert out.get("items2") == "5"                                # nothing half-stored
    assert out.get("third") == "0" and out.get("items3") == "305", (r.stdout, r.stderr)
    assert out.get("backup") == "1" and "sokuho backup:" in r.stderr and "full" in r.stderr.split(
        "sokuho backup:")[-1]
    assert out.get("left", "").strip() == ""                       # no partial copy left
