"""Two `sokuho run` on one PostgreSQL database with the fake Bot API: the leader is killed -9
in the middle of a poll cycle and of a delivery round; the survivor takes over its feeds (when
their leases expire), the outbox and getUpdates, and every alert reaches every subscribed chat
exactly once."""
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
from test_telegram_e2e import wait_exit
from waiting import eventually

from bot.adapters.store import Store

ROOT = Path(__file__).resolve().parents[1]
SOKUHO = ROOT / ".venv" / "bin" / "sokuho"
WL = "name: venezuela\ntitle: {en: Venezuela}\naliases:\n  en: [Maduro]\n"


def feed(keys: list[str]) -> bytes:
    now = datetime.now(timezone.utc)
    return make_rss([{"title": f"Maduro story {k}", "link": f"https://news.example/{k}",
                      "guid": k, "pubDate": now - timedelta(minutes=1)} for k in keys])


def start(tmp: Path, name: str, api: FakeBotAPI, url: str, log) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOKUHO_", "TELEGRAM_"))}
    env.update(TELEGRAM_BOT_TOKEN=api.token, SOKUHO_TELEGRAM_API=api.root,
               SOKUHO_DATABASE_URL=url, SOKUHO_LEASE="4s", SOKUHO_LOG_FORMAT="plain",
               SOKUHO_ALLOW_PRIVATE_NETWORKS="1",       # the feed server is on 127.0.0.1
               PYTHONUNBUFFERED="1")
    exe = [str(SOKUHO)] if SOKUHO.exists() else [sys.executable, "-m", "bot.cli"]
    return subprocess.Popen(exe + ["run", "--debug", "--instance", name, "--state",
                                   str(tmp / name), "--watchlists", str(tmp / "wl")],
                            cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)


async def test_two_services_leader_killed_mid_cycle_and_mid_delivery(tmp_path, feed_server,
                                                                     pg_url):
    api = await FakeBotAPI().start()
    (tmp_path / "wl").mkdir()
    (tmp_path / "wl" / "venezuela.yaml").write_text(WL, encoding="utf-8")
    fast = {f"/fast{i}.xml": [f"F{i}{j}" for j in range(2)] for i in range(3)}
    slow = {f"/slow{i}.xml": [f"S{i}{j}" for j in range(2)] for i in range(2)}
    # the fast feeds answer after the subscriptions are in; the slow ones are still in flight
    # when the first instance is killed
    for path, keys in fast.items():
        feed_server.route(path, body=feed(keys), delay=3.0)
    for path, keys in slow.items():
        feed_server.route(path, body=feed(keys), delay=30.0)
    (tmp_path / "wl" / "feeds.yaml").write_text("feeds:\n" + "".join(
        f"  - {{name: {p.strip('/')}, url: '{feed_server.url(p)}', interval: 30s}}\n"
        for p in [*fast, *slow]), encoding="utf-8")
    chats = list(range(301, 309))
    for c in chats:
        api.message(c, "/subscribe venezuela")
        api.message(c, "/mode venezuela instant")
    logs = {n: open(tmp_path / f"{n}.log", "wb") for n in ("one", "two")}
    one = start(tmp_path, "one", api, pg_url, logs["one"])
    two = None
    items = [k for keys in [*fast.values(), *slow.values()] for k in keys]
    expected = {(c, k) for c in chats for k in items}

    def got():
        return [(c.chat_id, k) for c in api.sent() if c.chat_id in chats
                for k in re.findall(r"Maduro story ([FS]\d\d)", c.text)]
    try:
        # `one` alone: it leads (getUpdates answered) and holds every feed's lease
        await api.wait_for(lambda: len(api.calls_of("getUpdates")) > 0, timeout=30)
        await api.wait_for(lambda: all(feed_server.requests_for(p) for p in slow), timeout=30)
        two = start(tmp_path, "two", api, pg_url, logs["two"])
        # `two` is up (registered: it polls and can take over) before `one` is killed; on a
        # loaded machine its start-up takes longer than `one`'s first deliveries
        with Store.open(pg_url) as s:
            await eventually(lambda: "two" in {i["name"] for i in s.instances()}, 60, 0.1,
                             what=lambda: f"instances: {s.instances()}")
        await api.wait_for(lambda: sum(1 for _ in got()) >= 8, timeout=40)
        # pause the round (every send gets 429 retry_after 3), then kill -9 the leader
        api.fail("sendMessage", retry_after=3, times=10**6)
        await asyncio.sleep(1.0)
        with Store.open(pg_url) as s:
            held = s.leases()
            names = {i["name"]: i for i in s.instances()}
        assert held.get("one", (0,))[0] == len(slow), held       # mid-cycle: slow polls
        assert set(names) == {"one", "two"} and "telegram" not in names["two"]["roles"]
        one.send_signal(signal.SIGKILL)
        await wait_exit(one, 10)
        api._failures.clear()
        before = set(got())
        assert 8 <= len(before) < len(expected)                  # mid-delivery
        for p in slow:                                           # the next fetch is quick
            feed_server.routes[p].delay = 0.1
        # the survivor: leads within seconds, polls the dead one's feeds after their leases
        # expire, delivers everything left, once
        await api.wait_for(lambda: set(got()) == expected, timeout=90)
        api.message(399, "/subscribe venezuela")                 # getUpdates moved over
        await api.wait_for(lambda: len(api.sent(399)) > 0, timeout=20)
        await asyncio.sleep(2.0)                                 # a double would show now
        sent = got()
        assert sorted(sent) == sorted(expected), \
            sorted(k for k in sent if sent.count(k) > 1)
        for p in slow:
            assert len(feed_server.requests_for(p)) == 2         # killed one's try + takeover
        with Store.open(pg_url) as s:
            roles = {i["name"]: i["roles"] for i in s.instances()}
        assert "two" in roles and "one" in roles        # killed: it could not unregister
    finally:
        for p in (one, two):
            if p and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                if not await wait_exit(p, 20):
                    p.kill()
        for f in logs.values():
            f.close()
        await api.close()
    log_two = (tmp_path / "two.log").read_text(encoding="utf-8", errors="replace")
    assert "now leads telegram" in log_two
    assert api.token.split(":")[1] not in log_two
