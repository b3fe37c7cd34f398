"""`sokuho run` as systemd runs it: a subprocess with NOTIFY_SOCKET and WATCHDOG_USEC."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

SOKUHO = Path(sys.executable).parent / "sokuho"
REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not (REPO / "bot" / "service.py").exists(),
                                reason="bot/service.py not written yet")

FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>http://x</link>
<description>d</description><item><title>Cuba news today</title><link>http://x/1</link>
<guid>g1</guid></item></channel></rss>"""


@pytest.fixture
def env(tmp_path):
    short = Path(tempfile.mkdtemp(prefix="sks", dir="/tmp"))       # AF_UNIX path length
    conf = tmp_path / "conf"
    conf.mkdir()
    shutil.copy(REPO / "watchlists" / "cuba.yaml", conf / "cuba.yaml")
    (tmp_path / "feed.xml").write_text(FEED)
    (conf / "feeds.yaml").write_text(
        f'feeds:\n  - {{name: local, url: "{tmp_path / "feed.xml"}", lang: en}}\n')
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(short / "notify"))
    sock.settimeout(30)
    e = {k: v for k, v in os.environ.items() if not k.startswith(("SOKUHO_", "TELEGRAM_"))}
    e.update(NOTIFY_SOCKET=str(short / "notify"), WATCHDOG_USEC="2000000",
             SOKUHO_LOG_FORMAT="journal", SOKUHO_ALLOW_PRIVATE_NETWORKS="1")
    yield e, sock, conf, tmp_path / "state"
    sock.close()
    shutil.rmtree(short, ignore_errors=True)


def start(e, conf, state, tmp_path):
    err = open(tmp_path / "stderr.log", "w+")
    proc = subprocess.Popen([str(SOKUHO), "run", "--watchlists", str(conf), "--state", str(state)],
                            env=e, stdout=subprocess.DEVNULL, stderr=err)
    return proc, err


def until(sock, pred, what):
    seen = []
    while True:
        try:
            msg = sock.recv(4096).decode()
        except socket.timeout:
            raise AssertionError(f"no {what}; got {seen}") from None
        seen.append(msg)
        if pred(msg):
            return seen


def test_ready_status_reload_invalid_edit_and_sigterm(env, tmp_path):
    e, sock, conf, state = env
    proc, err = start(e, conf, state, tmp_path)
    try:
        seen = until(sock, lambda m: m.startswith("READY=1"), "READY=1")
        # more start-up time is asked for before the slow part (opening the store), not after
        assert seen[0] == "EXTEND_TIMEOUT_USEC=300000000\n", seen
        until(sock, lambda m: m.startswith("STATUS=") and "1 new" in m, "cycle STATUS")
        until(sock, lambda m: m == "WATCHDOG=1\n", "watchdog ping")
        proc.send_signal(signal.SIGHUP)
        seen = until(sock, lambda m: m.startswith("READY=1"), "READY after reload")
        assert any(m.startswith("RELOADING=1\nMONOTONIC_USEC=") for m in seen)
        # invalid YAML while running: rejected, the service keeps running and pinging
        with open(conf / "cuba.yaml", "a") as f:
            f.write("\n  bad: [\n")
        until(sock, lambda m: m.startswith("READY=1"), "READY after rejected reload")
        until(sock, lambda m: m == "WATCHDOG=1\n", "watchdog ping after rejected reload")
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        until(sock, lambda m: m.startswith("STOPPING=1"), "STOPPING=1")
        until(sock, lambda m: m == "EXTEND_TIMEOUT_USEC=40000000\n", "stop time asked for")
        assert proc.wait(25) == 0                       # well within TimeoutStopSec=30s
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err.seek(0)
    log = err.read()
    assert "cuba.yaml:" in log and "<3>" in log          # file:line of the rejected edit
    db = sqlite3.connect(state / "sokuho.db")
    assert db.execute("SELECT COUNT(*) FROM items WHERE guid = 'g1'").fetchone()[0] == 1


def test_unusable_state_directory_fails_at_start(env, tmp_path):
    e, sock, conf, _ = env
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the state directory should be")
    proc, err = start(e, conf, blocker / "state", tmp_path)
    rc = proc.wait(30)
    err.seek(0)
    log = err.read()
    assert rc != 0 and str(blocker) in log
    sock.settimeout(0.5)
    msgs = []
    try:
        while True:
            msgs.append(sock.recv(4096).decode())
    except socket.timeout:
        pass
    assert not any(m.startswith("READY=1") for m in msgs)      # systemd sees a failed start
