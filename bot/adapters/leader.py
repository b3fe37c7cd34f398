"""Leadership of a role among the instances on one database (PostgreSQL advisory lock).

    lead = Leadership(settings.database, "telegram", on_acquire=..., on_lose=...)
    await lead.start(); ...; await lead.stop()

PostgreSQL: a dedicated connection tries `pg_try_advisory_lock(role)` every `retry` seconds; the
holder checks its connection just as often. A killed holder's connection closes and the server
drops the lock at once, so a standby takes over within `retry` seconds; a holder that loses its
connection (network, database restart) stops acting at its next check. SQLite: one instance, the
role is held from the start.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from bot.adapters.store_pg import is_pg_url, lock_key, redact

log = logging.getLogger("sokuho.leader")


class Leadership:
    def __init__(self, database, role: str, *, on_acquire: Callable[[], Awaitable[None]],
                 on_lose: Callable[[], Awaitable[None]], retry: float = 2.0,
                 channel: str | None = None, on_notify: Callable[[], None] | None = None):
        self.database = database
        self.role = role
        self.on_acquire = on_acquire
        self.on_lose = on_lose
        self.retry = retry
        self.channel = channel          # the holder LISTENs here (PostgreSQL NOTIFY)...
        self.on_notify = on_notify      # ...and calls this when another instance notifies
        self.held = False
        self._conn = None
        self._task: asyncio.Task | None = None

    @property
    def shared(self) -> bool:
        return is_pg_url(self.database)

    async def start(self) -> None:
        if not self.shared:
            await self._acquired()
            return
        await self._round()              # a first try now: a lone instance leads at once
        self._task = asyncio.get_running_loop().create_task(self._loop(),
                                                            name=f"leader-{self.role}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None
        if self.held:
            await self._lost("stopping")
        await asyncio.to_thread(self._close)

    async def _loop(self) -> None:
        while True:
            if self.held and self.channel:
                if await asyncio.to_thread(self._wait_notify, self.retry) and self.on_notify:
                    self.on_notify()
            else:
                await asyncio.sleep(self.retry)
            try:
                await self._round()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s leadership: check failed", self.role)

    async def _round(self) -> None:
        if self.held:
            if not await asyncio.to_thread(self._still_held):
                await self._lost("lost the database connection")
            return
        if await asyncio.to_thread(self._try):
            await self._acquired()

    async def _acquired(self) -> None:
        self.held = True
        log.info("this instance now leads %s", self.role)
        try:
            await self.on_acquire()
        except Exception:
            log.exception("%s leadership: starting the role failed; giving it up", self.role)
            await self._lost("start failed")

    async def _lost(self, why: str) -> None:
        self.held = False
        log.warning("this instance no longer leads %s (%s)", self.role, why)
        try:
            await self.on_lose()
        except Exception:
            log.exception("%s leadership: stopping the role failed", self.role)
        if self.shared:
            await asyncio.to_thread(self._close)     # frees the lock if the session still lives

    # --- blocking parts (in a worker thread) -------------------------------------------------

    def _try(self) -> bool:
        import psycopg
        try:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self._close()
                self._conn = psycopg.connect(self.database, autocommit=True, connect_timeout=5,
                                             application_name=f"sokuho-{self.role}")
            got = bool(self._conn.execute("SELECT pg_try_advisory_lock(%s)",
                                          (lock_key(f"leader:{self.role}"),)).fetchone()[0])
            if got and self.channel:
                self._conn.execute(f'LISTEN "{self.channel}"')
            return got
        except psycopg.Error as e:
            log.warning("%s leadership: database %s not reachable: %s", self.role,
                        redact(self.database), " ".join(str(e).split()))
            self._close()
            return False

    def _wait_notify(self, timeout: float) -> bool:
        """Block up to `timeout` s for a notification on the channel; True if one came."""
        import psycopg
        try:
            for _ in self._conn.notifies(timeout=timeout, stop_after=1):
                return True
        except (psycopg.Error, AttributeError):
            pass
        return False

    def _still_held(self) -> bool:
        import psycopg
        try:
            return bool(self._conn.execute(
                "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND pid = pg_backend_pid()").fetchone()[0])
        except (psycopg.Error, AttributeError):
            return False

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass
