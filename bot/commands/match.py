"""`sokuho match [--watchlists DIR] SOURCE...` — match feed files or URLs, print JSON Lines.

Contract (other tools rely on it): sources are processed in the order given, entries in feed order,
de-duplicated against earlier items of the same run only; no state is written. One JSON object per
entry on stdout:
  {"id", "feed", "title", "link", "watchlists": [...], "duplicate_of": id|null, "why": [...]}
"""
from __future__ import annotations

import asyncio
import json
import logging
import sys

from bot.adapters.config import ConfigError, load_config
from bot.adapters.fetch import Fetcher
from bot.adapters.parse import parse_feed
from bot.core.dedup import Deduper
from bot.core.matcher import Matcher
from bot.core.process import Processor

log = logging.getLogger("sokuho.match")


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
    failures = 0
    out = sys.stdout
    for src, res in asyncio.run(_read_all(args.sources, settings.user_agent,
                                             settings.allow_private_networks)):
        if not res.ok:
            log.error("%s", res.error)
            failures += 1
            continue
        parsed = parse_feed(res.body, feed_name=src, headers=res.headers, base_url=src)
        if parsed.failed:
            log.error("%s: not a feed (%s)", src, parsed.bozo or "no entries")
            failures += 1
            continue
        if parsed.bozo:
            log.warning("%s: feed has problems, entries kept: %s", src, parsed.bozo)
        for entry in parsed.entries:
            p = processor.process(entry)
            out.write(json.dumps({
                "id": entry.id, "feed": src, "title": entry.title, "link": entry.link,
                "watchlists": p.watchlists, "duplicate_of": p.dup.duplicate_of,
                "why": [h.as_dict() for h in p.hits] + dup_why(p.dup),
            }, ensure_ascii=False) + "\n")
    out.flush()
    return 1 if failures else 0
