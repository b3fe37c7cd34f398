"""sd_notify against a real AF_UNIX datagram socket, as systemd provides it in NOTIFY_SOCKET."""
from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
import time

import pytest

from bot.ops.sdnotify import Notifier, watchdog_loop


@pytest.fixture
def sock_path():
    d = tempfile.mkdtemp(prefix="sdn", dir="/tmp")      # AF_UNIX paths must stay < 108 bytes
    yield os.path.join(d, "notify")
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def receiver(sock_path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(sock_path)
    s.setblocking(False)
    yield s
    s.close()


def drain(s: socket.socket) -> list[str]:
    out = []
    while True:
        try:
            out.append(s.recv(4096).decode())
        except BlockingIOError:
            return out


def recv_one(s: socket.socket, timeout: float = 5.0) -> str:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        msgs = drain(s)
        if msgs:
            assert len(msgs) == 1, msgs
            return msgs[0]
        time.sleep(0.005)
    raise AssertionError("no datagram arrived")


def fields(msg: str) -> dict[str, str]:
    assert msg.endswith("\n")
    return dict(line.split("=", 1) for line in msg.splitlines())


def test_messages(sock_path, receiver):
    n = Notifier({"NOTIFY_SOCKET": sock_path})
    assert n.enabled and n.watchdog_interval is None
    assert n.ready()
    assert recv_one(receiver) == "READY=1\n"
    n.status("12 feeds, 3 new items\nsecond line")
    assert fields(recv_one(receiver)) == {"STATUS": "12 feeds, 3 new items second line"}
    n.reloading()
    f = fields(recv_one(receiver))
    assert f["RELOADING"] == "1"
    mono = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert 0 < mono - int(f["MONOTONIC_USEC"]) < 60_000_000      # CLOCK_MONOTONIC, in µs
    n.ready()
    assert recv_one(receiver) == "READY=1\n"
    n.stopping()
    assert fields(recv_one(receiver))["STOPPING"] == "1"
    n.extend_timeout(30)
    assert fields(recv_one(receiver)) == {"EXTEND_TIMEOUT_USEC": "30000000"}
    n.close()


def test_abstract_socket():
    name = f"sokuho-test-{os.getpid()}-{time.monotonic_ns()}"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("\0" + name)
    s.setblocking(False)
    try:
        n = Notifier({"NOTIFY_SOCKET": "@" + name})
        assert n.ready("up")
        assert fields(recv_one(s)) == {"READY": "1", "STATUS": "up"}
    finally:
        s.close()


def test_no_socket_is_a_noop():
    n = Notifier({})
    assert not n.enabled
    assert n.ready() is False and n.watchdog() is False


def test_missing_socket_does_not_raise(sock_path):
    n = Notifier({"NOTIFY_SOCKET": sock_path})           # nobody listening
    assert n.ready() is False
    assert n.status("still fine") is False


def test_watchdog_env():
    assert Notifier({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "90000000"}).watchdog_interval == 45
    own = str(os.getpid())
    assert Notifier({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "2000000",
                     "WATCHDOG_PID": own}).watchdog_interval == 1
    # WATCHDOG_PID names another process (we are a child of the service): not ours to pet
    assert Notifier({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "2000000",
                     "WATCHDOG_PID": "1"}).watchdog_interval is None
    assert Notifier({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "junk"}).watchdog_interval is None


async def _collect(s: socket.socket, seconds: float) -> list[str]:
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        out += drain(s)
        await asyncio.sleep(0.01)
    return out + drain(s)


async def test_watchdog_pings_only_while_check_passes(sock_path, receiver):
    n = Notifier({"NOTIFY_SOCKET": sock_path, "WATCHDOG_USEC": "100000"})   # ping every 50ms
    assert n.watchdog_interval == pytest.approx(0.05)
    healthy = True

    async def check():                    # an async check, like the service's loop+store ping
        return healthy

    task = asyncio.create_task(watchdog_loop(n, check))
    try:
        got = await _collect(receiver, 0.6)
        assert got.count("WATCHDOG=1\n") >= 3 and set(got) == {"WATCHDOG=1\n"}
        healthy = False
        await asyncio.sleep(0.2)          # a ping may have been in flight
        drain(receiver)
        assert await _collect(receiver, 0.6) == []
        healthy = True                    # a transient failure only skips pings
        assert "WATCHDOG=1\n" in await _collect(receiver, 0.6)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_watchdog_stops_on_raising_or_hanging_check(sock_path, receiver):
    n = Notifier({"NOTIFY_SOCKET": sock_path, "WATCHDOG_USEC": "100000"})
    mode = "ok"

    def check():                          # a sync check that can raise or hand back a hang
        if mode == "raise":
            raise RuntimeError("database is locked")
        if mode == "hang":
            return asyncio.sleep(3600, result=True)
        return True

    task = asyncio.create_task(watchdog_loop(n, check))
    try:
        assert "WATCHDOG=1\n" in await _collect(receiver, 0.4)
        for mode in ("raise", "hang"):
            await asyncio.sleep(0.25)
            drain(receiver)
            assert await _collect(receiver, 0.5) == [], mode
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_watchdog_loop_returns_when_disabled():
    await asyncio.wait_for(watchdog_loop(Notifier({}), lambda: True), 5)
    await asyncio.wait_for(watchdog_loop(Notifier({"NOTIFY_SOCKET": "/x"}), lambda: True), 5)
