"""`sokuho feeds import FILE.opml | export | list`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.ops import opml


def _leaf_parent():
    """The common options again, for the action parsers, with defaults suppressed: argparse
    copies a sub-parser's defaults over values already parsed, so `sokuho feeds --watchlists X
    import F` would lose X. Independent copies (the action objects of `parent` are shared)."""
    from bot.cli import common_parent
    p = common_parent()
    for action in p._actions:
        action.default = argparse.SUPPRESS
    return p


def register(subparsers, parent) -> None:
    leaf = _leaf_parent()
    p = subparsers.add_parser("feeds", parents=[parent], help="list, import (OPML) and export feeds",
                              description="Manage the feed list (feeds.yaml in the watchlists "
                                          "folder).")
    sub = p.add_subparsers(dest="feeds_command", metavar="ACTION")
    imp = sub.add_parser("import", parents=[leaf], help="add the feeds of an OPML file",
                         description="Add every feed of an OPML file to feeds.yaml (comments "
                                     "kept, feeds already listed by URL skipped). The running "
                                     "service picks the change up by itself.")
    imp.add_argument("file", type=Path, metavar="FILE.opml")
    imp.add_argument("--dry-run", action="store_true", help="show what would be added")
    sub.add_parser("export", parents=[leaf], help="print the feeds as OPML 2.0",
                   description="Print feeds.yaml as OPML 2.0 on stdout.")
    sub.add_parser("list", parents=[leaf], help="list the configured feeds")
    p.set_defaults(func=run, _feeds_parser=p)


def _load(settings):
    from bot.adapters.config import load_feeds
    feedlist, problems = load_feeds(settings.feeds_file)
    if problems:
        for prob in problems:
            print(prob, file=sys.stderr)
        return None
    return feedlist


def run(args, settings) -> int:
    action = getattr(args, "feeds_command", None)
    if action == "import":
        try:
            added, skipped, refused = opml.import_opml(args.file, settings.feeds_file,
                                                       dry_run=args.dry_run)
        except opml.OpmlError as e:
            print(f"sokuho feeds import: {e}", file=sys.stderr)
            return 1
        except OSError as e:
            print(f"sokuho feeds import: cannot write {settings.feeds_file}: {e.strerror or e}",
                  file=sys.stderr)
            return 1
        verb = "would add" if args.dry_run else "added"
        print(f"{verb} {len(added)} feed(s) to {settings.feeds_file}; "
              f"skipped {len(skipped)} already listed")
        for f in added:
            print(f"  + {f.name}  {f.url}" + ("" if f.enabled else "  (disabled)"))
        if refused:
            print(f"refused {len(refused)} outline(s): an OPML file may only name http(s) feeds "
                  "on public hosts (add others to feeds.yaml by hand)")
        for r in refused:
            print(f"  ! {r.name}  {r.url!r}: {r.reason}")
        return 1 if refused and not added else 0
    if action in ("export", "list"):
        feedlist = _load(settings)
        if feedlist is None:
            return 1
        if action == "export":
            sys.stdout.write(opml.export_opml(feedlist.feeds))
            return 0
        if not feedlist.feeds:
            print(f"no feeds in {settings.feeds_file}")
            return 0
        w = max(len(f.name) for f in feedlist.feeds)
        for f in feedlist.feeds:
            every = int(feedlist.interval_of(f))
            flags = f"{f.lang or '-':<5} every {every}s" + ("" if f.enabled else "  disabled")
            print(f"{f.name:<{w}}  {flags}  {f.url}")
        return 0
    args._feeds_parser.print_help()
    return 2
