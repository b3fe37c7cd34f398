"""`sokuho status`: feeds and deliveries at a glance, read-only (fine while the service runs)."""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone


def register(subparsers, parent) -> None:
    p = subparsers.add_parser(
        "status", parents=[parent], help="show feed health and deliveries",
        description="Show every feed (last success, last error, errors in a row, items, next "
                    "poll, HTTP validators) and Telegram deliveries per chat. Opens the state "
                    "database read-only: safe while the service runs.")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--all", action="store_true", help="include disabled feeds")
    p.set_defaults(func=run)


def run(args, settings) -> int:
    from bot.adapters.store import Store, StoreError
    from bot.ops import status

    now = datetime.now(timezone.utc)
    try:
        store = Store.open(settings.database, readonly=True)
    except StoreError as e:
        print(f"sokuho status: {e}", file=sys.stderr)
        return 1
    try:
        data = status.collect(store, now, include_disabled=args.all)
    except StoreError as e:
        print(f"sokuho status: {e}", file=sys.stderr)
        return 1
    finally:
        store.close()
        if not settings.database_url:
            status.restore_ownership(settings.db_path)
    if args.json:
        json.dump(status.for_json(data), sys.stdout, ensure_ascii=False, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        print(status.render(data, now))
    return 0
