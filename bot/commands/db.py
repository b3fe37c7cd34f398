"""`sokuho db migrate --from state/sokuho.db --to postgresql://…`: move an installation from
SQLite to PostgreSQL (feeds, items, matches, Telegram chats, subscriptions, outbox, feedback:
every table the two databases share), then verify the row counts table by table.

Stop the service first (`systemctl stop sokuho`): the copy is one consistent read of the SQLite
file, and whatever the service wrote after it would not be moved.
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

# components whose tables live in the store: importing them registers their migrations
COMPONENTS = ("bot.telegram.outbox", "bot.telegram.feedback_store")
SKIP = {"schema_migrations", "instances"}     # the destination keeps its own


def register(subparsers, parent) -> None:
    p = subparsers.add_parser(
        "db", parents=[parent], help="database maintenance (move SQLite to PostgreSQL)",
        description="Database maintenance. `sokuho db migrate --from FILE --to URL` copies an "
                    "SQLite state database into an empty PostgreSQL database and verifies the "
                    "row counts of every table.")
    sub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    m = sub.add_parser("migrate", parents=[parent], help="copy SQLite into PostgreSQL",
                       description="Copy every table of the SQLite state database FILE into the "
                                   "PostgreSQL database URL (which must hold no items or "
                                   "feeds yet), then compare row counts. Stop the service "
                                   "first.")
    m.add_argument("--from", dest="source", metavar="FILE", type=Path,
                   help="the SQLite database (default: sokuho.db in the state folder)")
    m.add_argument("--to", dest="dest", metavar="URL",
                   help="the PostgreSQL database (default: $SOKUHO_DATABASE_URL)")
    m.set_defaults(func=run_migrate)


def _load_components() -> None:
    for name in COMPONENTS:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError:
            pass


def _fk_order(src, tables: list[str]) -> list[str]:
    """Parents before children (SQLite's foreign key list), otherwise alphabetical."""
    deps = {t: {r[2] for r in src.conn.execute(f'PRAGMA foreign_key_list("{t}")')} & set(tables)
            for t in tables}
    out: list[str] = []
    while deps:
        ready = sorted(t for t, d in deps.items() if not d - set(out) - {t})
        if not ready:                      # a cycle: keep going in name order
            ready = sorted(deps)[:1]
        for t in ready:
            out.append(t)
            del deps[t]
    return out


def copy(src, dst, *, page: int = 5000, out=sys.stdout) -> list[tuple[str, int, int]]:
    """Copy the common tables and columns in ONE destination transaction; returns (table,
    source rows, destination rows). Identity sequences are moved past the copied ids."""
    src_tables = [r[0] for r in src.conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    tables = [t for t in src_tables if t not in SKIP and dst.has_table(t)]
    missing = sorted(set(src_tables) - set(tables) - SKIP)
    if missing:
        print(f"not copied (no such table in this version): {', '.join(missing)}", file=out)
    result = []
    src.conn.execute("BEGIN")                      # one snapshot of every table
    try:
        with dst.transaction() as c:
            for t in _fk_order(src, tables):
                cols = [col for col in (r[1] for r in src.conn.execute(f'PRAGMA table_info("{t}")'))
                        if col in dst.columns(t)]
                names = ", ".join(f'"{col}"' for col in cols)
                ins = (f'INSERT INTO "{t}" ({names}) VALUES ({", ".join("?" * len(cols))})')
                cur = src.conn.execute(f'SELECT {names} FROM "{t}"')
                n = 0
                while rows := cur.fetchmany(page):
                    c.executemany(ins, rows)
                    n += len(rows)
                if "id" in cols:
                    c.execute(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), "
                              f'COALESCE((SELECT MAX(id) FROM "{t}"), 0) + 1, false)')
                copied = c.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]
                result.append((t, n, copied))
            if dst.has_table("feeds"):             # SQLite's leases mean nothing here
                c.execute("UPDATE feeds SET claimed_by = NULL, lease_until = NULL")
            bad = [r for r in result if r[1] != r[2]]
            if bad:
                raise RuntimeError("row counts differ after the copy: " + ", ".join(
                    f"{t} {a} -> {b}" for t, a, b in bad))
    finally:
        src.conn.execute("ROLLBACK")
    return result


def run_migrate(args, settings) -> int:
    from bot.adapters.store import Store, StoreError
    from bot.adapters.store_pg import is_pg_url, redact
    from bot.ops.status import table

    source = args.source or settings.db_path
    dest = args.dest or settings.database_url
    if not dest or not is_pg_url(dest):
        print("sokuho db migrate: --to postgresql://user@host/db is required (or "
              "SOKUHO_DATABASE_URL)", file=sys.stderr)
        return 2
    if not Path(source).is_file():
        print(f"sokuho db migrate: {source}: no such SQLite database", file=sys.stderr)
        return 1
    _load_components()
    try:
        src = Store.open(source)                 # brings an older file up to this version
    except StoreError as e:
        print(f"sokuho db migrate: {e}", file=sys.stderr)
        return 1
    try:
        try:
            dst = Store.open(dest)
        except StoreError as e:
            print(f"sokuho db migrate: {e}", file=sys.stderr)
            return 1
        try:
            c = dst.counts()
            if c["items"] or c["feeds"]:
                print(f"sokuho db migrate: {redact(dest)} already holds {c['feeds']} feeds and "
                      f"{c['items']} items; migrate into an empty database", file=sys.stderr)
                return 1
            result = copy(src, dst)
        except (StoreError, RuntimeError) as e:
            print(f"sokuho db migrate: {e}; nothing was committed", file=sys.stderr)
            return 1
        finally:
            dst.close()
    finally:
        src.close()
    print(table(["TABLE", "SQLITE", "POSTGRESQL"], [[t, str(a), str(b)] for t, a, b in result]))
    print(f"copied {sum(a for _, a, _ in result)} rows of {len(result)} tables from {source} "
          f"to {redact(dest)}; counts verified")
    print(f"next: set SOKUHO_DATABASE_URL={redact(dest)} (or the database-url credential) and "
          "start the service")
    return 0
