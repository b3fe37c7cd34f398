"""Console sink: prints a plain-text digest of each poll's new matches (no Telegram token set)."""
from __future__ import annotations

import sys
from datetime import datetime
from typing import TextIO

from bot.core.model import StoredItem
from bot.core.render import render_also_in_plain, render_plain_digest


class ConsoleSink:
    def __init__(self, stream: TextIO | None = None, *, tz: str = "UTC", lang: str = "en",
                 names: dict[str, str] | None = None, max_items: int = 30):
        self.stream = stream or sys.stdout
        self.tz, self.lang, self.names = tz, lang, names or {}
        self.max_items = max_items          # items per printed digest (SOKUHO_DIGEST_MAX_ITEMS)
        self.printed = 0

    async def start(self) -> None:
        return None

    async def publish(self, items: list[StoredItem]) -> None:
        if not items:
            return
        when = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M")
        head = f"── sokuho · {when} · {len(items)} new matching item(s) " + "─" * 20
        shown = items[:self.max_items]
        body = render_plain_digest(shown, tz=self.tz, lang=self.lang, names=self.names)
        if len(items) > len(shown):
            body += (f"\n… and {len(items) - len(shown)} more (stored; "
                     "`sokuho explain --recent WATCHLIST` lists them)")
        self.stream.write(f"{head}\n{body}\n\n")
        self.stream.flush()
        self.printed += len(shown)

    async def also_in(self, pairs: list[tuple[StoredItem, StoredItem]]) -> None:
        """Later reports of stories already shown: one line per story, with every outlet so far."""
        firsts: dict[str, StoredItem] = {}
        for first, _later in pairs:
            firsts[first.entry.id] = first
        if not firsts:
            return
        lines = [line for line in map(render_also_in_plain, firsts.values()) if line]
        if not lines:
            return
        self.stream.write("\n".join(lines) + "\n\n")
        self.stream.flush()

    async def tick(self, now: datetime) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def notify_admins(self, text: str) -> None:
        return None
