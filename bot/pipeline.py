"""The orchestrator: one poll of a feed is fetch -> parse -> process (match + dedup) -> store -> sinks.

Nothing is lost: a feed's new items and its validators (ETag, Last-Modified) are committed in
one transaction, so a crash before it only causes a refetch. That commit is a group commit
(SQLite): its fsync is shared with the other feeds committing at the same time and happens off
the event loop (Store.flush) before any of its alerts is published; a power cut before it undoes
the feed's poll whole, which again only causes a refetch. Fan-out is durable: every matched
item is stored with a "to publish" mark in that transaction; the mark is cleared only after the
sinks have queued its alerts (in the next feed's transaction, or at the end of the cycle: one
commit fewer per feed), and marks left by a crash are published by recover() at the next
start and every cycle (the outbox's unique key makes publishing twice harmless), so an alert is
queued exactly once whatever the crash point. With several instances on one database each mark
names the instance that stored the item, and recover() leaves a live instance's marks alone.
A failing feed is logged with its URL, its error is stored, and it is retried with exponential
backoff (never below the server's Retry-After): it is never dropped silently.
"""
from __future__ import annotations

import asyncio
import logging
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from bot import faults
from bot.adapters.fetch import Fetcher, backoff_delay
from bot.adapters.parse_pool import ParserPool
from bot.adapters.store import FeedState, Store, StoreError
from bot.core.model import Processed, StoredItem, utcnow
from bot.core.process import Processor

log = logging.getLogger("sokuho.pipeline")

# seconds without a heartbeat (a service beats every tick) nor a running feed lease after which
# another instance's "to publish" marks are taken over by recover() (or the lease, if longer)
PRESUMED_DEAD = 300.0



@dataclass
class FeedOutcome:
    url: str
    name: str
    status: str                      # "ok", "not_modified", "failed"
    entries: int = 0
    new_items: int = 0
    matched: int = 0
    duplicates: int = 0
    error: str | None = None
    error_kind: str | None = None
    published: list[StoredItem] = field(default_factory=list)
    dup_reasons: dict[str, int] = field(default_factory=dict)
    old: int = 0                     # matched but published before the max age: stored only
    state: FeedState | None = None
    previous: FeedState | None = None


@dataclass
class CycleReport:
    started: datetime
    outcomes: list[FeedOutcome] = field(default_factory=list)
    duration: float = 0.0
    recovered: int = 0               # alerts published from marks an earlier crash left

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def new_items(self) -> int:
        return sum(o.new_items for o in self.outcomes)

    @property
    def matched(self) -> int:
        return sum(o.matched for o in self.outcomes)

    @property
    def duplicates(self) -> int:
        return sum(o.duplicates for o in self.outcomes)

    @property
    def old(self) -> int:
        return sum(o.old for o in self.outcomes)

    def summary(self) -> str:
        return (f"{len(self.outcomes)} feeds: {self.count('ok')} ok, "
                f"{self.count('not_modified')} not modified, {self.count('failed')} failed; "
                f"{self.new_items} new items, {self.matched} matched, "
                f"{self.duplicates} duplicates" + (f", {self.old} too old to alert" if self.old else "")
                + (f", {self.recovered} alerts recovered from before a crash"
                   if self.recovered else "")
                + f"; {self.duration:.1f}s")


class Pipeline:
    def __init__(self, *, store: Store, fetcher: Fetcher, parsers: ParserPool,
                 processor: Callable[[], Processor], publish=None, also_in=None,
                 clock: Callable[[], datetime] = utcnow, jitter: float = 0.1,
                 max_age: float | None = None, instance: str | None = None,
                 catch_up: Callable[..., int] | None = None, lease: float = 120.0,
                 allow_private: Callable[[str], bool] = lambda url: False,
                 max_new_items: int | None = None):
        self.store = store
        self.fetcher = fetcher
        self.parsers = parsers
        self.processor = processor            # a callable: the current Processor (live reload)
        self.publish = publish                # async callable(list[StoredItem]) or None
        # async callable(list[(first report, later report)]) or None: other outlets' reports of
        # stories already delivered ("also in")
        self.also_in = also_in
        self.clock = clock
        self.jitter = jitter
        self.max_age = max_age                # new items published longer ago are not alerted
        self.allow_private = allow_private      # feeds.yaml allow_private, per feed URL
        self.max_new_items = max_new_items      # new items kept per feed per poll (newest first)
        self.on_outcome: list[Callable[[FeedOutcome], None]] = []
        self.instance = instance              # this instance's name in feed leases
        self.catch_up = catch_up              # brings the duplicate index up to the database
        self.lease = lease                    # seconds a claimed feed stays ours (renewed)
        # stored items whose alerts the sinks have queued: their "to publish" marks are cleared
        # in the next feed transaction (or at the end of the cycle, or before a recovery)
        self._queued: list[int] = []

    def claim(self, now: datetime, **kw) -> list[FeedState]:
        """Lease feeds to this instance (Store.claim_feeds): no other instance polls them until
        the poll is recorded or the lease expires."""
        return self.store.claim_feeds(self.instance or "local", now, self.lease, **kw)

    def _next_poll(self, fs: FeedState, now: datetime, *, failed: bool,
                   retry_after: float | None = None) -> datetime:
        interval = fs.interval or 300.0
        if failed:
            delay = backoff_delay(fs.error_count + 1, base=min(interval, 60.0),
                                  retry_after=retry_after)
        else:
            delay = interval * random.uniform(1 - self.jitter, 1 + self.jitter)
            if retry_after:
                delay = max(delay, retry_after)
        return now + timedelta(seconds=delay)

    async def poll_feed(self, fs: FeedState) -> FeedOutcome:
        out = FeedOutcome(fs.url, fs.name, "failed", previous=fs)
        try:
            await self._poll(fs, out)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a bug or a store problem must not take the other feeds down
            if isinstance(e, StoreError):       # disk full, read-only, locked: say it plainly
                log.error("%s: could not store this poll: %s", fs.url, e)
                out.status, out.error, out.error_kind = "failed", f"{fs.url}: {e}", "store"
            else:
                log.exception("%s: poll failed unexpectedly", fs.url)
                out.status, out.error, out.error_kind = "failed", f"{fs.url}: {e!r}", "internal"
            try:
                out.state = self.store.record_fetch(
                    fs.url, status="failed", error=out.error, error_kind=out.error_kind,
                    next_poll_at=self._next_poll(fs, self.clock(), failed=True), now=self.clock())
            except Exception:
                log.exception("%s: could not record the failure", fs.url)
        for cb in self.on_outcome:
            cb(out)
        return out

    async def _poll(self, fs: FeedState, out: FeedOutcome) -> None:
        res = await self.fetcher.fetch(fs.url, etag=fs.etag, last_modified=fs.last_modified,
                                       allow_private=self.allow_private(fs.url) or None)
        now = self.clock()
        if res.not_modified:
            out.status = "not_modified"
            out.state = self.store.record_fetch(
                fs.url, status="not_modified", etag=res.etag or fs.etag,
                last_modified=res.last_modified or fs.last_modified,
                next_poll_at=self._next_poll(fs, now, failed=False), now=now)
            return
        if not res.ok:
            self._failed(fs, out, res.error, res.error_kind, now, res.retry_after)
            return
        # entries are normalised and matched where they are parsed (a parser worker: the other
        # core); the duplicate check below needs the index of this process
        parsed = await self.parsers.parse(res.body, feed_name=fs.name, headers=res.headers,
                                          lang=fs.lang, base_url=res.final_url or fs.url,
                                          preparer=self.processor().preparer)
        if parsed.failed:
            what = "not a feed" if parsed.error_kind == "parse" else "parse failed"
            self._failed(fs, out, f"{fs.url}: {what} ({parsed.bozo or 'no entries'})",
                         parsed.error_kind, now, None)
            return
        if parsed.bozo:
            log.warning("%s: feed has problems, %d entries kept: %s", fs.url,
                        len(parsed.entries), parsed.bozo)
        out.entries = len(parsed.entries)
        processor = self.processor()
        prepared = {}
        if parsed.prepared is not None and parsed.prepared_by == processor.preparer.version:
            prepared = {id(e): p for e, p in zip(parsed.entries, parsed.prepared)}
        # else: no worker result, or the watchlists were reloaded meanwhile: prepared here
        batch: list[Processed] = []
        deduper = getattr(processor, "deduper", None)
        if deduper is not None and not deduper.loaded and parsed.entries and len(
                self.store.known_guids(e.id for e in parsed.entries)) < len(parsed.entries):
            # the first new item: the duplicate index is read now, outside the shared section
            # (seconds on a big store, which other instances' writes need not wait for)
            deduper.load()
        # One step for all instances on the database: what others stored joins the duplicate
        # index, then this batch is decided and stored; two copies of a story polled by two
        # instances at the same moment are still folded.
        # group commit: made durable by flush() below, before anything is published from it
        with self._feed_transaction():
            if self.catch_up is not None:
                self.catch_up()
            known = self.store.known_guids(e.id for e in parsed.entries)
            new: list = []
            for entry in parsed.entries:
                if entry.id in known:
                    continue
                known.add(entry.id)
                new.append(entry)
            keep, backlog = self._cap(fs, new)
            if keep and deduper is not None:
                # a lazy index (poll --once) looks the batch's headlines up in one pass
                deduper.prefetch(p.dedup for p in map(prepared.get, map(id, keep))
                                 if p is not None and p.dedup is not None)
            batch = [processor.decide(entry, prepared.get(id(entry)) or processor.prepare(entry),
                                      now) for entry in keep]
            batch += [Processed(entry) for entry in backlog]    # stored, not matched: not lost
            stored = self.store.save_processed(   # with "to publish" marks, ours if we publish
                batch, fetched_at=now, owner=self.instance if self.publish is not None else None)
            faults.point("items_stored")      # still one transaction: a crash here leaves nothing
            if self.catch_up is not None and stored:
                self.catch_up(stored_upto=max(s.rowid for s in stored))
            out.status = "ok"
            out.new_items = len(stored)
            out.duplicates = sum(1 for s in stored if s.duplicate_of)
            for p in batch:
                if p.dup.duplicate_of:
                    out.dup_reasons[p.dup.reason] = out.dup_reasons.get(p.dup.reason, 0) + 1
            # a feed's first poll: its undated items are backlog
            first = fs.last_success_at is None
            matched, out.published = self._to_publish(stored, now, first)
            out.matched = len(matched)
            out.old = len(matched) - len(out.published)
            # in the same transaction: items and validators commit together (one commit
            # per feed; a crash before it only means a refetch)
            out.state = self.store.record_fetch(
                fs.url, status="ok", etag=res.etag, last_modified=res.last_modified,
                new_items=len(stored), next_poll_at=self._next_poll(fs, now, failed=False,
                                                                    retry_after=res.retry_after),
                now=now)
        faults.point("items_committed")       # items, marks and the poll record: one commit
        faults.point("fetch_recorded")
        if any(s.hits for s in stored):
            await self.store.flush()          # one fsync shared with the feeds committing now
        await self._publish(stored, out.published)
        if self.also_in is not None:
            pairs = self._also_in(stored, now, first)
            if pairs:
                await self.also_in(pairs)

    @contextmanager
    def _feed_transaction(self):
        """A feed's one transaction (the shared section, group commit). It also clears the marks
        of the alerts queued since the last one: a commit fewer per feed. Should it roll back,
        those marks are cleared by a later commit (a crash before that: published again at the
        next start, which the outbox's unique key absorbs, as after a crash right after queuing)."""
        queued, self._queued = self._queued, []
        try:
            with self.store.shared_section(group=True) as c:
                if queued:
                    self.store.clear_pending(queued)
                yield c
        except BaseException:
            self._queued[:0] = queued
            raise

    def _clear_queued(self) -> None:
        """Clear the marks of the alerts queued so far now (own transaction)."""
        queued, self._queued = self._queued, []
        try:
            self.store.clear_pending(queued)
        except BaseException:
            self._queued[:0] = queued
            raise

    def _end_cycle(self) -> None:
        try:
            self._clear_queued()
        except Exception:
            log.exception("could not clear the marks of queued alerts; cleared later (a crash "
                          "before that publishes them again)")

    def _to_publish(self, stored: list[StoredItem], now: datetime | None, first: bool = False
                    ) -> tuple[list[StoredItem], list[StoredItem]]:
        """(matched, to publish) among freshly stored items. now=None: judge each item's age
        at the time it was fetched (recovery after a crash decides as the poll would have; it
        does not know whether that was a feed's first poll, so undated items are alerted)."""
        matched = [s for s in stored if s.hits and not s.duplicate_of]
        matched += self._copies_with_news(stored)
        return matched, [s for s in matched if self._fresh(s, now or s.fetched_at, first)]

    async def _publish(self, stored: list[StoredItem], publish: list[StoredItem]) -> None:
        """Hand the alerts to the sinks, then clear the stored items' "to publish" marks. With
        no sink (a plain store run), the marks stay for whoever starts with one."""
        if self.publish is None:
            return
        if publish:
            await self.publish(publish)
        faults.point("published")
        self._queued += [s.rowid for s in stored if s.hits]     # marks cleared in a later commit

    async def recover(self) -> int:
        """At start: publish the matched items a crash left stored but unqueued. Returns how
        many alerts were handed to the sinks."""
        if self.publish is None:
            return 0
        self._clear_queued()            # alerts queued already are not pending any more
        now = self.clock()
        # another instance's marks only once it is presumed dead: neither a heartbeat (every
        # service tick) nor a running feed lease for a while
        pending = self.store.pending_items(
            self.instance, now=now, alive_since=now - timedelta(seconds=max(self.lease, PRESUMED_DEAD)))
        if not pending:
            return 0
        _, publish = self._to_publish(pending, None)
        log.warning("%d stored match(es) were not queued before the last stop (crash?); "
                    "publishing %d alert(s) now", len(pending), len(publish))
        await self._publish(pending, publish)
        self._clear_queued()
        return len(publish)

    async def _recover_into(self, report: CycleReport) -> None:
        try:
            report.recovered = await self.recover()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("publishing stored but unqueued matches failed; retried next cycle")

    def _also_in(self, stored: list[StoredItem], now: datetime,
                 first: bool = False) -> list[tuple[StoredItem, StoredItem]]:
        """Later matched reports of a story (copies or other outlets' own words), each with the
        story's first report as stored now (its also_in lists every outlet so far)."""
        later = [s for s in stored if s.duplicate_of and s.hits and self._fresh(s, now, first)]
        firsts = self.store.items(s.duplicate_of for s in later) if later else {}
        return [(firsts[s.duplicate_of], s) for s in later
                if s.duplicate_of in firsts and firsts[s.duplicate_of].hits]

    def _copies_with_news(self, stored: list[StoredItem]) -> list[StoredItem]:
        """A later copy of a story counts once... for the watchlists its first copy matched. If
        the first copy did not name the subject ("island nation") and this one does ("Cuba"),
        the story is news for that watchlist now: publish the copy for the new watchlists only."""
        out = []
        copies = [s for s in stored if s.hits and s.duplicate_of]
        clusters = (self.store.clusters_watchlists((s.duplicate_of, s.rowid) for s in copies)
                    if copies else {})
        for s in copies:
            known = clusters[(s.duplicate_of, s.rowid)]
            new = [h for h in s.hits if h.watchlist not in known]
            if new:
                s.hits = new
                out.append(s)
        return out

    def _fresh(self, item: StoredItem, now: datetime, first_poll: bool = False) -> bool:
        """Breaking news only: an item first seen now but published days ago (a new feed's
        back catalogue, a search feed resurfacing old articles) is stored, not alerted; so is
        an undated item of a feed's first poll (it is the feed's back catalogue too).
        SOKUHO_MAX_AGE=0 (max_age None) alerts everything."""
        published = item.entry.published
        if self.max_age is None:
            return True
        if published is None:
            return not first_poll
        return (now - published).total_seconds() <= self.max_age

    def _cap(self, fs: FeedState, new: list) -> tuple[list, list]:
        """At most max_new_items new entries of one poll are processed: the newest (undated ones
        keep their place in the feed's order, after the dated ones). The rest is backlog: stored
        without matching, so it is neither alerted nor seen as new again."""
        if not self.max_new_items or len(new) <= self.max_new_items:
            return new, []
        floor = datetime.min.replace(tzinfo=timezone.utc)
        order = sorted(range(len(new)), key=lambda i: new[i].published or floor, reverse=True)
        kept = set(order[:self.max_new_items])
        log.warning("%s: %d new items in one poll; the newest %d are processed, %d stored as "
                    "backlog (SOKUHO_MAX_NEW_ITEMS)", fs.url, len(new), self.max_new_items,
                    len(new) - self.max_new_items)
        return ([e for i, e in enumerate(new) if i in kept],
                [e for i, e in enumerate(new) if i not in kept])

    def _failed(self, fs, out, error, kind, now, retry_after) -> None:
        out.status, out.error, out.error_kind = "failed", error, kind
        out.state = self.store.record_fetch(
            fs.url, status="failed", error=error, error_kind=kind,
            next_poll_at=self._next_poll(fs, now, failed=True, retry_after=retry_after), now=now)
        log.warning("%s (attempt %d, next try %s)", error, out.state.error_count,
                    out.state.next_poll_at.strftime("%H:%M:%S") if out.state.next_poll_at else "?")

    async def poll_many(self, feeds: list[FeedState]) -> CycleReport:
        """One cycle. It starts by publishing what an earlier crash (or a failed publish) left
        marked, so `sokuho run` and `sokuho poll --once` both recover at start."""
        report = CycleReport(self.clock())
        t0 = time.perf_counter()
        await self._recover_into(report)
        renew = None
        if self.instance and feeds:
            renew = asyncio.get_running_loop().create_task(self._renew_leases())
        try:
            report.outcomes = list(await asyncio.gather(*(self.poll_feed(f) for f in feeds)))
        finally:
            if renew is not None:
                renew.cancel()
            self._end_cycle()
        report.duration = time.perf_counter() - t0
        return report

    async def poll_claimed(self, claim: Callable[[int], list[FeedState]], *,
                           window: int = 64) -> CycleReport:
        """One cycle shared with the other instances: claim a few feeds at a time (at most
        `window` in flight), poll them, claim more as they finish, until nothing is left to
        claim. claim(limit) leases up to `limit` feeds to this instance and returns them."""
        report = CycleReport(self.clock())
        t0 = time.perf_counter()
        await self._recover_into(report)
        order: dict[asyncio.Task, int] = {}
        results: list[tuple[int, FeedOutcome]] = []
        pending: set[asyncio.Task] = set()
        exhausted = False
        renew = asyncio.get_running_loop().create_task(self._renew_leases())
        try:
            while True:
                if not exhausted and len(pending) <= window // 2:
                    feeds = claim(window - len(pending))
                    exhausted = not feeds
                    for f in feeds:
                        t = asyncio.get_running_loop().create_task(self.poll_feed(f))
                        order[t] = len(order)
                        pending.add(t)
                if not pending:
                    break
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                results += [(order[t], t.result()) for t in done]
        finally:
            renew.cancel()
            for t in pending:
                t.cancel()
            self._end_cycle()
        report.outcomes = [o for _, o in sorted(results, key=lambda r: r[0])]
        report.duration = time.perf_counter() - t0
        return report

    async def _renew_leases(self) -> None:
        """While a cycle runs, keep this instance's leases from expiring (a slow cycle is not a
        dead instance). A killed instance stops renewing: its feeds are taken over."""
        while True:
            await asyncio.sleep(self.lease / 3)
            try:
                self.store.renew_leases(self.instance,
                                        self.clock() + timedelta(seconds=self.lease))
            except Exception as e:
                log.warning("could not renew feed leases: %s", e)
