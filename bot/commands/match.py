"""`sokuho match [--watchlists DIR] SOURCE...` — match feed files or URLs, print JSON Lines.

Contract (other tools rely on it): sources are processed in the order given, entries in feed order,
de-duplicated against earlier items of the same run only; no state is written. One JSON object per
entry on stdout:
  {"id", "feed", "title", "link", "watchlists": [...], "duplicate_of": id|null, "why": [...]}

Several sources are parsed, normalised and matched in parser worker processes in parallel; the
duplicate check runs here, source after source in the order given, so the output is the same as
one source at a time.
"""
from __future__ import annotations

import asyncio
import json
import logging
import sys

from bot.adapters.config import ConfigError, load_config
from bot.adapters.fetch import Fetcher
from bot.adapters.parse_pool import ParserPool
from bot.core.dedup import Deduper
from bot.core.matcher import Matcher
from bot.core.process import Processor

log = logging.getLogger("sokuho.match")

# json.dumps(obj, ensure_ascii=False) builds a new encoder for every call: one, built once, writes
# the same text
_encode = json.JSONEncoder(ensure_ascii=False).encode


def register(sub, parent):
    p = sub.add_parser("match", parents=[parent], help="match feed files or URLs (JSON Lines)",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("sources", nargs="+", metavar="SOURCE", help="feed file path or http(s) URL")
    p.add_argument("--window", default=None, metavar="DURATION",
                   help="near-duplicate time window (default: 48h, or SOKUHO_DEDUP_WINDOW)")
    p.set_defaults(func=run)


async def _read_all(sources: list[str], user_agent: str,
                    allow_private: bool = False) -> list[tuple[str, object]]:
    out = []
    async with Fetcher(user_agent=user_agent, allow_private=allow_private) as fetcher:
        results = await asyncio.gather(*(fetcher.fetch(s) for s in sources))
    for src, res in zip(sources, results):
        out.append((src, res))
    return out


def dup_why(dup) -> list[dict]:
    """A folded item's `why` ends with one entry saying what it was folded into and why:
    kind "copy" (same guid, URL or a lightly edited headline) or "story" (another outlet's own
    report of the same event, with the evidence)."""
    if dup.duplicate_of is None:
        return []
    kind = "story" if dup.reason == "story" else "copy"
    return [{"kind": kind, "duplicate_of": dup.duplicate_of, "reason": dup.reason,
             "score": round(dup.score, 3), "evidence": list(dup.evidence)}]


def run(args, settings) -> int:
    try:
        cfg = load_config(settings.watchlists, feeds_file=settings.feeds_file)
    except ConfigError as e:
        print(f"sokuho: invalid configuration:\n{e}", file=sys.stderr)
        return 2
    window = settings.dedup_window
    if args.window:
        from bot.core.watchlist import parse_duration
        window = parse_duration(args.window)
    processor = Processor(Matcher(cfg.watchlists), Deduper(window))
    return asyncio.run(_run(args.sources, settings, processor))


async def _run(sources: list[str], settings, processor: Processor) -> int:
    fetched = await _read_all(sources, settings.user_agent, settings.allow_private_networks)
    kind = "process" if sum(1 for _, res in fetched if res.ok) > 1 else "inline"
    with ParserPool(kind, nice=settings.parser_nice) as pool:
        jobs = [asyncio.ensure_future(pool.parse(res.body, feed_name=src, headers=res.headers,
                                                 base_url=src, preparer=processor.preparer))
                if res.ok else None for src, res in fetched]
        try:
            return await _write(fetched, jobs, processor)
        finally:
            for j in jobs:
                if j is not None:
                    j.cancel()


async def _write(fetched, jobs, processor: Processor) -> int:
    """Results in source order (later sources go on parsing meanwhile), deduplicated here. Each
    source's lines are written with one call and flushed when the source is done (25,000 writes
    of one line each cost more than the duplicate check of those lines)."""
    failures = 0
    out = sys.stdout
    for (src, res), job in zip(fetched, jobs):
        if not res.ok:
            log.error("%s", res.error)
            failures += 1
            continue
        parsed = await job
        if parsed.failed:
            log.error("%s: not a feed (%s)", src, parsed.bozo or "no entries")
            failures += 1
            continue
        if parsed.bozo:
            log.warning("%s: feed has problems, entries kept: %s", src, parsed.bozo)
        prepared = parsed.prepared if parsed.prepared_by == processor.preparer.version else None
        lines = []
        for i, entry in enumerate(parsed.entries):
            p = processor.decide(entry, prepared[i] if prepared else processor.prepare(entry))
            lines.append(_encode({
                "id": entry.id, "feed": src, "title": entry.title, "link": entry.link,
                "watchlists": p.watchlists, "duplicate_of": p.dup.duplicate_of,
                "why": [h.as_dict() for h in p.hits] + dup_why(p.dup),
            }))
        if lines:
            lines.append("")
            out.write("\n".join(lines))
            out.flush()
    out.flush()
    return 1 if failures else 0
