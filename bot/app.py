"""Composition root: builds every stage from Settings. Commands and the service use only this."""
from __future__ import annotations

import gc
import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.adapters.config import Config, ConfigError, diff_config, load_config
from bot.adapters.files import private_dir
from bot.adapters.fetch import Fetcher
from bot.adapters import procs
from bot.adapters.parse_pool import ParserPool
from bot.adapters.store import Store
from bot.adapters.store_sql import from_ts
from bot.adapters.window import StoreWindow, StoryWindow, stored_sig
from bot.adapters.window_snap import SnapWindow
from bot.core.dedup import Deduper, pack_sig
from bot.core.lazydedup import LazyDeduper
from bot.core.stories import unpack_features
from bot.core.model import Entry
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
    processor: Processor | None    # built on first need: current_processor()
    fetcher: Fetcher
    parsers: ParserPool
    pipeline: Pipeline
    instance: str = ""
    last_item_id: int = 0          # the duplicate index holds every item up to this id
    registered: bool = field(default=False)
    _private: tuple = field(default=(None, frozenset()), repr=False)   # (config, its URLs)

    @classmethod
    async def open(cls, settings: Settings, *, publish=None, also_in=None,
                   parser_kind: str = "process", command: str = "run") -> "App":
        """Load config (ConfigError), open the store (StoreError), register this instance; the
        duplicate index is warmed when it is first needed (warm_index)."""
        parsers = ParserPool(parser_kind, budget=settings.parse_timeout, nice=settings.parser_nice)
        if command in ("poll", "run") and settings.database_url is None \
                and not settings.db_path.exists():
            # a new state: every feed brings a body. The workers' start-up (imports) runs on the
            # other core meanwhile, instead of after the first response
            parsers.prestart()
        try:
            config = load_config(settings.watchlists, feeds_file=settings.feeds_file,
                                 cache_dir=state_dir(settings))
            store = Store.open(settings.database)
        except BaseException:
            parsers.close()
            raise
        name = instance_name(settings)
        registered = False
        try:
            store.sync_feeds(list(config.feeds.feeds), config.feeds.defaults.interval, utcnow())
            reclaim_dead(store)
            store.register_instance(name, host=socket.gethostname(), pid=os.getpid(),
                                    command=command, now=utcnow(), proc=procs.identity())
            registered = True
            # `poll --once` decides a few items and exits: it reads the stored window on
            # demand (LazyDeduper, same verdicts); a service warms the whole index once
            deduper = (LazyDeduper if command == "poll" else Deduper)(settings.dedup_window)
            fetcher = Fetcher(user_agent=settings.user_agent,
                              allow_private=settings.allow_private_networks,
                              total_concurrency=settings.fetch_concurrency,
                              per_host=settings.fetch_per_host)
            await fetcher.__aenter__()
        except BaseException:
            if registered:
                try:
                    store.unregister_instance(name)
                except Exception:
                    pass
            store.close()
            parsers.close()
            raise
        app = cls(settings, config, store, deduper, None, fetcher, parsers, None,  # type: ignore[arg-type]
                  instance=name, registered=True)
        # the duplicate index is warmed on first need (the first item to decide), not here: a
        # start-up or a `poll --once` whose feeds bring nothing new never reads the window
        deduper.defer(app.warm_index)
        if command in ("poll", "run"):
            app.prestart_parsers()
        app.pipeline = Pipeline(store=store, fetcher=fetcher, parsers=parsers,
                                processor=app.current_processor, publish=publish,
                                also_in=also_in,
                                max_age=settings.max_age or None, instance=name,
                                lease=max(settings.lease, 2.0),
                                catch_up=app.catch_up,
                                allow_private=app.allows_private,
                                max_new_items=settings.max_new_items)
        return app

    def warm_index(self) -> int:
        """Fill the duplicate index from the store: every item of the window (run by the
        Deduper on first need; the pipeline asks just before its shared write section)."""
        last_id = self.store.max_item_id()   # before warming: later items come by catch_up
        n = None
        if isinstance(self.deduper, LazyDeduper):
            n = warm_lazy(self.deduper, self.store, self.settings.dedup_window)
        if n is None:
            n = warm(self.deduper, self.store, self.settings.dedup_window)
        self.last_item_id = max(self.last_item_id, last_id)
        return n

    def prestart_parsers(self) -> int:
        """Start the parser workers a poll will need for certain, one per feed without a
        validator (ETag, Last-Modified: never polled, or a server without conditional GET, so a
        body comes), at most the pool's size; each loads the watchlists before the first body
        arrives. None for feeds that can answer 304: a `poll --once` whose feeds all do starts
        none, and one feed with news starts one (ParserPool grows with the backlog)."""
        if self.parsers.kind != "process":
            return 0
        bodies = sum(1 for f in self.store.feeds() if f.enabled and not (f.etag or f.last_modified))
        self.parsers.prestart(min(bodies, self.parsers.workers),
                              preparer=self.current_processor().preparer if bodies else None)
        return self.parsers.started

    def current_processor(self) -> Processor:
        """The matcher is built when an entry must be prepared in this process (the parser
        workers prepare them, with their own): a poll whose feeds all answer 304, or whose
        entries are all prepared in the workers, never builds it here."""
        if self.processor is None:
            self.processor = Processor(None, self.deduper, watchlists=self.config.watchlists)
        return self.processor

    def catch_up(self, stored_upto: int | None = None) -> int:
        """Called inside the store's shared section: add what other instances stored since the
        last call to the duplicate index (with stored_upto: only note our own items' ids).
        Nothing to do while the index is not warmed: warming reads everything stored."""
        if not self.deduper.loaded:
            return 0
        if stored_upto is not None:
            self.last_item_id = max(self.last_item_id, stored_upto)
            return 0
        rows = self.store.index_rows_after(self.last_item_id)
        if not rows:
            return 0
        hits = (self.store.hits_of([r[0] for r in rows])
                if self.deduper.stories is not None else {})
        n = index_stored(self.deduper, rows, hits, utcnow(), self.store.summary_of,
                         skip_known=True)
        self.last_item_id = max(self.last_item_id, rows[-1][0])
        return n

    def reload(self) -> list[str]:
        """Re-read watchlists and feeds. Invalid: raises ConfigError, the running config stays.
        Valid: swaps matcher and feed list atomically and returns what changed."""
        new = load_config(self.settings.watchlists, feeds_file=self.settings.feeds_file,
                          cache_dir=self.settings.state)
        changes = diff_config(self.config, new)
        from bot.core.matcher import Matcher
        matcher = Matcher(new.watchlists)       # built fully before anything is swapped
        self.store.sync_feeds(list(new.feeds.feeds), new.feeds.defaults.interval, utcnow())
        self.processor = Processor(matcher, self.deduper)
        self.config = new
        return changes

    def allows_private(self, url: str) -> bool:
        """feeds.yaml `allow_private: true` on this feed (the operator's word, read live: the
        set of such URLs is made again when the config is replaced; once per feed it was a scan
        of every feed, quadratic in their number)."""
        config, urls = self._private
        if config is not self.config:
            urls = frozenset(f.url for f in self.config.feeds.feeds if f.allow_private)
            self._private = (self.config, urls)
        return url in urls

    def prune(self, now: datetime | None = None) -> int:
        """Delete items older than the retention, but never one the duplicate window still
        holds: the index reads an indexed item's text from the store when a comparison first
        needs it (a retention shorter than the window, or "off", keeps items for the window)."""
        now = now or utcnow()
        keep = max(self.settings.retention, self.settings.dedup_window)
        n = self.store.prune(now - timedelta(seconds=keep))
        self.deduper.expire((now - timedelta(seconds=self.settings.dedup_window)).timestamp())
        return n

    async def close(self) -> None:
        try:
            await self.fetcher.__aexit__(None, None, None)
        finally:
            self.parsers.close()
            if self.registered:
                try:     # leave the registry, give the leases back; forget long-dead instances
                    self.store.unregister_instance(
                        self.instance, forget_before=utcnow() - timedelta(days=1))
                except Exception as e:
                    log.warning("could not unregister instance %s: %s", self.instance, e)
            self.store.close()


def state_dir(settings: Settings) -> Path | None:
    """The state folder (created owner-only as Store.open would) for the config parse cache;
    None with PostgreSQL or when it cannot be made (Store.open then says why)."""
    if settings.database_url:
        return settings.state if settings.state.is_dir() else None
    try:
        private_dir(settings.state)
    except OSError:
        return None
    return settings.state


def reclaim_dead(store: Store) -> None:
    """Give back at once the feed leases of instances of this host whose process is gone (a
    `poll --once` or service killed mid-cycle), instead of waiting for them to expire."""
    try:
        for name, n in store.reclaim_dead(socket.gethostname(), procs.is_dead).items():
            log.info("instance %s is no longer running: released its %d feed lease(s)", name, n)
    except Exception as e:             # bookkeeping: the leases still expire on their own
        log.warning("could not check for dead instances: %s", e)


def instance_name(settings: Settings) -> str:
    return settings.instance or f"{socket.gethostname()}:{os.getpid()}"


def warm(deduper: Deduper, store: Store, window: float) -> int:
    """Load the last `window` of stored entries (with what they matched) so copies and stories
    are caught across restarts."""
    now = utcnow()
    since = now - timedelta(seconds=window)
    hits = store.recent_hits(since) if deduper.stories is not None else {}
    # every object made here lives on in the index: no point in the cyclic collector scanning
    # them again and again while they pile up (~12% of the time)
    paused = gc.isenabled()
    gc.disable()
    redone: list[tuple[str, int]] = []
    try:
        n = index_stored(deduper, store.index_rows(since), hits, now, store.summary_of, key=1,
                         redone=redone)
    finally:
        if paused:
            gc.enable()
    if n:
        log.info("duplicate index warmed with %d recent items", n)
    if redone and not store.readonly:
        # items stored before schema v6 (or with an unreadable signature): their signatures are
        # written now, so that the next start decodes them (a database upgraded from v5 pays
        # for recomputing its window once, not at every `poll --once`)
        try:
            store.set_signatures(redone)
            log.info("stored the recomputed duplicate signatures of %d items", len(redone))
        except Exception as e:         # bookkeeping only: recomputed again next time
            log.warning("could not store recomputed duplicate signatures: %s", e)
    return n


def warm_lazy(deduper: LazyDeduper, store: Store, window: float) -> int | None:
    """warm() for a LazyDeduper: the window is read from the store on demand (StoreWindow for
    the copies, StoryWindow for the stories of its matched items). None when it cannot be read
    that way (an item stored before v6): then warm() it, which also stores the missing
    signatures for the next time."""
    now = utcnow()
    since = now - timedelta(seconds=window)
    # the look-up structures a previous run kept (window_snap), else the window read and scanned
    view = SnapWindow.open(store, since, now) or StoreWindow.read(store, since, now)
    if view is None:
        return None
    if not len(view):                   # nothing stored in the window: an ordinary index
        return 0
    stories = None
    if deduper.stories is not None:
        try:
            stories = StoryWindow.read(store, since, now)
        except ValueError:              # a stored story term holding a separator: warm it all
            return None
    deduper.attach(view, stories)
    return len(view)


def index_stored(deduper: Deduper, rows, hits: dict, now: datetime, summary_of, *,
                 key: int = 0, skip_known: bool = False, redone: list | None = None) -> int:
    """Add stored items (Store.index_rows) to the duplicate index, as add() of each stored
    entry does: the copy signature and the story features of matched items decoded from those
    stored with the item (dedup.unpack_sig, stories.unpack_features), recomputed from the
    headline (and summary) when there are none (items stored before schema v6) or when they
    cannot be read (logged). Summaries are not read here: an indexed item reads its own
    (`summary_of(guid)`) when a comparison first needs it. `hits`: what each item matched, by
    row[key] (0: id, 1: guid). `skip_known`: items whose guid the index holds are left out.
    `redone`: gets (signature as stored, id) of each item whose signature was recomputed."""
    from bot.core.model import DupVerdict
    nowts = now.timestamp()
    add, add_stored = deduper.add, deduper.add_stored
    stories = deduper.stories is not None
    n = 0
    bad: list[str] = []
    for r in rows:
        _, guid, title, link, published, lang, dup_of, _, _, story_packed = r
        if skip_known and guid in deduper:
            continue
        sig, url, added_at, recomputed = stored_sig(r, now, nowts, summary_of, bad)
        if recomputed and redone is not None:
            redone.append((pack_sig(sig), r[0]))
        n += 1
        matched = hits.get(r[key])
        if not matched:
            add_stored(sig, url, added_at)
            continue
        story = None
        if stories and story_packed is not None:
            try:
                story = unpack_features(story_packed)
            except ValueError as e:
                bad.append(f"{guid}: {e}")
        # story features to compute (add() does): from the stored summary
        entry = Entry(guid, "", title, link, summary_of(guid) if stories and story is None else "",
                      from_ts(r[4]), lang)
        add(entry, DupVerdict(dup_of), now=now, added_at=added_at, sig=sig, url=url,
            watchlists={w for w, _ in matched}, topic={t for _, t in matched}, story=story)
    if bad:
        log.warning("duplicate index: %d stored signature(s) could not be read and were "
                    "recomputed from the headline (first: %s)", len(bad), bad[0])
    return n


__all__ = ["App", "ConfigError", "warm", "timezone"]
