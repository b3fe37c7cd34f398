"""`sokuho run`: the long-running service. One asyncio loop holds the scheduler, the pipeline, the
sink (Telegram or console), the config watcher, the systemd notifier and the metrics endpoint.

Scheduling: one APScheduler job polls every feed that is due (each feed has its own interval,
default 5 minutes, with jitter; failing feeds back off). coalesce=True and max_instances=1, so a
slow cycle never stacks up. Polling state lives in the store, so a restart does not hammer servers.
"""
from __future__ import annotations

import asyncio
import logging
import signal
import time
from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.adapters.config import ConfigError
from bot.adapters.console import ConsoleSink
from bot.adapters.store import StoreError
from bot.app import App, reclaim_dead
from bot.ops import health
from bot.ops.metrics import Metrics
from bot.ops.sdnotify import Notifier, watchdog_loop
from bot.ops.watch import ConfigWatcher
from bot.pipeline import CycleReport, FeedOutcome, utcnow
from bot.settings import Settings

log = logging.getLogger("sokuho.service")

TICK = 15.0            # how often due feeds are looked for
SINK_TICK = 30.0       # digests, outbox retries
RELOAD_SETTLE = 0.3    # seconds a burst of reload requests has to settle
START_EXTEND = 300.0   # seconds of extra start-up time asked of systemd (EXTEND_TIMEOUT_USEC)
STOP_EXTEND = 40.0     # and of stop time: the sink waits up to 20 s for sends in flight
MAX_FUTURE = 6 * 3600  # a next poll further ahead than this (plus the interval) means the clock went back
STUCK_AFTER = 600.0    # a cycle in which no feed finished for this long is stuck: stop WATCHDOG=1
RECLAIM_EVERY = 60.0   # seconds between looks for dead instances of this host holding feed leases


class Service:
    def __init__(self, settings: Settings, *, clock=utcnow):
        self.settings = settings
        self.clock = clock
        self.notifier = Notifier()
        self.metrics = Metrics()
        self.app: App | None = None
        self.sink = None
        self.scheduler: AsyncIOScheduler | None = None
        self.watcher: ConfigWatcher | None = None
        self._stop = asyncio.Event()
        self._reload_task: asyncio.Task | None = None
        self._reload_pending = False
        self._tasks: set[asyncio.Task] = set()
        self.last_cycle: CycleReport | None = None
        self.progress = health.Progress(STUCK_AFTER)
        self._reclaimed_at = float("-inf")       # monotonic time of the last reclaim_dead
        self._stuck_logged: float | None = None

    # ------------------------------------------------------------------ lifecycle
    async def run(self) -> int:
        # opening a large state database (migrations, warming the duplicate index) and the
        # Telegram start-up may take longer than the unit's start timeout: ask for more
        self.notifier.extend_timeout(START_EXTEND)
        try:
            self.sink = self._make_sink()
            self.app = await App.open(self.settings, publish=self._publish,
                                      also_in=self._also_in)
        except ConfigError as e:
            log.error("invalid configuration, not starting:\n%s", e)
            self.notifier.status("invalid configuration: see the journal")
            return 2
        except StoreError as e:
            log.error("%s", e)
            self.notifier.status(f"state store unusable: {e}")
            return 3
        try:
            await self.sink.start()
        except Exception as e:
            log.error("could not start the %s: %s", type(self.sink).__name__, e)
            await self.app.close()
            return 4
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self.request_reload)
        await self._recover()              # alerts a crash left stored but unqueued
        self._start_background()
        n = len([f for f in self.app.store.feeds() if f.enabled])
        log.info("sokuho running: %d watchlists, %d feeds, state in %s, output: %s",
                 len(self.app.config.watchlists), n, self.settings.database_shown,
                 "Telegram" if self.settings.telegram_token else "console")
        self.notifier.ready(f"running: {n} feeds, waiting for the first cycle")
        await self._stop.wait()
        await self._shutdown()
        return 0

    def _make_sink(self):
        if not self.settings.telegram_token:
            log.info("no Telegram token: printing digests to the console. To post to Telegram, "
                     "set TELEGRAM_BOT_TOKEN (see README, 'Telegram').")
            return ConsoleSink(max_items=self.settings.digest_max_items)
        from bot.telegram.sink import TelegramSink
        return TelegramSink(self.settings, self._store_proxy(), lambda: self.app.config.watchlists,
                            metrics=self.metrics)

    def _store_proxy(self):
        service = self

        class _Lazy:   # the sink is built before the store is open
            def __getattr__(self, name):
                return getattr(service.app.store, name)
        return _Lazy()

    def _start_background(self) -> None:
        s = self.scheduler = AsyncIOScheduler(timezone=timezone.utc)
        s.add_job(self._cycle, IntervalTrigger(seconds=TICK), id="poll", coalesce=True,
                  max_instances=1, misfire_grace_time=int(TICK * 4), next_run_time=datetime.now(timezone.utc))
        s.add_job(self._sink_tick, IntervalTrigger(seconds=SINK_TICK), id="sink", coalesce=True,
                  max_instances=1, misfire_grace_time=int(SINK_TICK * 4))
        s.add_job(self._prune, IntervalTrigger(hours=1), id="prune", coalesce=True, max_instances=1)
        s.start()
        self.watcher = ConfigWatcher([self.settings.watchlists, self.settings.feeds_file], self.reload)
        self.watcher.start()
        self._spawn(watchdog_loop(self.notifier, self._alive))
        self._spawn(self._clock_guard())
        if self.settings.metrics_port is not None:
            self._spawn(self.metrics.start_server(port=self.settings.metrics_port,
                                                  check=self._alive))

    def _spawn(self, coro) -> asyncio.Task:
        t = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)
        return t

    def stop(self) -> None:
        if not self._stop.is_set():
            log.info("stopping")
            self.notifier.stopping()
            self._stop.set()

    async def _shutdown(self) -> None:
        # in-flight sends may take up to the sink's grace: ask systemd for that much stop time
        self.notifier.extend_timeout(STOP_EXTEND)
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
        if self.watcher is not None:
            await self.watcher.stop()
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        try:
            await asyncio.wait_for(self.sink.stop(), timeout=20)
        except Exception as e:
            log.warning("sink did not stop cleanly (pending deliveries stay in the outbox): %s", e)
        await self.metrics.stop()
        await self.app.close()
        log.info("stopped")

    # ------------------------------------------------------------------ jobs
    def due(self, now: datetime) -> list:
        out = []
        for f in self.app.store.feeds():
            if not f.enabled:
                continue
            nxt = f.next_poll_at
            if nxt is None or nxt <= now or (nxt - now).total_seconds() > MAX_FUTURE + (f.interval or 300):
                out.append(f)
        return out

    def claim(self, now: datetime, limit: int = 1_000_000, **kw) -> list:
        """Due feeds (as due() decides), leased to this instance: with several instances on one
        database each due feed goes to exactly one of them."""
        feeds = self.app.pipeline.claim(now, far_future=now + timedelta(seconds=MAX_FUTURE),
                                        limit=limit)
        out = []
        for f in feeds:
            nxt = f.next_poll_at
            if nxt is None or nxt <= now or \
                    (nxt - now).total_seconds() > MAX_FUTURE + (f.interval or 300):
                out.append(f)
            else:                 # beyond MAX_FUTURE but within its own interval: not due
                self.app.store.release_claims(self.app.instance, f.url)
        return out

    async def _cycle(self) -> None:
        if self._stop.is_set():
            return
        now = self.clock()
        self._heartbeat(now)
        self._reclaim()
        self.progress.cycle_started(time.monotonic())
        done = lambda _outcome: self.progress.feed_done(time.monotonic())   # noqa: E731
        self.app.pipeline.on_outcome.append(done)
        try:
            report = await self.app.pipeline.poll_claimed(lambda limit: self.claim(now, limit))
        finally:
            self.app.pipeline.on_outcome.remove(done)
            self.progress.cycle_ended()
        if not report.outcomes:
            self.metrics.record_tick()
            return
        self.last_cycle = report
        self._after_cycle(report)

    def _heartbeat(self, now: datetime) -> None:
        roles = getattr(self.sink, "roles", lambda: [])()
        try:
            self.app.store.heartbeat(self.app.instance, now, ",".join(["poll", *roles]))
        except Exception as e:
            log.warning("heartbeat not recorded: %s", e)

    def _reclaim(self) -> None:
        """Now and then, the feed leases of instances of this host that died since (a `poll
        --once` killed mid-cycle beside this service) go back at once, as at start-up, instead
        of after SOKUHO_LEASE."""
        t = time.monotonic()
        if t - self._reclaimed_at >= RECLAIM_EVERY:
            self._reclaimed_at = t
            reclaim_dead(self.app.store)

    def _after_cycle(self, report: CycleReport) -> None:
        m = self.metrics
        now = self.clock()
        events = []
        for o in report.outcomes:
            m.record_fetch(o.status, o.error_kind)
            m.items.inc(o.new_items)
            for item in o.published:
                for wl in item.watchlists:
                    m.matches.labels(watchlist=wl).inc()
            for reason, n in o.dup_reasons.items():
                m.duplicates.labels(reason=reason).inc(n)
            if o.state is not None:
                events += [(k, o.state) for k in health.feed_transitions(o.previous, o.state, now)]
        m.record_cycle(report.duration)
        log.info("cycle: %s", report.summary())
        self.notifier.status(self.status_line(report))
        text = health.admin_message(events, now) if events else None
        if text:
            log.warning("%s", text)
            self._spawn(self.sink.notify_admins(text))

    def status_line(self, report: CycleReport) -> str:
        feeds = [f for f in self.app.store.feeds() if f.enabled]
        failing = sum(1 for f in feeds if f.error_count)
        return (f"{len(feeds)} feeds, {failing} failing; last cycle "
                f"{self.clock().strftime('%H:%M:%S')} UTC: {report.new_items} new, "
                f"{report.matched} matched, {report.duplicates} duplicates")

    async def _recover(self) -> None:
        try:
            await self.app.pipeline.recover()
        except Exception:
            log.exception("publishing stored but unqueued matches failed; retried next tick")

    async def _publish(self, items) -> None:
        await self.sink.publish(items)

    async def _also_in(self, pairs) -> None:
        also_in = getattr(self.sink, "also_in", None)
        if also_in is not None:
            await also_in(pairs)

    async def _sink_tick(self) -> None:
        await self.sink.tick(self.clock())

    async def _prune(self) -> None:
        n = self.app.prune(self.clock())
        if n:
            log.info("pruned %d items older than the retention period", n)

    async def _alive(self) -> bool:
        await asyncio.sleep(0)                  # the loop answers
        if self.progress.stuck(time.monotonic()):
            if self.progress.started != self._stuck_logged:
                self._stuck_logged = self.progress.started
                log.error("poll cycle stuck (%s); health checks fail from now on, so systemd's "
                          "watchdog restarts sokuho", self.progress.describe(time.monotonic()))
            return False
        return bool(self.app and self.app.store.ping())

    async def _clock_guard(self, period: float = 5.0, tolerance: float = 30.0, *,
                           wall=time.time) -> None:
        """If the wall clock jumps (NTP step, suspend/resume), poll due feeds now instead of
        waiting for a schedule computed against the old time. `wall`: injectable for tests."""
        wall_t, mono = wall(), time.monotonic()
        while True:
            await asyncio.sleep(period)
            w, m = wall(), time.monotonic()
            drift = (w - wall_t) - (m - mono)
            wall_t, mono = w, m
            if abs(drift) > tolerance:
                log.warning("wall clock jumped by %+.0fs; rescheduling polls", drift)
                self.on_clock_jump()

    def on_clock_jump(self) -> None:
        if self.scheduler is not None:
            for job_id in ("poll", "sink"):
                self.scheduler.modify_job(job_id, next_run_time=datetime.now(timezone.utc))

    # ------------------------------------------------------------------ reload
    def request_reload(self) -> asyncio.Task:
        """SIGHUP and file edits land here. A burst (editor saves, a SIGHUP storm) settles for a
        moment and collapses into one reload, plus one more if requests arrive during it."""
        self._reload_pending = True
        if self._reload_task is None or self._reload_task.done():
            self._reload_task = self._spawn(self._reload_loop())
        return self._reload_task

    async def reload(self) -> None:
        """Validate first; a valid config swaps in atomically, an invalid one is reported and the
        last good one keeps running."""
        await self.request_reload()

    async def _reload_loop(self) -> None:
        while self._reload_pending:
            await asyncio.sleep(RELOAD_SETTLE)
            self._reload_pending = False
            await self._reload_once()

    async def _reload_once(self) -> None:
        self.notifier.reloading()
        try:
            changes = self.app.reload()
        except ConfigError as e:
            self.metrics.config_reloads.labels(status="invalid").inc()
            log.error("configuration change rejected, the previous configuration stays in "
                      "force:\n%s", e)
            await self.sink.notify_admins(health.config_error_message(e.problems))
        except Exception:
            self.metrics.config_reloads.labels(status="error").inc()
            log.exception("reload failed; the previous configuration stays in force")
        else:
            self.metrics.config_reloads.labels(status="ok").inc()
            for line in changes or ["configuration reloaded (no changes)"]:
                log.info("reload: %s", line)
        finally:
            self.notifier.ready(f"running: {len(self.app.config.watchlists)} watchlists")


def serve(settings: Settings) -> int:
    return asyncio.run(Service(settings).run())
