"""Benchmark: one digest round to N subscribed chats (default 1,000) through TelegramSink against
the fake Bot API enforcing Telegram's limits (1 msg/s per chat, 20/min per group, 30/s overall;
violations answered with 429). Prints the time to drain, 429s provoked, lost and doubled.

    .venv/bin/python bench/telegram_bench.py [--chats 1000] [--groups 0.1] [--items 3]
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import logging
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fakebotapi import FakeBotAPI, Harness  # noqa: E402

from bot.telegram.pacing import Pacer  # noqa: E402


async def main(n_chats: int, group_share: float, n_items: int) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    api = await FakeBotAPI(enforce_limits=True).start()
    with tempfile.TemporaryDirectory() as tmp:
        h = Harness(Path(tmp), api)
        h.sink.pacer = Pacer()                          # the real limits (the tests use fast ones)
        await h.start()
        h.sink.sender.pacer = h.sink.pacer
        ob = h.sink.outbox
        n_groups = int(n_chats * group_share)
        chats = [-(1_000_000 + i) for i in range(n_groups)] + \
                [10_000 + i for i in range(n_chats - n_groups)]
        for c in chats:
            ob.ensure_chat(c, kind="private" if c > 0 else "group", title=None, username=None,
                           lang="en", next_digest_at=h.now + timedelta(hours=1), now=h.now)
            ob.subscribe(c, 0, "venezuela", "digest", h.now)
        items = h.items(*[(f"Maduro headline {i} <&>", "venezuela", "Reuters", i)
                          for i in range(n_items)])
        await h.sink.publish(items)
        t0 = time.monotonic()
        await h.sink.tick(h.now + timedelta(hours=1, minutes=1))     # every digest is due
        ok = await h.sink.drain(timeout=600)
        elapsed = time.monotonic() - t0
        per_chat = collections.Counter(c.chat_id for c in api.sent())
        lost = sum(1 for c in chats if per_chat[c] == 0)
        doubled = sum(1 for c in chats if per_chat[c] > 1)
        states = ob.counts()
        await h.stop()
    await api.close()
    print(f"chats: {n_chats} ({n_groups} groups), items per digest: {n_items}")
    print(f"time to drain: {elapsed:.1f} s ({n_chats / elapsed:.1f} msg/s){'' if ok else ' (TIMEOUT)'}")
    print(f"429s provoked: {api.provoked_429}")
    print(f"lost: {lost}, doubled: {doubled}")
    print(f"outbox: {dict(states)}")
    return 0 if ok and not lost and not doubled and not api.provoked_429 else 1


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chats", type=int, default=1000)
    ap.add_argument("--groups", type=float, default=0.1, help="share of group chats (0..1)")
    ap.add_argument("--items", type=int, default=3)
    a = ap.parse_args()
    sys.exit(asyncio.run(main(a.chats, a.groups, a.items)))
