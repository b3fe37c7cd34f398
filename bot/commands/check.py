"""`sokuho check`: validate watchlists and feeds.yaml; exit non-zero on any error."""
from __future__ import annotations

import sys

from bot.adapters.config import ConfigError, load_config


def register(sub, parent):
    p = sub.add_parser("check", parents=[parent], help="validate watchlists and feeds.yaml",
                       description="Validate every watchlist file and feeds.yaml. Errors name "
                                   "file:line:column and the field; exit status 1 on any error.")
    p.set_defaults(func=run)


def run(args, settings) -> int:
    try:
        cfg = load_config(settings.watchlists, feeds_file=settings.feeds_file)
    except ConfigError as e:
        n = len(e.problems)
        for p in e.problems:
            print(f"error: {p}", file=sys.stderr)
        print(f"{n} error{'s' if n != 1 else ''} in {settings.watchlists}", file=sys.stderr)
        return 1
    aliases = sum(len(w.all_aliases()) for w in cfg.watchlists.values())
    for name, w in cfg.watchlists.items():
        print(f"ok  {cfg.files[name]}: {name} ({len(w.all_aliases())} aliases in "
              f"{', '.join(w.aliases)}; {len(w.excludes)} excludes)")
    feeds = cfg.feeds.feeds
    print(f"ok  {settings.feeds_file}: {len(feeds)} feeds "
          f"({sum(1 for f in feeds if f.enabled)} enabled)")
    print(f"valid: {len(cfg.watchlists)} watchlists, {aliases} aliases, {len(feeds)} feeds")
    return 0
