"""The state store: SQLite (WAL, the embedded default) or PostgreSQL (a `postgresql://` URL, for
several instances on one database), with versioned per-component migrations applied at open by
one instance at a time. All SQL is in store_sql.py; store_pg.py adapts it for PostgreSQL.

One connection per Store, guarded by an RLock so the store can be used from worker threads
(asyncio.to_thread) as well as the loop. Timestamps: see store_sql.to_ts.
"""
from __future__ import annotations

import asyncio
import errno
import os
import sqlite3
import threading
import urllib.parse
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, ClassVar, Iterable, Iterator

from bot.core.model import utcnow
from bot.adapters import store_sql as Q
from bot.adapters.files import private_dir, private_file
from bot.adapters.store_pg import PgConn, convert_pg_error, is_pg_url, lock_key, pg_ddl, redact
from bot.adapters.store_base import (CHUNK, FeedState, StoreError, chunks, convert_error,
                                     item_from_row, marks)

__all__ = ["FeedState", "Store", "StoreError"]
from bot.adapters.store_sql import from_ts, to_ts
from bot.core.model import Entry, Hit, Processed, StoredItem

try:
    from bot.core.urlclean import canonical_url
except ImportError:          # the URL cleaner is optional: the link as given is then canonical
    def canonical_url(link: str) -> str:
        return link


class Store:
    MIGRATIONS: ClassVar[dict[str, list[str]]] = {"core": list(Q.CORE_MIGRATIONS),
                                                   "cluster": list(Q.CLUSTER_MIGRATIONS)}

    @classmethod
    def register_migrations(cls, component: str, scripts: list[str]) -> None:
        """Migrations are append-only: registering again with the same or a longer list (whose
        start is unchanged) is fine; changing an already-registered script is a ValueError."""
        old = cls.MIGRATIONS.get(component, [])
        new = list(scripts)
        common = min(len(old), len(new))
        if old[:common] != new[:common]:
            raise ValueError(f"migrations of component {component!r} changed: they are "
                             "append-only (add a new script instead of editing one)")
        if len(new) > len(old):
            cls.MIGRATIONS[component] = new

    def __init__(self, conn, path: Path | str, *, readonly: bool, busy: float,
                 engine: str = "sqlite"):
        self.conn = conn
        self.path = path              # the SQLite file, or the redacted PostgreSQL URL
        self.engine = engine          # "sqlite" or "postgresql"
        self.readonly = readonly
        self.pending: dict[str, int] = {}    # readonly only: component -> unapplied script count
        self._busy = busy
        self._lock = threading.RLock()
        self._depth = 0
        self._durable = True          # SQLite: the connection's synchronous level is FULL
        self._commits = 0             # SQLite: commits so far that skipped their fsync ...
        self._synced = 0              # ... and how many of those an fsync has covered since
        self._flushing: asyncio.Task | None = None

    # --- opening, migrations --------------------------------------------------------------

    @classmethod
    def open(cls, path: Path | str, *, readonly: bool = False,
             busy_timeout: float = 5.0) -> "Store":
        """Open (creating the directory and file unless readonly) and migrate. `path` is an
        SQLite file or a `postgresql://` URL. busy_timeout: seconds to wait for another process's
        write lock (SQLite) or for the connection (PostgreSQL) before StoreError."""
        if is_pg_url(path):
            return cls._open_pg(str(path), readonly=readonly, timeout=busy_timeout)
        path = Path(path)
        if readonly:
            if not path.exists():
                raise StoreError(f"state database {path}: does not exist (has the service run?)",
                                 path=path, kind="missing")
        else:
            try:
                private_dir(path.parent)      # chat ids, names, subscriptions: owner only
            except OSError as e:
                kind = {errno.ENOSPC: "full", errno.EACCES: "readonly", errno.EPERM: "readonly",
                        errno.EROFS: "readonly"}.get(e.errno, "io")
                raise StoreError(f"state database {path}: cannot create directory "
                                 f"{path.parent}: {e.strerror or e}", path=path, kind=kind) from e
        if not readonly:
            private_file(path)
        try:
            if readonly:
                uri = "file:" + urllib.parse.quote(str(path.resolve())) + "?mode=ro"
                conn = sqlite3.connect(uri, uri=True, isolation_level=None,
                                       check_same_thread=False, timeout=busy_timeout)
            else:
                conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                       timeout=busy_timeout)
        except sqlite3.Error as e:
            raise convert_error(e, path, "opening", busy_timeout) from e
        store = cls(conn, path, readonly=readonly, busy=busy_timeout)
        try:
            with store._errors("opening"):
                conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
                conn.execute("PRAGMA foreign_keys = ON")
                conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # reads the header
                if not readonly:
                    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                    if str(mode).lower() != "wal":
                        raise StoreError(f"state database {path}: could not switch to WAL "
                                         f"journal mode (got {mode!r})", path=path, kind="io")
                # FULL by default: in WAL mode NORMAL is crash-safe for the process but may lose
                # the last commits on power loss / kernel crash, and our rule is "nothing
                # committed is ever lost" (an outbox row marked sent, a stored item, a
                # subscription). Bookkeeping whose loss only repeats work (a 304's poll record,
                # leases, clearing "to publish" marks) commits with transaction(durable=False):
                # NORMAL, no fsync of its own (3.8 ms each on a VM disk, 500 per warm cycle);
                # the next durable commit fsyncs the WAL, and so those frames too.
                conn.execute("PRAGMA synchronous = FULL")
            store.migrate()
        except BaseException:
            conn.close()
            raise
        return store

    @classmethod
    def _open_pg(cls, url: str, *, readonly: bool, timeout: float) -> "Store":
        shown = redact(url)
        try:
            conn = PgConn(url, readonly=readonly, connect_timeout=timeout)
        except Exception as e:
            import psycopg
            if isinstance(e, psycopg.Error):
                raise convert_pg_error(e, shown, "connecting") from e
            raise
        store = cls(conn, shown, readonly=readonly, busy=timeout, engine="postgresql")
        try:
            store.migrate()
        except BaseException:
            conn.close()
            raise
        return store

    # --- engine-neutral catalogue -------------------------------------------------------------

    def has_table(self, name: str) -> bool:
        sql = ("SELECT to_regclass(?) IS NOT NULL" if self.engine == "postgresql" else
               "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?")
        return bool(self._all(sql, (name,))[0][0])

    def columns(self, table: str) -> set[str]:
        if self.engine == "postgresql":
            return {r[0] for r in self._all(
                "SELECT column_name FROM information_schema.columns WHERE "
                "table_schema = current_schema() AND table_name = ?", (table,))}
        return {r[1] for r in self._all(f'PRAGMA table_info("{table}")')}

    def size_bytes(self) -> int:
        if self.engine == "postgresql":
            return int(self._all("SELECT pg_database_size(current_database())")[0][0])
        return sum(p.stat().st_size for p in (Path(self.path), Path(f"{self.path}-wal"))
                   if p.exists())

    def _applied(self) -> dict[str, int]:
        if not self.has_table("schema_migrations"):
            return {}
        return dict(self.conn.execute(Q.APPLIED_VERSIONS).fetchall())

    def _ddl(self, script) -> list[str]:
        if isinstance(script, dict):
            return Q.split_statements(script[self.engine])
        stmts = Q.split_statements(script)
        if self.engine == "postgresql":
            stmts = [t for t in (pg_ddl(s) for s in stmts) if t]
        return stmts

    @contextmanager
    def advisory_lock(self, name: str):
        """PostgreSQL: a session advisory lock (waits for it). SQLite: nothing to do, writers are
        serialised by the database lock and there is one instance."""
        if self.engine != "postgresql":
            yield
            return
        key = lock_key(name)
        with self._lock:
            with self._errors(f"waiting for the {name} lock"):
                self.conn.execute("SELECT pg_advisory_lock(?)", (key,))
            try:
                yield
            finally:
                with self._errors(f"releasing the {name} lock"):
                    self.conn.execute("SELECT pg_advisory_unlock(?)", (key,))

    def migrate(self) -> None:
        with self._errors("reading the schema version"):
            applied = self._applied()
        self._check_newer(applied)
        pending = {c: len(s) - applied.get(c, 0) for c, s in self.MIGRATIONS.items()
                   if len(s) > applied.get(c, 0)}
        if self.readonly:
            self.pending = pending          # status can still show what exists
            return
        if not pending:
            return
        with self.advisory_lock("migrate"):  # one instance migrates; the others wait, then see
            for component in pending:
                with self.transaction():
                    c = self.conn
                    c.execute(self._ddl(Q.SCHEMA_MIGRATIONS)[0])
                    applied = self._applied()    # re-read under the lock (concurrent opener)
                    self._check_newer(applied)
                    scripts = self.MIGRATIONS[component]
                    for version in range(applied.get(component, 0) + 1, len(scripts) + 1):
                        for stmt in self._ddl(scripts[version - 1]):
                            c.execute(stmt)
                        c.execute(Q.RECORD_MIGRATION, (component, version, to_ts(utcnow())))

    def _check_newer(self, applied: dict[str, int]) -> None:
        for component, version in applied.items():
            known = len(self.MIGRATIONS.get(component, ()))
            if component in self.MIGRATIONS and version > known:
                raise StoreError(
                    f"state database {self.path}: schema of {component!r} is at version {version}"
                    f" but this version of sokuho knows only up to {known}; it was written by a "
                    "newer sokuho (upgrade, or restore a backup)", path=self.path,
                    kind="newer_schema")

    @property
    def unsynced(self) -> int:
        """Commits (SQLite) not yet covered by an fsync: bookkeeping, or group commits."""
        return self._commits - self._synced

    async def flush(self) -> None:
        """Make every commit so far durable (group commit). SQLite: one fsync of the WAL in a
        worker thread, so the event loop keeps fetching meanwhile, shared by every caller that
        waits at the same time. PostgreSQL: nothing to do (see transaction(group=True))."""
        target = self._commits
        while self._synced < target:
            if self._flushing is None:
                self._flushing = asyncio.get_running_loop().create_task(self._fsync())
            await asyncio.shield(self._flushing)

    async def _fsync(self) -> None:
        try:
            upto = self._commits
            await asyncio.to_thread(self._fsync_files)
            self._synced = max(self._synced, upto)
        finally:
            self._flushing = None

    def _fsync_files(self) -> None:
        """fsync the WAL (what synchronous=FULL does at a commit); committed frames already
        checkpointed into the database file were synced by the checkpoint (WAL, NORMAL)."""
        for p in (f"{self.path}-wal", str(self.path)):
            try:
                fd = os.open(p, os.O_RDONLY)
            except FileNotFoundError:
                continue
            except OSError as e:
                raise StoreError(f"state database {self.path}: cannot sync {p}: "
                                 f"{e.strerror or e}", path=self.path, kind="io") from e
            try:
                os.fsync(fd)
            except OSError as e:
                raise StoreError(f"state database {self.path}: sync of {p} failed: "
                                 f"{e.strerror or e}", path=self.path,
                                 kind="full" if e.errno == errno.ENOSPC else "io") from e
            finally:
                os.close(fd)
            return

    def close(self) -> None:
        with self._lock:
            if self.engine == "sqlite" and not self.readonly and self.unsynced:
                try:
                    self._fsync_files()
                except StoreError:
                    pass                      # closing anyway: sqlite's own checkpoint syncs
            self.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- transactions, errors ---------------------------------------------------------------

    @contextmanager
    def _errors(self, action: str):
        try:
            yield
        except sqlite3.Error as e:
            raise convert_error(e, self.path, action, self._busy) from e
        except Exception as e:
            if self.engine == "postgresql":
                import psycopg
                if isinstance(e, psycopg.Error):
                    raise convert_pg_error(e, self.path, action) from e
            raise

    @contextmanager
    def transaction(self, *, durable: bool = True, group: bool = False):
        """BEGIN IMMEDIATE ... COMMIT, ROLLBACK on exception. Nested use joins the outer
        transaction through a SAVEPOINT (an exception inside undoes only the inner part, then
        propagates). sqlite3 errors surface as StoreError.

        durable=False (the outermost transaction decides): bookkeeping whose loss only repeats
        work. Atomic all the same and safe from a process crash; only a power cut or kernel crash
        may undo it, together with the other commits after the last durable one (SQLite
        synchronous=NORMAL in WAL mode; PostgreSQL synchronous_commit=off for the transaction).

        group=True (group commit): durable, but its fsync may be shared: SQLite commits without
        one and `await flush()` makes it durable (one fsync, off the event loop, for every commit
        waiting); call flush() before anything leaves the process on the strength of it.
        PostgreSQL commits it durably at once."""
        if group:
            durable = self.engine != "sqlite"
        with self._lock:
            if self._depth:
                name = f"sp{self._depth}"
                with self._errors("starting a nested transaction"):
                    self.conn.execute(f"SAVEPOINT {name}")
                self._depth += 1
                try:
                    with self._errors("writing"):
                        yield self.conn
                except BaseException:
                    with self._errors("rolling back"):
                        self.conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
                        self.conn.execute(f"RELEASE SAVEPOINT {name}")
                    raise
                else:
                    with self._errors("writing"):
                        self.conn.execute(f"RELEASE SAVEPOINT {name}")
                finally:
                    self._depth -= 1
                return
            with self._errors("starting a write transaction"):
                if self.engine == "sqlite":
                    if durable != self._durable:     # not allowed inside a transaction
                        self.conn.execute("PRAGMA synchronous = "
                                          + ("FULL" if durable else "NORMAL"))
                        self._durable = durable
                    self.conn.execute("BEGIN IMMEDIATE")
                else:
                    self.conn.execute("BEGIN")
                    if not durable:
                        self.conn.execute("SET LOCAL synchronous_commit = off")
            self._depth = 1
            try:
                with self._errors("writing"):
                    yield self.conn
                with self._errors("committing"):
                    self.conn.execute("COMMIT")
                if self.engine == "sqlite":
                    if self._durable:             # FULL: this fsync covered every earlier commit
                        self._synced = self._commits
                    else:
                        self._commits += 1
            except BaseException:
                if self.conn.in_transaction:
                    try:
                        self.conn.execute("ROLLBACK")
                    except Exception:
                        pass            # the original error is the one worth reporting
                raise
            finally:
                self._depth = 0

    @contextmanager
    def _one_statement(self, *, durable: bool = True):
        """transaction() for a block that writes with ONE statement: inside a transaction it
        joins it without a SAVEPOINT of its own (a failing statement is undone by the database
        alone, and a block that raises after it changed nothing; one feed's poll record is
        written inside the feed's transaction: two statements fewer per feed)."""
        with self._lock:
            if not self._depth:
                with self.transaction(durable=durable) as c:
                    yield c
                return
            with self._errors("writing"):
                yield self.conn

    def _all(self, sql: str, params=(), action: str = "reading") -> list:
        with self._lock, self._errors(action):
            return self.conn.execute(sql, params).fetchall()

    # --- feeds -----------------------------------------------------------------------------------

    def sync_feeds(self, feeds: list, default_interval: float, now: datetime) -> dict:
        """Upsert the configured feeds by url; unlisted feeds are disabled (history kept). New
        feeds are due now; a shorter interval pulls next_poll_at in to at most now + interval."""
        added, removed, changed = [], [], []
        listed = set()
        with self.shared_section("feeds") as c:     # instances starting together: one at a time
            old = {r[0]: FeedState._from_row(r) for r in c.execute(Q.SELECT_FEEDS)}
            for f in feeds:
                interval = float(f.interval or default_interval)
                listed.add(f.url)
                st = old.get(f.url)
                if st is None:
                    c.execute(Q.INSERT_FEED, (f.url, f.name, f.lang, interval, int(f.enabled),
                                              to_ts(now)))
                    added.append(f.url)
                    continue
                if (st.name, st.lang, st.interval, st.enabled) == (f.name, f.lang, interval,
                                                                   f.enabled):
                    continue
                nxt = st.next_poll_at
                if nxt is not None and interval < st.interval:
                    nxt = min(nxt, now + timedelta(seconds=interval))
                c.execute(Q.UPDATE_FEED_CONFIG, (f.name, f.lang, interval, int(f.enabled),
                                                 to_ts(nxt), f.url))
                changed.append(f.url)
            for url, st in old.items():
                if url not in listed and st.enabled:
                    c.execute(Q.DISABLE_FEED, (url,))
                    removed.append(url)
        return {"added": added, "removed": removed, "changed": changed}

    def feeds(self, *, include_disabled: bool = False) -> list[FeedState]:
        where = "" if include_disabled else " WHERE enabled = 1"
        return [FeedState._from_row(r) for r in self._all(Q.SELECT_FEEDS + where + Q.ORDER_FEEDS)]

    def feed(self, url: str) -> FeedState | None:
        rows = self._all(Q.SELECT_FEED, (url,))
        return FeedState._from_row(rows[0]) if rows else None

    def record_fetch(self, url: str, *, status: str, etag: str | None = None,
                     last_modified: str | None = None, error: str | None = None,
                     error_kind: str | None = None, new_items: int = 0,
                     next_poll_at: datetime, now: datetime) -> FeedState:
        nxt, ts = to_ts(next_poll_at), to_ts(now)
        if status == "ok":
            sql, params = Q.FETCH_OK, (ts, status, etag, last_modified, nxt, ts, new_items,
                                       new_items, ts, url)
        elif status == "not_modified":
            sql, params = Q.FETCH_NOT_MODIFIED, (ts, status, etag, last_modified, nxt, ts,
                                                 new_items, new_items, ts, url)
        elif status == "failed":
            sql, params = Q.FETCH_FAILED, (ts, status, error, error_kind, ts, nxt, url)
        else:
            raise ValueError(f"status must be 'ok', 'not_modified' or 'failed', not {status!r}")
        # Not modified / failed: bookkeeping (lost on a power cut = polled again sooner). A
        # success commits with the feed's new items (the caller's durable transaction).
        with self._one_statement(durable=status == "ok") as c:
            row = c.execute(sql + Q.RETURNING_FEED, params).fetchone()
            if row is None:
                raise KeyError(f"feed {url} is not in the state database (sync_feeds first)")
            return FeedState._from_row(row)

    # --- several instances: feed leases, the instance registry --------------------------------

    def claim_feeds(self, instance: str, now: datetime, lease: float, *,
                    far_future: datetime | None = None, unpolled_since: datetime | None = None,
                    limit: int = 1_000_000) -> list[FeedState]:
        """Lease feeds to `instance` until now + lease and return them (most overdue first).
        Default: the due feeds (next poll unset, past, or beyond `far_future`, i.e. scheduled
        before the clock went back). unpolled_since: instead every feed not polled since then
        (one shared `poll --once` cycle). Feeds leased by another instance are skipped; on
        PostgreSQL two instances claiming at the same moment get disjoint sets (SKIP LOCKED)."""
        ts = to_ts(now)
        if unpolled_since is not None:
            cond, params = Q.CLAIM_UNPOLLED, [to_ts(unpolled_since)]
        else:
            far = to_ts(far_future) if far_future else "9999"
            cond, params = Q.CLAIM_DUE, [ts, far]
        lock = " FOR UPDATE SKIP LOCKED" if self.engine == "postgresql" else ""
        sql = Q.CLAIM_FEEDS.format(cond=cond, lock=lock)
        until = to_ts(now + timedelta(seconds=lease))
        with self.transaction(durable=False) as c:      # a lost lease only expires early
            rows = c.execute(sql, (instance, until, *params, ts, limit)).fetchall()
        feeds = [FeedState._from_row(r) for r in rows]
        feeds.sort(key=lambda f: (f.next_poll_at is not None, f.next_poll_at or now, f.url))
        return feeds

    def renew_leases(self, instance: str, until: datetime) -> int:
        with self.transaction(durable=False) as c:
            return c.execute(Q.RENEW_LEASES, (to_ts(until), instance)).rowcount

    def release_claims(self, instance: str, url: str | None = None) -> int:
        with self.transaction(durable=False) as c:
            if url is None:
                return c.execute(Q.RELEASE_CLAIMS, (instance,)).rowcount
            return c.execute(Q.RELEASE_CLAIM, (instance, url)).rowcount

    def leases(self) -> dict[str, tuple[int, datetime | None]]:
        """instance -> (feeds it holds, latest lease expiry)."""
        return {r[0]: (r[1], from_ts(r[2])) for r in self._all(Q.LEASES)}

    def register_instance(self, name: str, *, host: str, pid: int, command: str,
                          now: datetime, roles: str = "", proc: str = "") -> None:
        """proc: the process's identity on its host (bot.adapters.procs.identity), "" if unknown."""
        with self.transaction(durable=False) as c:      # a registry of who runs: bookkeeping
            c.execute(Q.UPSERT_INSTANCE, (name, host, pid, command, to_ts(now), to_ts(now),
                                          roles, proc))

    def reclaim_dead(self, host: str, is_dead: Callable[[int, str, datetime], bool]
                     ) -> dict[str, int]:
        """Instances registered on `host` whose process is_dead(pid, proc, started_at): each
        leaves the registry and its feed leases are released at once (instead of expiring).
        Returns name -> leases released. Only rows of `host`: on a shared database the other
        hosts' processes cannot be checked from here."""
        out: dict[str, int] = {}
        for name, pid, proc, started in self._all(Q.INSTANCES_ON_HOST, (host,)):
            if not is_dead(int(pid), proc or "", from_ts(started)):
                continue
            with self.transaction(durable=False) as c:
                if c.execute(Q.DELETE_DEAD_INSTANCE, (name, host, pid, proc, started)).rowcount:
                    out[name] = c.execute(Q.RELEASE_CLAIMS, (name,)).rowcount
        return out

    def heartbeat(self, name: str, now: datetime, roles: str = "") -> None:
        with self.transaction(durable=False) as c:
            c.execute(Q.HEARTBEAT, (to_ts(now), roles, name))

    def unregister_instance(self, name: str, *, forget_before: datetime | None = None) -> None:
        """A clean stop: the instance leaves the registry and gives its leases back."""
        with self.transaction(durable=False) as c:
            c.execute(Q.DELETE_INSTANCE, (name,))
            c.execute(Q.RELEASE_CLAIMS, (name,))
            if forget_before is not None:        # long-dead instances (killed, host gone)
                c.execute(Q.FORGET_INSTANCES, (to_ts(forget_before),))

    def instances(self) -> list[dict]:
        return [{"name": r[0], "host": r[1], "pid": r[2], "command": r[3],
                 "started_at": from_ts(r[4]), "heartbeat_at": from_ts(r[5]),
                 "roles": [x for x in r[6].split(",") if x], "proc": r[7]}
                for r in self._all(Q.SELECT_INSTANCES)]

    def cycle_floor(self, alive_since: datetime) -> datetime | None:
        r = self._all(Q.CYCLE_FLOOR, (to_ts(alive_since),))
        return from_ts(r[0][0]) if r and r[0][0] else None

    @contextmanager
    def shared_section(self, name: str = "dedup", *, group: bool = False):
        """One write transaction in which this instance alone decides (all instances on one
        database): PostgreSQL takes a transaction advisory lock on `name`, SQLite's write lock
        (BEGIN IMMEDIATE) already serialises. Used so that reading what others stored, deciding
        duplicates and storing happen as one step."""
        with self.transaction(group=group) as c:
            if self.engine == "postgresql" and self._depth == 1:
                with self._errors(f"waiting for the {name} lock"):
                    c.execute("SELECT pg_advisory_xact_lock(?)", (lock_key(name),))
            yield c

    def notify(self, channel: str) -> None:
        """PostgreSQL: wake the instance LISTENing on `channel` (delivered at commit). SQLite:
        nothing (one instance)."""
        if self.engine == "postgresql":
            with self._lock, self._errors("notifying"):
                self.conn.execute("SELECT pg_notify(?, '')", (channel,))

    def max_item_id(self) -> int:
        return int(self._all(Q.MAX_ITEM_ID)[0][0])

    def index_rows_after(self, rowid: int) -> list[tuple]:
        """index_rows() of the items stored after `rowid` (by id), in id order."""
        return self._all(Q.INDEX_ROWS_AFTER, (rowid,))

    def hits_of(self, rowids: list[int]) -> dict[int, list[tuple[str, str]]]:
        """rowid -> [(watchlist, matched text)] of stored items."""
        out: dict[int, list[tuple[str, str]]] = {}
        for chunk in chunks(list(rowids)):
            for r in self._all(Q.MATCHES_OF.format(marks=marks(len(chunk))), chunk):
                out.setdefault(r[0], []).append((r[1], r[4]))
        return out

    # --- items ---------------------------------------------------------------------------------

    def save_processed(self, batch: list[Processed], *, fetched_at: datetime,
                       owner: str | None = None) -> list[StoredItem]:
        """Store a batch in ONE transaction: items, their hits and duplicate links, and a "to
        publish" mark for every item with hits (cleared by clear_pending once the sinks have
        queued it), held by `owner` (the instance that will queue it; None: nobody's, see
        pending_items). Guids already stored (or repeated within the batch) are skipped and not
        returned. Returned items carry also_in for duplicates of them stored in this batch."""
        out: list[StoredItem] = []
        fetched = to_ts(fetched_at)
        fetched_at_ = from_ts(fetched)            # as a read would give it (microseconds, UTC)
        firsts: dict[str, Processed] = {}
        rows = []
        for p in batch:
            e, dup = p.entry, p.dup
            if e.id in firsts:                       # repeated within the batch: the first counts
                continue
            firsts[e.id] = p
            reason = (dup.reason or "duplicate") if dup.duplicate_of is not None else None
            link = p.canonical_link if p.canonical_link is not None else canonical_url(e.link)
            rows.append((e.id, e.feed, e.title, e.link, link, e.summary,
                         to_ts(e.published), fetched, e.lang, dup.duplicate_of, reason,
                         "\n".join(dup.evidence) or None, p.dedup_sig, p.story_sig))
        with self.transaction() as c:
            # guid -> new id; a guid already stored is absent
            ids = dict((g, i) for i, g in self._insert_rows(c, Q.INSERT_ITEMS, Q.ITEM_ROW, rows))
            matches, pending = [], []
            for p in firsts.values():
                rowid = ids.get(p.entry.id)
                if rowid is None:
                    continue
                hits, seen = [], set()
                for h in p.hits:
                    key = (h.watchlist, h.alias, h.field)
                    if key not in seen:
                        seen.add(key)
                        hits.append(h)
                        matches.append((rowid, h.watchlist, h.alias, h.field, h.text, h.kind,
                                        float(h.score)))
                if hits:
                    pending.append((rowid, owner))
                out.append(StoredItem(entry=p.entry, hits=hits, duplicate_of=p.dup.duplicate_of,
                                      fetched_at=fetched_at_, rowid=rowid))
            self._insert_rows(c, Q.INSERT_MATCHES, Q.MATCH_ROW, matches)
            self._insert_rows(c, Q.INSERT_PENDINGS, Q.PENDING_ROW, pending)
            self._fill_also_in(out)
        return out

    @staticmethod
    def _insert_rows(c, sql: str, row: str, rows: list[tuple]) -> list:
        """INSERT many rows with one multi-row VALUES statement per chunk (one parse and one
        round trip per chunk instead of per row); the RETURNING rows, if any."""
        out: list = []
        if not rows:
            return out
        per = max(1, Q.MAX_PARAMS // len(rows[0]))
        for chunk in chunks(rows, per):
            cur = c.execute(sql.format(rows=", ".join([row] * len(chunk))),
                            [v for r in chunk for v in r])
            if "RETURNING" in sql:
                out += cur.fetchall()
        return out

    def pending_items(self, owner: str | None, *, alive_since: datetime, now: datetime
                      ) -> list[StoredItem]:
        """Matched items whose alerts were stored but not yet queued (a crash in between), that
        `owner` may publish: its own marks, nobody's, and those of an instance presumed dead
        (gone from the registry, or no heartbeat since `alive_since` and no feed lease running
        at `now`). Never the marks of a live instance, which is queueing them itself."""
        items = [item_from_row(r) for r in
                 self._all(Q.SELECT_PENDING, (owner, to_ts(alive_since), to_ts(now)))]
        self._fill_hits(items)
        self._fill_also_in(items)
        return items

    def clear_pending(self, rowids: Iterable[int]) -> None:
        ids = list(dict.fromkeys(rowids))
        if not ids:
            return
        # lost on a power cut: published again, which the outbox's unique key absorbs
        tx = self._one_statement if len(ids) <= CHUNK else self.transaction
        with tx(durable=False) as c:
            for chunk in chunks(ids):
                c.execute(Q.CLEAR_PENDING.format(marks=marks(len(chunk))), chunk)

    def pending_count(self) -> int:
        return self._all(Q.COUNT_PENDING)[0][0]

    def known_guids(self, guids: Iterable[str]) -> set[str]:
        found: set[str] = set()
        for chunk in chunks(list(dict.fromkeys(guids))):
            found.update(r[0] for r in self._all(Q.KNOWN_GUIDS.format(marks=marks(len(chunk))),
                                                 chunk))
        return found

    def item(self, guid: str) -> StoredItem | None:
        rows = self._all(Q.SELECT_ITEM, (guid,))
        if not rows:
            return None
        items = [item_from_row(rows[0])]
        self._fill_hits(items)
        self._fill_also_in(items)
        return items[0]

    def clusters_watchlists(self, pairs: Iterable[tuple[str, int]]
                            ) -> dict[tuple[str, int], set[str]]:
        """(root, before_rowid) -> the watchlists matched by the story `root` (first copy) or
        its copies stored before `before_rowid`: what the story has already been news for. All
        pairs in one query per chunk."""
        pairs = list(dict.fromkeys(pairs))
        roots = list(dict.fromkeys(r for r, _ in pairs))
        found: dict[str, list[tuple[int, str]]] = {}
        for chunk in chunks(roots, CHUNK // 2):
            sql = Q.CLUSTERS_WATCHLISTS.format(marks=marks(len(chunk)))
            for guid, dup_of, rowid, wl in self._all(sql, chunk + chunk):
                for root in {guid, dup_of}:            # the story itself, or one of its copies
                    found.setdefault(root, []).append((rowid, wl))
        return {(root, before): {wl for rowid, wl in found.get(root, ()) if rowid < before}
                for root, before in pairs}

    def items(self, guids: Iterable[str]) -> dict[str, StoredItem]:
        """item() for several guids at once (unknown guids are absent)."""
        out: list[StoredItem] = []
        for chunk in chunks(list(dict.fromkeys(guids))):
            out += [item_from_row(r)
                    for r in self._all(Q.SELECT_ITEMS.format(marks=marks(len(chunk))), chunk)]
        self._fill_hits(out)
        self._fill_also_in(out)
        return {it.entry.id: it for it in out}

    def recent_hits(self, since: datetime) -> dict[str, list[tuple[str, str]]]:
        """guid -> [(watchlist, matched text)] for items published or fetched at/after `since`:
        what the story index needs, beside recent_entries, to keep clustering after a restart."""
        s = to_ts(since)
        out: dict[str, list[tuple[str, str]]] = {}
        for guid, wl, text in self._all(Q.RECENT_HITS, (s, s)):
            out.setdefault(guid, []).append((wl, text))
        return out

    def duplicate_info(self, guid: str) -> tuple[str | None, str | None, list[str]] | None:
        """(duplicate_of, reason, evidence lines) of a stored item; None when it is unknown."""
        rows = self._all(Q.DUPLICATE_INFO, (guid,))
        if not rows:
            return None
        dup, reason, ev = rows[0]
        return dup, reason, (ev.split("\n") if ev else [])

    def recent_entries(self, since: datetime) -> Iterator[tuple[Entry, str | None]]:
        """(entry, duplicate_of) for items published or fetched at/after `since`, oldest first
        (by published time, else fetched time)."""
        for entry, dup_of, _ in self.recent_for_index(since):
            yield entry, dup_of

    def recent_for_index(self, since: datetime) -> Iterator[tuple[Entry, str | None, str]]:
        """recent_entries with each item's stored canonical link (what the duplicate index's
        URL check keys on: computed once, when the item was stored). The ids in that order come
        from one query (one sort), the rows page by page by id: linear in the window (keyset
        pages sorted the whole window again for every page). The lock is not held between
        pages; an item pruned meanwhile is skipped."""
        for r in self._window_rows(since, Q.ITEM_COLS + ", canonical_link"):
            yield item_from_row(r).entry, r[8], r[10]

    def index_rows(self, since: datetime) -> Iterator[tuple]:
        """What the duplicate index reads of the items published or fetched at/after `since`,
        in recent_for_index's order, as plain rows: (id, guid, title, link, published_at (stored
        text), lang, duplicate_of, canonical_link, dedup_sig, story_sig); warm-up decodes them
        without building an Entry per item. Summaries: summary_of."""
        return self._window_rows(since, Q.INDEX_COLS)

    def window_sigs(self, since: datetime, size: int = 8192) -> Iterator[list[tuple]]:
        """(id, canonical link or "" without a link, dedup_sig) of the window's items, in
        index_rows' order, `size` rows at a time: what the lazy duplicate check scans. (The
        store is held until the iterator is exhausted or closed.)"""
        return self._paged(Q.WINDOW_SIGS, since, size)

    def window_sigs_keyed(self, since: datetime, size: int = 8192) -> Iterator[list[tuple]]:
        """window_sigs() with each item's sort key in that order and the last `since` at which
        the window holds it: (id, link, dedup_sig, okey, ekey) (stored timestamp texts)."""
        return self._paged(Q.WINDOW_SIGS_KEYED, since, size)

    def _paged(self, sql: str, since: datetime, size: int) -> Iterator[list[tuple]]:
        """The rows of a window query (`since` bound twice), `size` at a time."""
        s = to_ts(since)
        with self._lock, self._errors("reading"):
            cur = self.conn.execute(sql, (s, s))
            while True:
                rows = cur.fetchmany(size)
                if not rows:
                    return
                yield rows

    def window_after(self, rowid: int, since: datetime) -> list[tuple]:
        """window_sigs_keyed() rows of the window's items stored after `rowid` (by id)."""
        s = to_ts(since)
        return self._all(Q.WINDOW_AFTER, (rowid, s, s))

    def window_upto(self, rowid: int, since: datetime) -> tuple[int, int]:
        """(how many, sum of their ids) of the window's items with id <= rowid."""
        s = to_ts(since)
        rows = self._all(Q.WINDOW_UPTO, (s, rowid, s, s, rowid))
        return sum(int(r[0]) for r in rows), sum(int(r[1]) for r in rows)

    def sigs_of(self, rowids: list[int]) -> dict[int, str | None]:
        """id -> dedup_sig of these items (deleted ones are absent)."""
        out: dict[int, str | None] = {}
        for chunk in chunks(list(rowids)):
            out.update(self._all(Q.SIGS_OF.format(marks=marks(len(chunk))), chunk))
        return out

    def guid_of(self, rowid: int) -> str | None:
        rows = self._all(Q.GUID_OF, (rowid,))
        return rows[0][0] if rows else None

    def window_snapshot(self, name: str = "dedup") -> bytes | None:
        """The lazy duplicate check's persisted look-up structures (window_snap.py), or None."""
        rows = self._all(Q.SNAPSHOT_GET, (name,))
        return bytes(rows[0][0]) if rows else None

    def save_window_snapshot(self, data: bytes | None, name: str = "dedup") -> None:
        """Keep (None: drop) the snapshot; derived data: not made durable here."""
        with self.transaction(durable=False) as c:
            if data is None:
                c.execute(Q.SNAPSHOT_DROP, (name,))
            else:
                c.execute(Q.SNAPSHOT_PUT, (name, data))

    def with_link(self, url: str, since: datetime) -> list[int]:
        """The ids of the window's items with this canonical link (and a link), in
        index_rows' order (no index: a scan of the window)."""
        s = to_ts(since)
        return [r[0] for r in self._all(Q.WITH_LINK, (url, s, s))]

    def index_rows_matched(self, since: datetime) -> list[tuple]:
        """index_rows() of the window's items that matched a watchlist (the same order)."""
        s = to_ts(since)
        return self._all(Q.INDEX_ROWS_MATCHED, (s, s))

    def index_rows_of(self, rowids: list[int]) -> Iterator[tuple]:
        """index_rows() of these items, in this order (one already deleted is left out)."""
        return self._rows_of(rowids, Q.INDEX_COLS)

    def guid_row(self, guid: str) -> tuple | None:
        """(id, duplicate_of) of the stored item with this guid, or None."""
        rows = self._all(Q.ROOT_OF_GUID, (guid,))
        return rows[0] if rows else None

    def set_signatures(self, rows: list[tuple[str, int]]) -> None:
        """(dedup_sig, id) pairs: signatures recomputed at warm-up, stored for the next one."""
        with self.transaction(durable=False) as c:     # lost on a power cut: recomputed again
            for chunk in chunks(rows, 1000):
                c.executemany(Q.SET_SIGNATURE, chunk)

    def summary_of(self, guid: str) -> str:
        """A stored item's summary ("" when there is no such item): the duplicate index reads
        an indexed item's text when a comparison first needs it, instead of holding them all."""
        rows = self._all(Q.SUMMARY_OF, (guid,))
        return rows[0][0] if rows else ""

    def _window_rows(self, since: datetime, cols: str) -> Iterator[tuple]:
        s = to_ts(since)
        return self._rows_of([r[0] for r in self._all(Q.RECENT_IDS, (s, s))], cols)

    def _rows_of(self, ids: list[int], cols: str) -> Iterator[tuple]:
        for chunk in chunks(ids):
            rows = {r[0]: r for r in self._all(
                Q.ITEMS_BY_ID.format(cols=cols, marks=marks(len(chunk))), chunk)}
            for rowid in chunk:
                r = rows.get(rowid)
                if r is not None:
                    yield r

    def recent_matches(self, since: datetime, watchlist: str | None = None, *,
                       include_duplicates: bool = False) -> list[StoredItem]:
        """Matched items fetched at/after `since`, newest first, with all their hits and also_in.
        `watchlist` keeps items with at least one hit for it."""
        params: list = [to_ts(since)]
        wl = ""
        if watchlist is not None:
            wl = "AND m.watchlist = ?"
            params.append(watchlist)
        dups = "" if include_duplicates else "AND dup_reason IS NULL"
        items = [item_from_row(r)
                 for r in self._all(Q.RECENT_MATCHES.format(wl=wl, dups=dups), params)]
        self._fill_hits(items)
        self._fill_also_in(items)
        return items

    def _fill_hits(self, items: list[StoredItem]) -> None:
        by_id = {it.rowid: it for it in items}
        for chunk in chunks(list(by_id)):
            for r in self._all(Q.MATCHES_OF.format(marks=marks(len(chunk))), chunk):
                by_id[r[0]].hits.append(Hit(watchlist=r[1], alias=r[2], field=r[3], text=r[4],
                                            kind=r[5], score=r[6]))

    def _fill_also_in(self, items: list[StoredItem]) -> None:
        by_guid = {it.entry.id: it for it in items}
        for chunk in chunks(list(by_guid)):
            for kept, feed in self._all(Q.ALSO_IN.format(marks=marks(len(chunk))), chunk):
                also = by_guid[kept].also_in
                if feed not in also:
                    also.append(feed)

    def prune(self, older_than: datetime) -> int:
        """Delete items fetched before `older_than` and their matches. Survivors that pointed at a
        deleted item get duplicate_of = NULL (their dup_reason is kept, so they still count as
        duplicates and do not resurface in recent_matches). Returns the number of items deleted."""
        ts = to_ts(older_than)
        with self.transaction() as c:
            c.execute(Q.PRUNE_MATCHES, (ts,))
            c.execute(Q.PRUNE_PENDING, (ts,))
            n = c.execute(Q.PRUNE_ITEMS, (ts,)).rowcount
            c.execute(Q.FIX_DANGLING)
        return n

    # --- maintenance ---------------------------------------------------------------------------

    def backup(self, dest: Path | str) -> None:
        """Consistent copy (one backup step = one read snapshot, safe while other processes
        write), written to a temp file in dest's directory, fsynced, then renamed over dest."""
        dest = Path(dest)
        tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp.unlink(missing_ok=True)
            private_file(tmp)                 # a backup holds every chat: owner only
            target = sqlite3.connect(tmp, isolation_level=None)
            try:
                with self._lock, self._errors(f"backing up to {dest}"):
                    self.conn.backup(target)
                with self._errors(f"backing up to {dest}"):
                    target.execute("PRAGMA journal_mode = DELETE")  # a single self-contained file
            finally:
                target.close()
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, dest)
            dfd = os.open(dest.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError as e:
            raise StoreError(f"backup of {self.path} to {dest} failed: {e.strerror or e}",
                             path=dest, kind="full" if e.errno == errno.ENOSPC else "io") from e
        finally:
            tmp.unlink(missing_ok=True)

    def counts(self) -> dict:
        r = self._all(Q.COUNTS)[0]
        return {"feeds": r[0], "feeds_failing": r[1], "items": r[2], "matches": r[3],
                "matched_items": r[4], "duplicates": r[5]}

    def ping(self) -> bool:
        try:
            return self._all("SELECT 1")[0][0] == 1
        except StoreError:
            return False

