"""Run a watchlist over the stored items of the last days (the `sokuho explain --recent`
machinery, shared with the feedback suggestions, bot/ops/suggest.py): what would it match now?"""
from __future__ import annotations

from datetime import datetime
from typing import Iterator

from bot.core.matcher import Matcher
from bot.core.model import Entry, Hit


def stories(store, since: datetime) -> Iterator[Entry]:
    """First copies of stories published (or, without a date, fetched) since `since`."""
    for entry, dup_of in store.recent_entries(since):
        if dup_of or (entry.published is not None and entry.published < since):
            continue                      # copies, and old stories fetched recently
        yield entry


def rematch(store, matcher: Matcher, name: str,
            since: datetime) -> Iterator[tuple[Entry, list[Hit], bool]]:
    """(entry, hits of watchlist `name` now, whether the stored item matched it) per story."""
    for entry in stories(store, since):
        old = store.item(entry.id)
        was = bool(old and name in old.watchlists)
        hits = [h for h in matcher.match(entry) if h.watchlist == name]
        yield entry, hits, was

