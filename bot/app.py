"""Composition root: builds every stage from Settings. Commands and the service use only this."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from bot.adapters.config import Config, ConfigError, diff_config, load_config
from bot.adapters.fetch import Fetcher
from bot.adapters.parse import ParserPool
from bot.adapters.store import Store
from bot.core.dedup import Deduper
from bot.core.matcher import Matcher
from bot.core.process import Processor
from bot.pipeline import Pipeline, utcnow
from bot.settings import Settings

log = logging.getLogger("sokuho.app")


@dataclass
class App:
    settings: Settings
    config: Config
    store: Store
    deduper: Deduper
    processor: Processor
    fetcher: Fetcher
    parsers: ParserPool
    pipeline: Pipeline

    @classmethod
    async def open(cls, settings: Settings, *, publish=None, parser_kind: str = "process") -> "App":
        """Load config (ConfigError), open the store (StoreError), warm the duplicate index."""
        config = load_config(settings.watchlists, feeds_file=settings.feeds_file)
        store = Store.open(settings.database)
        try:
            store.sync_feeds(list(config.feeds.feeds), config.feeds.defaults.interval, utcnow())
            deduper = Deduper(settings.dedup_window)
            warm(deduper, store, settings.dedup_window)
            processor = Processor(Matcher(config.watchlists), deduper)
            fetcher = Fetcher(user_agent=settings.user_agent)
            await fetcher.__aenter__()
        except BaseException:
            store.close()
            raise
        parsers = ParserPool(parser_kind)
        app = cls(settings, config, store, deduper, processor, fetcher, parsers, None)  # type: ignore[arg-type]
        app.pipeline = Pipeline(store=store, fetcher=fetcher, parsers=parsers,
                                processor=lambda: app.processor, publish=publish,
                                max_age=settings.max_age or None)
        return app

    def reload(self) -> list[str]:
        """Re-read watchlists and feeds. Invalid: raises ConfigError, the running config stays.
        Valid: swaps matcher and feed list atomically and returns what changed."""
        new = load_config(self.settings.watchlists, feeds_file=self.settings.feeds_file)
        changes = diff_config(self.config, new)
        matcher = Matcher(new.watchlists)       # built fully before anything is swapped
        self.store.sync_feeds(list(new.feeds.feeds), new.feeds.defaults.interval, utcnow())
        self.processor = Processor(matcher, self.deduper)
        self.config = new
        return changes

    def prune(self, now: datetime | None = None) -> int:
        now = now or utcnow()
        n = self.store.prune(now - timedelta(seconds=self.settings.retention))
        self.deduper.expire((now - timedelta(seconds=self.settings.dedup_window)).timestamp())
        return n

    async def close(self) -> None:
        try:
            await self.fetcher.__aexit__(None, None, None)
        finally:
            self.parsers.close()
            self.store.close()


def warm(deduper: Deduper, store: Store, window: float) -> int:
    """Load the last `window` of stored entries (with what they matched) so copies and stories
    are caught across restarts."""
    now = utcnow()
    n = 0
    from bot.core.model import DupVerdict
    since = now - timedelta(seconds=window)
    hits = store.recent_hits(since) if deduper.stories is not None else {}
    for entry, dup_of in store.recent_entries(since):
        when = (entry.published or now).timestamp()
        matched = hits.get(entry.id, ())
        deduper.add(entry, DupVerdict(dup_of), now=now, added_at=min(when, now.timestamp()),
                    watchlists={w for w, _ in matched}, topic={t for _, t in matched})
        n += 1
    if n:
        log.info("duplicate index warmed with %d recent items", n)
    return n


__all__ = ["App", "ConfigError", "warm", "timezone"]
