"""Send pacing under Telegram's limits, with margins: ~1 message/s per chat, 20/min per group or
channel, 30/s overall (we use 1.05 s, 19/min, 25/s). A RetryAfter blocks only the chat it came from.

Time is time.monotonic(). The caller serialises sends per chat (one job per chat at a time), so
per-chat state needs no lock; the global slots are handed out under a lock (FIFO fairness).
"""
from __future__ import annotations

import asyncio
import time
from collections import deque


class Pacer:
    def __init__(self, *, per_chat: float = 1.05, group_per_min: int = 19,
                 global_per_sec: int = 25, clock=time.monotonic, sleep=asyncio.sleep):
        self.per_chat = per_chat
        self.group_per_min = group_per_min
        self.global_per_sec = global_per_sec
        self.clock = clock
        self.sleep = sleep
        self._last: dict[int, float] = {}
        self._group: dict[int, deque] = {}
        self._blocked: dict[int, float] = {}
        self._next_global = 0.0
        self._lock = asyncio.Lock()

    # ---------------------------------------------------------------- chat state
    def block(self, chat_id: int, seconds: float) -> None:
        """RetryAfter: nothing to this chat for `seconds`."""
        until = self.clock() + max(0.0, seconds)
        self._blocked[chat_id] = max(self._blocked.get(chat_id, 0.0), until)

    def chat_wait(self, chat_id: int) -> float:
        """Seconds until this chat may receive the next message."""
        now = self.clock()
        wait = self._blocked.get(chat_id, 0.0) - now
        last = self._last.get(chat_id)
        if last is not None:
            wait = max(wait, last + self.per_chat - now)
        if chat_id < 0:        # groups, supergroups, channels
            dq = self._group.get(chat_id)
            if dq:
                while dq and dq[0] <= now - 60.0:
                    dq.popleft()
                if len(dq) >= self.group_per_min:
                    wait = max(wait, dq[0] + 60.0 - now)
        return max(0.0, wait)

    def forget(self, chat_id: int) -> None:
        self._last.pop(chat_id, None)
        self._group.pop(chat_id, None)
        self._blocked.pop(chat_id, None)

    # ---------------------------------------------------------------- acquire
    async def acquire(self, chat_id: int) -> None:
        """Wait until one message may be sent to `chat_id`, then account for it."""
        while True:
            w = self.chat_wait(chat_id)
            if w <= 0:
                break
            await self.sleep(w)
        async with self._lock:
            # evenly spaced slots (not a burst window): request arrival jitter then cannot pile
            # more than the limit into any one-second window at the server
            now = self.clock()
            slot = max(now, self._next_global)
            self._next_global = slot + 1.0 / self.global_per_sec
            if slot > now:
                await self.sleep(slot - now)
            now = self.clock()
        # per-chat accounting after the global wait (the send happens right after this)
        self._last[chat_id] = now
        if chat_id < 0:
            self._group.setdefault(chat_id, deque()).append(now)
