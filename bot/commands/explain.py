"""`sokuho explain WATCHLIST "text"`: which alias matched where, or why not.
`sokuho explain --recent WATCHLIST [--days N]`: what the watchlist as it is now on disk would have
matched among stored items of the last N days (try a change before it goes live).
`sokuho explain --item GUID`: a stored item's story: the report it was folded into and on what
evidence, or the other outlets' reports folded into it."""
from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from bot.adapters.config import ConfigError, load_config, load_watchlist_file
from bot.adapters.store import Store, StoreError
from bot.core.matcher import Matcher
from bot.core.model import Entry
from bot.ops.recent import rematch
from bot.pipeline import utcnow


def register(sub, parent):
    p = sub.add_parser("explain", parents=[parent], help="why a text matches a watchlist (or not)",
                       description=__doc__)
    p.add_argument("watchlist", nargs="?",
                   help="watchlist name, or a path to a watchlist YAML file")
    p.add_argument("text", nargs="?", help="headline to test (omit with --recent)")
    p.add_argument("--summary", default="", help="also test this summary text")
    p.add_argument("--recent", action="store_true",
                   help="run the watchlist over stored items of the last --days days")
    p.add_argument("--days", type=float, default=7, help="with --recent: how far back (default 7)")
    p.add_argument("--item", metavar="GUID",
                   help="a stored item (guid, as `sokuho match` prints it): which story it joined "
                        "and why")
    p.set_defaults(func=run)


def _load(settings, name: str):
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.exists():
        wl, problems = load_watchlist_file(path)
        if problems:
            raise ConfigError(problems)
        return wl
    cfg = load_config(settings.watchlists, feeds_file=settings.feeds_file)
    if name not in cfg.watchlists:
        known = ", ".join(sorted(cfg.watchlists))
        raise KeyError(f"no watchlist named {name!r} in {settings.watchlists} (known: {known})")
    return cfg.watchlists[name]


def run(args, settings) -> int:
    if args.item:
        return _item(args.item, settings)
    if not args.watchlist:
        print("sokuho: give a watchlist (or --item GUID)", file=sys.stderr)
        return 2
    try:
        wl = _load(settings, args.watchlist)
    except ConfigError as e:
        print(f"sokuho: invalid watchlist:\n{e}", file=sys.stderr)
        return 2
    except KeyError as e:
        print(f"sokuho: {e.args[0]}", file=sys.stderr)
        return 2
    matcher = Matcher([wl])
    if args.recent:
        return _recent(matcher, wl.name, settings, args.days)
    if not args.text:
        print("sokuho: give a text to test, or --recent", file=sys.stderr)
        return 2
    trace = matcher.explain(Entry(id="-", feed="-", title=args.text, link="",
                                  summary=args.summary))
    print(f"{wl.name}: {'MATCH' if trace.hits else 'no match'}")
    for h in trace.hits:
        print(f"  + {h.kind:7} alias {h.alias!r} in {h.field}: {h.text!r}"
              + (f" (score {h.score:.0f})" if h.kind == "fuzzy" else ""))
        for e in h.evidence:            # what the item says for (+) and against (-) this hit
            print(f"      {e}")
    for alias, field, text, why in trace.rejected:
        print(f"  - ignored alias {alias!r} in {field}: {text!r}: {why}")
    if not trace.hits and not trace.rejected:
        print("  no alias of this watchlist occurs in the text")
    return 0 if trace.hits else 1


def _recent(matcher: Matcher, name: str, settings, days: float) -> int:
    try:
        store = Store.open(settings.database, readonly=True)
    except StoreError as e:
        print(f"sokuho: {e}", file=sys.stderr)
        return 3
    since = utcnow() - timedelta(days=days)
    would, before = [], 0
    with store:
        for entry, hits, was in rematch(store, matcher, name, since):
            before += was
            if hits:
                would.append((entry, hits, was))
    for entry, hits, was in would:
        mark = " " if was else "+"
        why = ", ".join(sorted({f"{h.alias}@{h.field}" for h in hits}))
        print(f"{mark} {entry.published or ''}  {entry.title[:90]}  [{why}]  ({entry.feed})")
    new = sum(1 for *_, was in would if not was)
    print(f"{name}: would match {len(would)} stored items of the last {days:g} days "
          f"({new} not matched before; {before} matched before)")
    return 0


def _item(guid: str, settings) -> int:
    try:
        store = Store.open(settings.db_path, readonly=True)
    except StoreError as e:
        print(f"sokuho: {e}", file=sys.stderr)
        return 3
    with store:
        item = store.item(guid)
        info = store.duplicate_info(guid)
        if item is None or info is None:
            print(f"sokuho: no stored item with guid {guid!r} (it may be pruned)", file=sys.stderr)
            return 1
        dup, reason, evidence = info
        print(f"{item.entry.title}  ({item.entry.feed}, {item.entry.published or 'no date'})")
        print("  watchlists: " + (", ".join(item.watchlists) or "none"))
        if reason is None:
            print("  first report of its story")
            if item.also_in:
                print("  also in: " + ", ".join(item.also_in))
            return 0
        first = store.item(dup) if dup else None
        head = (f"{first.entry.title!r} ({dup}, {first.entry.feed})" if first
                else f"{dup or 'an item since pruned'}")
        if reason == "story":
            print(f"  folded into the story of {head}: another outlet's report of the same event")
        else:
            what = {"guid": "the same guid", "url": "the same link", "title": "the same headline",
                    "similar": "a lightly edited headline and summary"}.get(reason, reason)
            print(f"  folded into {head}: a copy ({what})")
        for line in evidence:
            print(f"    {line}")
    return 0
