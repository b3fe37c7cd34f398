"""`sokuho poll --once`: one full cycle over feeds.yaml, then a one-screen summary."""
from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

from bot.adapters.config import ConfigError
from bot.adapters.console import ConsoleSink
from bot.adapters.store import StoreError
from bot.app import App
from bot.core.model import utcnow
from bot.progress import Progress


def register(sub, parent):
    p = sub.add_parser("poll", parents=[parent], help="poll every feed once, store, print matches",
                       description="One full cycle over feeds.yaml: fetch, parse, match, "
                                   "de-duplicate, store, deliver to the console; then a summary.")
    p.add_argument("--once", action="store_true", required=True,
                   help="one cycle, then exit (the service is `sokuho run`)")
    p.add_argument("--quiet", action="store_true", help="print only the summary")
    p.set_defaults(func=run)


async def _cycle(settings, quiet: bool) -> int:
    sink = ConsoleSink(max_items=settings.digest_max_items)
    async def publish(items):
        if not quiet:
            await sink.publish(items)
    async def also_in(pairs):
        if not quiet:
            await sink.also_in(pairs)
    try:
        app = await App.open(settings, publish=publish, also_in=also_in, command="poll")
    except ConfigError as e:
        print(f"sokuho: invalid configuration:\n{e}", file=sys.stderr)
        return 2
    except StoreError as e:
        print(f"sokuho: {e}", file=sys.stderr)
        return 3
    try:
        if not any(f.enabled for f in app.store.feeds()):
            print(f"no feeds configured in {settings.feeds_file}", file=sys.stderr)
            return 1
        # Every feed not polled since the earliest `poll --once` still running started: alone,
        # that is every feed; with other instances at the same moment, one shared cycle in which
        # each feed is fetched once (leases keep them apart).
        now = utcnow()
        floor = app.store.cycle_floor(alive_since=now - timedelta(seconds=app.pipeline.lease))
        since = min(floor or now, now)
        total = sum(1 for f in app.store.feeds() if f.enabled)
        progress = Progress(total, "polling")
        app.pipeline.on_outcome.append(lambda o: progress.step(o.name))
        report = await app.pipeline.poll_claimed(
            lambda limit: app.pipeline.claim(utcnow(), unpolled_since=since, limit=limit))
        if not report.outcomes:
            print("every feed was polled in this cycle by another instance", file=sys.stderr)
        progress.done()
        app.prune()
    finally:
        await app.close()
    print(summary_screen(report))
    return 0 if not report.outcomes or report.count("failed") < len(report.outcomes) else 1


def summary_screen(report) -> str:
    lines = [f"cycle: {report.summary()}"]
    failed = [o for o in report.outcomes if o.status == "failed"]
    for o in failed[:15]:
        attempts = o.state.error_count if o.state else "?"
        lines.append(f"  FAILED {o.name}: {o.error} (attempt {attempts})")
    if len(failed) > 15:
        lines.append(f"  ... and {len(failed) - 15} more failing feeds (see `sokuho status`)")
    return "\n".join(lines)


def run(args, settings) -> int:
    return asyncio.run(_cycle(settings, args.quiet))
