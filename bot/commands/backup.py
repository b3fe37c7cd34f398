"""`sokuho backup FILE`: a consistent copy of the state database, safe while the service runs."""
from __future__ import annotations

import sqlite3
import sys
import urllib.parse
from pathlib import Path


def register(subparsers, parent) -> None:
    p = subparsers.add_parser(
        "backup", parents=[parent], help="copy the state database (safe while running)",
        description="Write a consistent, self-contained copy of the state database to FILE "
                    "(SQLite online backup: the service keeps running and writing). Restore by "
                    "stopping the service and copying FILE over sokuho.db.")
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.set_defaults(func=run)


def verify(path: Path) -> tuple[bool, int]:
    """(integrity ok, item count) of a backup file."""
    uri = "file:" + urllib.parse.quote(str(Path(path).resolve())) + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True)
    try:
        ok = conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        try:
            items = conn.execute("SELECT COUNT(*) FROM items").fetchone()[0]
        except sqlite3.Error:
            items = 0
        return ok, items
    finally:
        conn.close()


def run(args, settings) -> int:
    from bot.adapters.store import Store, StoreError
    from bot.ops.status import human_size, restore_ownership

    dest: Path = args.file
    src = settings.db_path
    if dest.exists() and not args.force:
        print(f"sokuho backup: {dest} exists (use --force to overwrite)", file=sys.stderr)
        return 1
    if dest.exists() and src.exists() and dest.resolve() == src.resolve():
        print(f"sokuho backup: {dest} is the database itself", file=sys.stderr)
        return 1
    try:
        store = Store.open(src, readonly=True)
    except StoreError as e:
        print(f"sokuho backup: {e}", file=sys.stderr)
        return 1
    try:
        store.backup(dest)
    except StoreError as e:
        print(f"sokuho backup: {e}", file=sys.stderr)
        return 1
    finally:
        store.close()
        restore_ownership(src)
    try:
        ok, items = verify(dest)
    except sqlite3.Error as e:
        print(f"sokuho backup: wrote {dest} but cannot read it back: {e}", file=sys.stderr)
        return 1
    if not ok:
        print(f"sokuho backup: {dest} failed its integrity check", file=sys.stderr)
        return 1
    print(f"backup {src} -> {dest}: {human_size(dest.stat().st_size)}, {items} items, integrity ok")
    return 0
