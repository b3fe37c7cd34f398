"""`sokuho feedback`: aliases readers most often mark off-topic, each with a suggested watchlist
edit (an exclude phrase, an `unless` word, a context requirement) and how many stored stories it
would change; `--apply N` writes suggestion N into the watchlist file (validated, comments kept;
a running service reloads it)."""
from __future__ import annotations

import json
import sys

from bot.core.model import utcnow


def register(sub, parent):
    p = sub.add_parser("feedback", parents=[parent], description=__doc__,
                       help="readers' off-topic marks and suggested watchlist edits")
    p.add_argument("--days", type=float, default=30, help="marks of the last N days (30)")
    p.add_argument("--limit", type=int, default=5, help="at most N aliases (5)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--apply", type=int, metavar="N", help="apply suggestion N of the list")
    p.set_defaults(func=run)


def run(args, settings) -> int:
    from bot.adapters.config import ConfigError, load_config
    from bot.adapters.store import Store, StoreError
    from bot.adapters.yamledit import EditError
    from bot.ops import suggest

    try:
        cfg = load_config(settings.watchlists, feeds_file=settings.feeds_file)
    except ConfigError as e:
        print(f"sokuho feedback: invalid watchlists:\n{e}", file=sys.stderr)
        return 2
    try:
        store = Store.open(settings.db_path, readonly=True)
    except StoreError as e:
        print(f"sokuho feedback: {e}", file=sys.stderr)
        return 3
    with store:
        if not suggest.has_tables(store):
            found = []
        else:
            found = suggest.suggest(store, cfg.watchlists, utcnow(), days=args.days,
                                    limit=args.limit)
    if args.apply is not None:
        if not 1 <= args.apply <= len(found) or found[args.apply - 1].kind is None:
            print(f"sokuho feedback: no suggestion {args.apply} (run `sokuho feedback`)",
                  file=sys.stderr)
            return 2
        s = found[args.apply - 1]
        try:
            res = suggest.apply(settings.watchlists, s)
        except (EditError, OSError) as e:
            print(f"sokuho feedback: not changed: {e}", file=sys.stderr)
            return 1
        print(f"applied to {res.path}: {s.describe()}")
        return 0
    if args.json:
        json.dump([s.as_dict() for s in found], sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        print(suggest.render(found, args.days))
    return 0
