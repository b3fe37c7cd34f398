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
                    "stopping the service and copying FILE over sokuho.db. With PostgreSQL "
                    "(SOKUHO_DATABASE_URL) FILE is a pg_dump custom-format archive: restore it "
                    "with pg_restore.")
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


def find_pg_dump() -> str | None:
    """pg_dump on PATH, else the newest under /usr/lib/postgresql/*/bin (Debian)."""
    import glob
    import shutil
    found = shutil.which("pg_dump")
    if found:
        return found
    cands = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"),
                   key=lambda p: int(p.split("/")[-3]) if p.split("/")[-3].isdigit() else 0)
    return cands[-1] if cands else None


def run_pg(args, settings) -> int:
    """PostgreSQL: pg_dump's custom format (consistent while every instance keeps writing);
    the password, if the URL has one, goes to pg_dump in its environment, not its arguments."""
    import os
    import subprocess
    import urllib.parse
    from bot.adapters.store_pg import redact
    from bot.ops.status import human_size

    dest: Path = args.file
    url = settings.database_url
    shown = redact(url)
    if dest.exists() and not args.force:
        print(f"sokuho backup: {dest} exists (use --force to overwrite)", file=sys.stderr)
        return 1
    pg_dump = find_pg_dump()
    if pg_dump is None:
        print("sokuho backup: pg_dump not found (install the PostgreSQL client: apt-get install "
              "postgresql-client, matching or newer than the server's major version)",
              file=sys.stderr)
        return 1
    env = dict(os.environ)
    u = urllib.parse.urlsplit(url)
    if u.password:
        env["PGPASSWORD"] = urllib.parse.unquote(u.password)
        host = u.netloc.rsplit("@", 1)[1]
        user = u.netloc.rsplit("@", 1)[0].split(":", 1)[0]
        url = urllib.parse.urlunsplit((u.scheme, f"{user}@{host}", u.path, u.query, u.fragment))
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        r = subprocess.run([pg_dump, "--format=custom", "--no-owner", f"--file={tmp}",
                            f"--dbname={url}"], env=env, capture_output=True, text=True)
        if r.returncode:
            err = " ".join(r.stderr.split()).replace(settings.database_url, shown)
            print(f"sokuho backup: pg_dump of {shown} failed: {err}", file=sys.stderr)
            return 1
        listing = subprocess.run([str(Path(pg_dump).with_name("pg_restore")), "--list",
                                  str(tmp)], capture_output=True, text=True)
        if listing.returncode:
            print(f"sokuho backup: wrote {dest} but pg_restore cannot read it: "
                  f"{listing.stderr.strip()}", file=sys.stderr)
            return 1
        tables = sum(1 for line in listing.stdout.splitlines() if " TABLE DATA " in line)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    print(f"backup {shown} -> {dest}: {human_size(dest.stat().st_size)}, pg_dump custom "
          f"format, {tables} tables; restore into an empty database with "
          f"`pg_restore --no-owner -d postgresql://… {dest}`")
    return 0


def run(args, settings) -> int:
    from bot.adapters.store import Store, StoreError
    from bot.ops.status import human_size, restore_ownership

    if settings.database_url:
        return run_pg(args, settings)
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
