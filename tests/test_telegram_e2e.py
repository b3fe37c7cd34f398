"""End to end: `sokuho run` as a subprocess, a local feed server, and the fake Bot API.

A user subscribes, matching items appear in the feed, /digest brings exactly those items; then a
round of instant alerts to many chats is interrupted by kill -9 and the restarted service
delivers every (chat, item) exactly once.
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

from fakebotapi import FakeBotAPI
from feedserver import make_rss

import bot.service  # noqa: F401  (`sokuho run` must import: an ImportError fails, never skips)

ROOT = Path(__file__).resolve().parents[1]
SOKUHO = ROOT / ".venv" / "bin" / "sokuho"
WL = """\
# e2e watchlist
name: venezuela
title: {en: Venezuela, ja: ベネズエラ}
aliases:
  en: [Maduro]
"""


def rss(n_match: int, prefix: str = "Maduro") -> bytes:
    now = datetime.now(timezone.utc)
    items = [{"title": f"{prefix} story {i} <&>", "link": f"https://news.example/{prefix}/{i}",
              "guid": f"{prefix}-{i}", "pubDate": now - timedelta(minutes=i)}
             for i in range(n_match)]
    items.append({"title": "Weather in Osaka", "link": "https://news.example/w",
                  "guid": "weather", "pubDate": now})
    return make_rss(items)


async def wait_exit(p: subprocess.Popen, timeout: float) -> bool:
    """Wait without blocking the loop (the fake Bot API runs on it)."""
    for _ in range(int(timeout * 20)):
        if p.poll() is not None:
            return True
        await asyncio.sleep(0.05)
    return False


def start_service(tmp: Path, api: FakeBotAPI, log) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOKUHO_")}
    env.update(TELEGRAM_BOT_TOKEN=api.token, SOKUHO_TELEGRAM_API=api.root,
               SOKUHO_LOG_FORMAT="plain", PYTHONUNBUFFERED="1",
               SOKUHO_ALLOW_PRIVATE_NETWORKS="1")      # the feed server is on 127.0.0.1
    exe = [str(SOKUHO)] if SOKUHO.exists() else [sys.executable, "-m", "bot.cli"]
    return subprocess.Popen(exe + ["run", "--debug", "--state", str(tmp / "state"),
                                   "--watchlists", str(tmp / "wl")],
                            cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)


async def test_subscribe_digest_then_kill9_restart_exactly_once(tmp_path, feed_server):
    api = await FakeBotAPI().start()
    (tmp_path / "wl").mkdir()
    (tmp_path / "wl" / "venezuela.yaml").write_text(WL, encoding="utf-8")
    chats = list(range(201, 221))                  # 20 private chats
    feed_server.route("/vz.xml", body=rss(0), delay=3.0)
    (tmp_path / "wl" / "feeds.yaml").write_text(
        f"feeds:\n  - name: Local News\n    url: {feed_server.url('/vz.xml')}\n"
        "    interval: 30s\n", encoding="utf-8")
    # the subscriptions are waiting in getUpdates before the service starts; the first feed
    # poll answers after 3 s, so the items arrive after the subscriptions (publish path)
    feed_server.route("/vz.xml", body=rss(3), delay=3.0)
    api.message(201, "/subscribe venezuela")
    for c in chats[1:]:
        api.message(c, "/subscribe venezuela")
        api.message(c, "/mode venezuela instant")
    logf = open(tmp_path / "service.log", "wb")
    proc = start_service(tmp_path, api, logf)
    proc2 = None
    try:
        await api.wait_for(lambda: len([c for c in api.calls_of("sendMessage")
                                        if "instant" in c.text and c.status == 200]) == 19,
                           timeout=30)
        await api.wait_for(lambda: sum("Maduro story" in c.text for c in api.sent()) >= 10,
                           timeout=30)
        # pause the round: every further send gets 429 retry_after 3, then kill -9 mid-round
        api.fail("sendMessage", retry_after=3, times=10**6)
        await asyncio.sleep(1.0)
        proc.send_signal(signal.SIGKILL)
        await wait_exit(proc, 10)
        api._failures.clear()
        delivered_before = sum("Maduro story" in c.text for c in api.sent())
        assert delivered_before < 3 * 19                       # really mid-round
        proc2 = start_service(tmp_path, api, logf)
        expected = {(c, i) for c in chats[1:] for i in range(3)}
        got = lambda: [(c.chat_id, int(m)) for c in api.sent() if c.chat_id != 201  # noqa: E731
                       for m in re.findall(r"Maduro story (\d)", c.text)]
        await api.wait_for(lambda: set(got()) == expected, timeout=60)
        # the digest user: /digest brings exactly the 3 matching items, escaped, once
        api.message(201, "/digest")
        await api.wait_for(lambda: any("Digest" in c.text for c in api.sent(201)), timeout=20)
        digest = next(c for c in api.sent(201) if "Digest" in c.text)
        assert sorted(re.findall(r"Maduro story (\d)", digest.text)) == ["0", "1", "2"]
        assert digest.text.count("<a href=") == 3
        assert "Weather" not in digest.text
        # a clean stop ends every send in flight: after it, nothing more can arrive
        proc2.send_signal(signal.SIGTERM)
        assert await wait_exit(proc2, 30), "the service did not stop on SIGTERM"
        assert proc2.returncode == 0
        assert sorted(got()) == sorted(expected)               # exactly once each
        assert sum("Digest" in c.text for c in api.sent(201)) == 1
    finally:
        for p in (proc, proc2):
            if p and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                if not await wait_exit(p, 20):
                    p.kill()
        logf.close()
        await api.close()
    log = (tmp_path / "service.log").read_text(encoding="utf-8", errors="replace")
    assert api.token.split(":")[1] not in log
