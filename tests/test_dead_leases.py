"""Feed leases of a killed process: a `poll --once` (or service) killed mid-cycle leaves its feeds
leased for SOKUHO_LEASE; the next start on the same host gives back the leases of every
registered instance of this host whose process is gone (or whose pid now belongs to another
process), so a cron run right after polls them. Instances of other hosts (PostgreSQL) and live
processes keep theirs."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from feedserver import make_rss
from waiting import eventually

from bot.adapters import procs
from bot.adapters.store import Store
from bot.core.watchlist import Feed

ROOT = Path(__file__).resolve().parents[1]
SOKUHO = ROOT / ".venv" / "bin" / "sokuho"
HOST = socket.gethostname()


def _exe() -> list[str]:
    return [str(SOKUHO)] if SOKUHO.exists() else [sys.executable, "-m", "bot.cli"]


def _target(database) -> list[str]:
    if isinstance(database, Path):
        return ["--state", str(database.parent)]
    return ["--database-url", database]


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])


# --- the decision --------------------------------------------------------------------------------

def test_identity_tells_a_live_process_from_a_dead_one_and_from_a_reused_pid():
    p = _sleeper()
    try:
        ident = procs.identity(p.pid)
        assert ident and ident != procs.identity()           # start times differ
        now = datetime.now(timezone.utc)
        assert not procs.is_dead(p.pid, ident, now)
        boot, ticks = ident.rsplit(":", 1)
        assert procs.is_dead(p.pid, f"{boot}:{int(ticks) + 1}", now)     # the pid, reused
        assert procs.is_dead(p.pid, f"another-boot:{ticks}", now)        # after a reboot
        # a row without identity: a process started long after the registration is another one
        assert procs.is_dead(p.pid, "", now - timedelta(hours=1))
        assert not procs.is_dead(p.pid, "", now)
    finally:
        p.kill()
    p.wait()
    assert procs.is_dead(p.pid, ident, datetime.now(timezone.utc))         # reaped: no pid


def test_a_killed_but_unreaped_process_counts_as_dead():
    p = _sleeper()
    ident = procs.identity(p.pid)
    p.send_signal(signal.SIGKILL)
    try:
        # a zombie until waited for: the pid still exists
        import time
        deadline = time.monotonic() + 10
        while (procs._stat(p.pid) or ("?",))[0] != "Z":
            assert time.monotonic() < deadline, "the killed process never became a zombie"
            time.sleep(0.01)
        assert procs.is_dead(p.pid, ident, datetime.now(timezone.utc))
    finally:
        p.wait()


def test_reclaim_releases_only_dead_instances_of_this_host(database):
    now = datetime.now(timezone.utc)
    live = _sleeper()
    gone = _sleeper()
    gone_ident = procs.identity(gone.pid)
    gone.kill()
    gone.wait()
    rows = {   # name: (host, pid, proc, registered at)
        "dead": (HOST, gone.pid, gone_ident, now),
        "reused-pid": (HOST, live.pid, procs.identity(live.pid).rsplit(":", 1)[0] + ":1", now),
        "old-row-reused": (HOST, live.pid, "", now - timedelta(hours=2)),
        "alive": (HOST, live.pid, procs.identity(live.pid), now),
        "old-row-alive": (HOST, live.pid, "", now),
        "me": (HOST, os.getpid(), procs.identity(), now),
        "other-host": ("some-other-host", gone.pid, gone_ident, now),
    }
    try:
        with Store.open(database) as s:
            s.sync_feeds([Feed(name=f"f{i}", url=f"https://f{i}.example/rss")
                          for i in range(len(rows) + 1)], 300.0, now)
            for name, (host, pid, proc, at) in rows.items():
                s.register_instance(name, host=host, pid=pid, command="poll", now=at, proc=proc)
                assert len(s.claim_feeds(name, now, 120.0, limit=1)) == 1
            released = s.reclaim_dead(HOST, procs.is_dead)
            assert released == {"dead": 1, "reused-pid": 1, "old-row-reused": 1}
            assert set(s.leases()) == {"alive", "old-row-alive", "me", "other-host"}
            assert {i["name"] for i in s.instances()} == set(s.leases())
            # the released feeds are claimable now, long before the leases would have expired
            assert len(s.claim_feeds("next", now + timedelta(seconds=1), 120.0)) == 4
    finally:
        live.kill()
        live.wait()


def test_an_instance_registered_again_meanwhile_is_kept(database):
    """The row is deleted only as it was seen dead: a new process that took the name (same
    --instance) between the check and the delete keeps its registration and leases."""
    now = datetime.now(timezone.utc)
    with Store.open(database) as s:
        s.sync_feeds([Feed(name="f", url="https://f.example/rss")], 300.0, now)
        s.register_instance("svc", host=HOST, pid=999_999_999, command="run", now=now, proc="x:1")

        def dead_then_restarted(pid, proc, started):
            s.register_instance("svc", host=HOST, pid=os.getpid(), command="run",
                                now=now + timedelta(seconds=1), proc=procs.identity())
            s.claim_feeds("svc", now, 120.0)
            return True
        assert s.reclaim_dead(HOST, dead_then_restarted) == {}
        assert s.leases()["svc"][0] == 1 and [i["pid"] for i in s.instances()] == [os.getpid()]


# --- a real `poll --once`, killed mid-cycle ----------------------------------------------------

async def test_poll_once_killed_mid_cycle_leaves_no_leases_for_the_next_run(
        database, feed_server, tmp_path):
    now = datetime.now(timezone.utc)
    paths = [f"/held{i}.xml" for i in range(3)]
    for i, p in enumerate(paths):
        feed_server.route(p, body=make_rss([{
            "title": f"Story {i}", "link": f"https://news.example/{i}", "guid": f"g{i}",
            "pubDate": now - timedelta(minutes=1)}]))
    # held: no answer until `release` (the first run is killed while it waits for them)
    release, respond = asyncio.Event(), feed_server._respond

    async def held(request):
        await release.wait()
        return await respond(request)
    feed_server._respond = held
    wl = tmp_path / "wl"
    wl.mkdir()
    (wl / "cuba.yaml").write_text("name: cuba\naliases:\n  en: [Cuba]\n", encoding="utf-8")
    (wl / "feeds.yaml").write_text("feeds:\n" + "".join(
        f"  - {{name: h{i}, url: '{feed_server.url(p)}', lang: en}}\n"
        for i, p in enumerate(paths)), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOKUHO_", "TELEGRAM_"))}
    env.update(SOKUHO_ALLOW_PRIVATE_NETWORKS="1", SOKUHO_MAX_AGE="0")   # lease: the default 2 min
    cmd = _exe() + ["poll", "--once", "--quiet", "--watchlists", str(wl), *_target(database)]
    first = await asyncio.create_subprocess_exec(*cmd, cwd=tmp_path, env=env,
                                                 stdout=asyncio.subprocess.DEVNULL,
                                                 stderr=asyncio.subprocess.DEVNULL)
    try:
        # mid-cycle: every feed requested (so claimed) and none answered
        await eventually(lambda: all(feed_server.requests_for(p) for p in paths), timeout=60,
                         what="the first run never fetched every feed")
        with Store.open(database) as s:
            held = s.leases()
            registered = {i["name"]: i for i in s.instances()}
        assert [n for n, (k, _) in held.items() if k == len(paths)] == [f"{HOST}:{first.pid}"]
        assert registered[f"{HOST}:{first.pid}"]["proc"] == procs.identity(first.pid)
    finally:
        first.send_signal(signal.SIGKILL)
        await asyncio.wait_for(first.wait(), 30)
    release.set()
    second = await asyncio.create_subprocess_exec(*cmd, cwd=tmp_path, env=env,
                                                  stdout=asyncio.subprocess.PIPE,
                                                  stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(second.communicate(), 90)
    assert second.returncode == 0, err.decode()[-2000:]
    # well within the 2-minute lease: the next run polled every feed the killed one held
    assert [len(feed_server.requests_for(p)) for p in paths] == [2] * len(paths), out.decode()
    assert f"{HOST}:{first.pid}" in err.decode() and "no longer running" in err.decode()
    with Store.open(database) as s:
        assert s.leases() == {}
        assert s.instances() == []


# --- a running service: a sibling killed while it runs -------------------------------------------

async def test_a_running_service_takes_back_the_leases_of_a_sibling_killed_meanwhile(tmp_path):
    """App.open reclaims at start; a service running for days must also notice a `poll --once`
    of this host killed beside it, not poll that one's feeds only after the lease expires."""
    from bot.app import App
    from bot.service import Service
    from bot.settings import Settings
    wl = tmp_path / "wl"
    wl.mkdir()
    (wl / "cuba.yaml").write_text("name: cuba\naliases:\n  en: [Cuba]\n", encoding="utf-8")
    (tmp_path / "f.xml").write_bytes(make_rss([{"title": "Cuba story", "guid": "1"}]))
    (wl / "feeds.yaml").write_text(f"feeds:\n  - {{name: f, url: '{tmp_path / 'f.xml'}'}}\n")
    svc = Service(Settings(watchlists=wl, state=tmp_path / "st"))
    svc.app = await App.open(svc.settings, parser_kind="inline")
    svc.sink = type("S", (), {"notify_admins": staticmethod(lambda t: asyncio.sleep(0))})()
    try:
        gone = _sleeper()
        ident = procs.identity(gone.pid)
        gone.kill()
        gone.wait()
        now = datetime.now(timezone.utc)
        store = svc.app.store
        store.register_instance("killed", host=HOST, pid=gone.pid, command="poll", now=now,
                                proc=ident)
        assert len(store.claim_feeds("killed", now, 3600.0)) == 1       # held for an hour
        await svc._cycle()
        assert svc.last_cycle is not None and svc.last_cycle.count("ok") == 1
        assert "killed" not in store.leases()
        assert "killed" not in {i["name"] for i in store.instances()}
    finally:
        await svc.app.close()
