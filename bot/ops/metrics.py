"""Prometheus metrics (own registry) and the optional localhost /metrics + /healthz endpoint.

    metrics = Metrics()
    await metrics.start_server(port=settings.metrics_port, check=store.ping,
                               max_cycle_age=3 * default_interval)
    metrics.feeds_polled.labels(status="ok").inc()      # ok | not_modified | failed
    metrics.record_cycle(duration_seconds)                # at the end of every cycle
    await metrics.stop()
"""
from __future__ import annotations

import logging
import time
from typing import Awaitable, Callable

from aiohttp import web
from bot.ops.sdnotify import run_check
from prometheus_client import (CollectorRegistry, Counter, Gauge, Histogram,
                               generate_latest)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

log = logging.getLogger(__name__)

Check = Callable[[], "Awaitable[bool] | bool"]


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None, namespace: str = "sokuho", *,
                 monotonic: Callable[[], float] = time.monotonic):
        self.monotonic = monotonic               # health ages (injectable for tests)
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r, ns = self.registry, namespace
        self.feeds_polled = Counter("feeds_polled", "Feed polls by outcome (ok, not_modified, "
                                    "failed)", ["status"], namespace=ns, registry=r)
        self.fetch_errors = Counter("fetch_errors", "Failed fetches by kind (timeout, connect, "
                                    "http_5xx, ...)", ["kind"], namespace=ns, registry=r)
        self.items = Counter("items", "New items stored", namespace=ns, registry=r)
        self.matches = Counter("matches", "Items matched, by watchlist", ["watchlist"],
                               namespace=ns, registry=r)
        self.duplicates = Counter("duplicates", "Duplicates folded, by reason (guid, url, title, "
                                  "similar)", ["reason"], namespace=ns, registry=r)
        self.deliveries = Counter("deliveries", "Telegram deliveries by outcome (sent, failed, "
                                  "retried)", ["status"], namespace=ns, registry=r)
        self.telegram_429 = Counter("telegram_429", "Telegram 429 Too Many Requests answers",
                                    namespace=ns, registry=r)
        self.cycle_duration = Histogram(
            "cycle_duration_seconds", "Duration of a poll cycle", namespace=ns, registry=r,
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300))
        self.last_cycle = Gauge("last_cycle_timestamp_seconds",
                                "Unix time the last poll cycle finished", namespace=ns, registry=r)
        self.config_reloads = Counter("config_reloads", "Configuration reloads by outcome "
                                      "(ok, invalid)", ["status"], namespace=ns, registry=r)
        self._last_cycle_mono: float | None = None
        self._last_tick_mono: float | None = None
        self._started_mono = monotonic()
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        self.check: Check | None = None
        self.max_cycle_age = 900.0

    # ------------------------------------------------------------------ recording helpers
    def record_fetch(self, status: str, error_kind: str | None = None) -> None:
        self.feeds_polled.labels(status=status).inc()
        if status == "failed":
            self.fetch_errors.labels(kind=error_kind or "other").inc()

    def record_cycle(self, duration: float) -> None:
        self.cycle_duration.observe(duration)
        self.last_cycle.set(time.time())
        self._last_cycle_mono = self.monotonic()     # health uses monotonic: immune to clock jumps

    def record_tick(self) -> None:
        """The scheduler ran but no feed was due: alive, though no cycle was recorded. Call it on
        empty ticks so /healthz does not turn 503 when every feed has a long interval."""
        self._last_tick_mono = self.monotonic()

    def record_delivery(self, status: str, n: int = 1) -> None:
        """Telegram outcomes, one per message: sent | retried | failed (given up or chat gone)."""
        if n:
            self.deliveries.labels(status=status).inc(n)

    def record_429(self) -> None:
        self.telegram_429.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)

    # ------------------------------------------------------------------ health
    async def health(self) -> tuple[bool, dict]:
        now = self.monotonic()
        body: dict = {"uptime_seconds": round(now - self._started_mono, 1)}
        problems = []
        last = max((t for t in (self._last_cycle_mono, self._last_tick_mono) if t is not None),
                   default=None)
        body["last_cycle_age_seconds"] = (None if self._last_cycle_mono is None
                                          else round(now - self._last_cycle_mono, 1))
        if last is None:
            problems.append("no poll cycle finished yet")
        else:
            age = now - last
            if age > self.max_cycle_age:
                problems.append(f"last poll cycle finished {age:.0f}s ago "
                                f"(limit {self.max_cycle_age:.0f}s)")
        store_ok = await run_check(self.check, 5.0, "health check") if self.check is not None else True
        body["store"] = "ok" if store_ok else "failing"
        if not store_ok:
            problems.append("state database does not answer")
        body["status"] = "ok" if not problems else "unhealthy"
        if problems:
            body["problems"] = problems
        return not problems, body

    # ------------------------------------------------------------------ server
    async def start_server(self, host: str = "127.0.0.1", port: int = 0, *,
                           check: Check | None = None, max_cycle_age: float | None = None) -> int:
        """Serve /metrics and /healthz; returns the bound port (port=0 picks a free one)."""
        self.check = check
        if max_cycle_age is not None:
            self.max_cycle_age = max_cycle_age
        app = web.Application()
        app.router.add_get("/metrics", self._metrics_view)
        app.router.add_get("/healthz", self._healthz_view)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port, reuse_address=True)
        try:
            await site.start()
        except OSError as e:
            await runner.cleanup()
            raise OSError(e.errno, f"metrics endpoint: cannot listen on {host}:{port}: "
                                   f"{e.strerror or e}") from e
        self._runner = runner
        addresses = runner.addresses           # [(host, port), ...] actually bound
        self.port = addresses[0][1] if addresses else port
        log.info("metrics on http://%s:%s/metrics, health on /healthz", host, self.port)
        return self.port

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _metrics_view(self, request: web.Request) -> web.Response:
        # Rendering is synchronous but cheap (a few dozen series).
        return web.Response(body=self.render(), headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})

    async def _healthz_view(self, request: web.Request) -> web.Response:
        ok, body = await self.health()
        return web.json_response(body, status=200 if ok else 503)

