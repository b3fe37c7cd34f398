"""ParserPool: parse_feed (and, with a preparer, normalise + match) off the event loop.

    pool = ParserPool("process", budget=20); r = await pool.parse(body, feed_name=..., preparer=p)

Worker processes (bot.adapters.parse_worker) are started when work needs them, not with the pool:
the first body to parse starts one, and another is started while bodies wait for a worker, up to
`workers`. A `poll --once` whose feeds all answer 304 starts none; one feed with news starts one;
a cold poll or `sokuho match` over many files gets them all at once. `prestart(n)` starts them
ahead of need (bodies are certain: feeds never polled), so their imports overlap the main
process's own start-up.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import pickle
import queue
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import Executor, ThreadPoolExecutor
from multiprocessing.connection import Connection

from bot.adapters.parse import ParseResult, parse_prepared
from bot.adapters.parse_worker import BOOT
from bot.core.process import Preparer

log = logging.getLogger("sokuho.parse")

__all__ = ["ParserPool", "WORKER_NICE"]

# How much lower the parser workers' CPU priority is than the main process's, by default (nice
# increment; SOKUHO_PARSER_NICE). The main process is the serial stage (duplicate check, store,
# delivery, the watchdog's pings): when the cores are contended it goes first, and the workers,
# which run ahead of it with a queue of bodies, take the rest. Measured on 2 cores, a cold poll
# of 25,000 items: ~5% sooner.
WORKER_NICE = 10


class _Timeout(Exception):
    pass


# A worker's parse budget is CPU time: on a busy machine (and the workers are niced) a feed must
# not fail as "too large or hostile" for the time it spent waiting for a core. Its wall time is
# still bounded, at this many times the budget (a worker that gets no CPU at all, or is stuck).
WALL_CAP = 10.0
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds the process has used so far (Linux /proc), None if unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
        fields = stat[stat.rindex(b")") + 2:].split()     # (the name may hold spaces)
        return (int(fields[11]) + int(fields[12])) / _TICK   # utime, stime: fields 14, 15
    except (OSError, ValueError, IndexError):
        return None


class _Proc:
    """The child process, with the few methods of multiprocessing.Process the pool uses."""

    def __init__(self, popen: subprocess.Popen):
        self._popen = popen
        self.pid = popen.pid

    @property
    def exitcode(self) -> int | None:
        return self._popen.poll()

    def is_alive(self) -> bool:
        return self._popen.poll() is None

    def kill(self) -> None:
        if self._popen.poll() is None:
            try:
                self._popen.kill()
            except ProcessLookupError:              # pragma: no cover - gone meanwhile
                pass

    def join(self, timeout: float | None = None) -> None:
        try:
            self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            pass


def start_worker(parent: int, nice: int) -> tuple[_Proc, Connection]:
    """Starts a worker process (not waiting for it); its handle and the parent's end of its pipe."""
    mine, theirs = socket.socketpair()
    try:
        fd = theirs.fileno()
        popen = subprocess.Popen(
            [sys.executable, *subprocess._args_from_interpreter_flags(), "-c", BOOT,
             json.dumps([os.fspath(p) for p in sys.path]), str(fd), str(parent), str(nice)],
            pass_fds=(fd,), stdin=subprocess.DEVNULL)
    except BaseException:
        mine.close()
        raise
    finally:
        theirs.close()
    return _Proc(popen), Connection(mine.detach())


class _Worker:
    """A parser process the pool can kill on its own (ProcessPoolExecutor can only kill them all)."""

    STARTUP = 60.0   # seconds a new process may take to import feedparser and say "ready"

    def __init__(self, parent: int, nice: int):
        self.version: int | None = None      # the watchlists it matches with
        self.refused: int | None = None      # a version it could not load (not sent again)
        self.proc, self.conn = start_worker(parent, nice)

    def wait_ready(self) -> None:
        if not self.conn.poll(self.STARTUP):
            raise EOFError("parser worker did not start")
        self.conn.recv()

    def configure(self, preparer) -> bool:
        """Sends the preparer's watchlists (once per version); False if the worker could not
        build its matcher (the main process then prepares). Raises EOFError if it died."""
        self.conn.send(("config", preparer.version, preparer.watchlists))
        if not self.conn.poll(self.STARTUP):
            raise EOFError("parser worker did not load the watchlists")
        status, detail = self.conn.recv()
        if status != "ok":
            log.warning("parser worker could not load the watchlists (%s): entries are matched "
                        "in the main process", detail)
            self.refused = preparer.version
        self.version = preparer.version if status == "ok" else None
        return status == "ok"

    def call(self, body: bytes, kw: dict, budget: float | None,
             version: int | None = None) -> bytes:
        """The pickled ParseResult (unpickled by the pool on the event loop's thread). _Timeout
        once the worker has spent `budget` seconds of CPU on it (or WALL_CAP times that of wall
        time; where its CPU time cannot be read, `budget` of wall time)."""
        start = cpu_seconds(self.proc.pid) if budget is not None else None
        self.conn.send(("parse", body, kw, version))
        wait = budget
        deadline = time.monotonic() + budget * WALL_CAP if budget is not None else None
        while not self.conn.poll(wait):
            now_cpu = cpu_seconds(self.proc.pid) if start is not None else None
            if now_cpu is None:
                raise _Timeout
            left = min(budget - (now_cpu - start), deadline - time.monotonic())
            if left <= 0:
                raise _Timeout
            wait = max(left, 0.05)    # it cannot spend the rest of its budget sooner than this
        return self.conn.recv_bytes()

    def stop(self, kill: bool = False) -> None:
        try:
            if kill:
                self.proc.kill()
            else:
                self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.proc.join(2.0)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(2.0)
        self.conn.close()


def _resolve(fut: asyncio.Future, res: "ParseResult | bytes") -> None:
    """On the event loop's thread. A worker's answer arrives pickled and is unpickled here: a
    feeder thread unpickling it would take the GIL from the loop for every result (and keep its
    worker waiting for the next body meanwhile)."""
    if fut.done():
        return
    if res.__class__ is bytes:
        try:
            res = pickle.loads(res)
        except Exception as exc:  # noqa: BLE001 - a garbled answer fails this feed only
            res = ParseResult([], f"parser worker answer unreadable ({type(exc).__name__})",
                              True, "")
    fut.set_result(res)


class ParserPool:
    """Runs parse_feed off the event loop: kind="thread" (default), "process" or "inline".

    Threads keep the loop responsive but share the GIL; processes parse in parallel at the cost
    of pickling bodies/results (see bench/parse_pool_bench.py for figures). Processes use the
    "spawn" start method (safe next to a running event loop and other threads).

    `budget` (seconds) bounds one feed's parse. With processes, it is the worker's CPU time
    (and WALL_CAP times it of wall time): a worker over budget is killed (SIGKILL) and replaced,
    and the feed gets a failed result with error_kind "timeout_parse"; the other workers go on.
    Threads cannot be killed: the feed is reported the same way at the deadline (wall time), but
    the thread finishes its work in the background.

    Processes: one small feeder thread per worker process takes jobs from one FIFO queue (so jobs
    start in the order they were submitted, as with ProcessPoolExecutor), hands the body to its
    process through a pipe and waits for the answer within the budget, which the event loop's
    thread unpickles (_resolve). A feeder (and its process) is added when a job is queued and
    no feeder is free to take it, up to `workers`.
    """

    def __init__(self, kind: str = "thread", workers: int | None = None,
                 budget: float | None = None, nice: int = WORKER_NICE):
        if kind not in ("thread", "process", "inline"):
            raise ValueError(f"ParserPool kind must be thread, process or inline, not {kind!r}")
        self.kind = kind
        self.nice = nice                  # worker processes: CPU priority below the main process
        self.budget = budget if budget and budget > 0 else None
        self.workers = workers or (min(4, os.cpu_count() or 1) if kind == "thread"
                                   else (os.cpu_count() or 1))
        self._closed = False
        self._lock = threading.Lock()
        self._all: set[_Worker] = set()
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._feeders: list[threading.Thread] = []
        self._free = 0                    # feeders waiting for a job, or starting (they will)
        self._ready: Preparer | None = None   # watchlists new workers load before their first job
        self._ex: Executor | None = (
            ThreadPoolExecutor(self.workers, thread_name_prefix="sokuho-parse")
            if kind == "thread" else None)

    # ------------------------------------------------------------------ workers
    def _spawn(self) -> _Worker | None:
        with self._lock:
            if self._closed:
                return None
            w = _Worker(os.getpid(), self.nice)
            self._all.add(w)
        try:
            w.wait_ready()
        except Exception:
            self._drop(w)
            raise
        return w

    def _drop(self, w: _Worker) -> None:
        with self._lock:
            self._all.discard(w)
        w.stop(kill=True)

    def _grow(self, n: int = 0) -> None:
        """Starts feeder threads (each with its worker process): `n` more, or one when queued
        jobs outnumber the feeders free to take them; never more than `workers` in all."""
        with self._lock:
            want = n or (1 if self._jobs.qsize() > self._free else 0)
            for _ in range(min(want, self.workers - len(self._feeders))):
                if self._closed:
                    return
                t = threading.Thread(target=self._feed, name=f"sokuho-parse-{len(self._feeders)}",
                                     daemon=True)
                self._free += 1
                self._feeders.append(t)
                t.start()

    def _feed(self) -> None:
        """A feeder thread: keeps one worker process alive and feeds it jobs from the queue."""
        w: _Worker | None = None
        while True:
            if w is None and not self._closed:
                try:
                    w = self._spawn()
                    ready = self._ready
                    if w is not None and ready is not None:
                        w.configure(ready)     # the matcher built before the first body comes
                except Exception as exc:  # noqa: BLE001 - this thread must live: the jobs
                    if w is not None:     # queued for it fail (a clear error), none hangs
                        self._drop(w)
                    w = None
                    failure = f"parser worker could not start: {type(exc).__name__}: {exc}"[:300]
                    log.error("%s", failure)
                else:
                    failure = None
            job = self._jobs.get()
            with self._lock:
                self._free -= 1
            if job is None:
                break
            body, kw, preparer, fut, loop = job
            if w is None:
                res = ParseResult([], failure or "parser pool closed", True, "")
            else:
                res = self._run(w, body, kw, preparer)
                if res.__class__ is not bytes and (res.error_kind == "timeout_parse"
                                                   or res.extra.get("died")):
                    w = None
            with self._lock:                # free before its answer can bring the next job
                self._free += 1
            loop.call_soon_threadsafe(_resolve, fut, res)
        if w is not None:
            with self._lock:
                self._all.discard(w)
            w.stop()

    def _run(self, w: _Worker, body: bytes, kw: dict,
             preparer: Preparer | None) -> ParseResult | bytes:
        try:
            version = None
            if preparer is not None:
                if w.version != preparer.version and w.refused != preparer.version:
                    w.configure(preparer)
                version = w.version
            return w.call(body, kw, self.budget, version)
        except _Timeout:
            self._drop(w)
            return self._over_budget()
        except (EOFError, OSError) as exc:            # died: OOM-killed, crashed...
            self._drop(w)
            return ParseResult([], f"parser worker died ({exc or 'exit code ' + str(w.proc.exitcode)})",
                               True, "", extra={"died": True})

    def _over_budget(self) -> ParseResult:
        return ParseResult([], f"parsing took longer than {self.budget:g}s; the parser was "
                               "stopped (feed too large or hostile?)", True, "",
                           error_kind="timeout_parse")

    # ------------------------------------------------------------------ API
    async def parse(self, body: bytes, *, preparer: Preparer | None = None, **kw) -> ParseResult:
        """parse_feed(body, **kw) off the loop; with `preparer`, its entries prepared too (see
        the module docstring)."""
        if self.kind == "inline":
            return parse_prepared(body, kw, preparer)
        if self._closed:
            raise RuntimeError("ParserPool is closed")
        loop = asyncio.get_running_loop()
        if self.kind == "thread":
            fut = loop.run_in_executor(self._ex, parse_prepared, body, kw, preparer)
            try:
                return await asyncio.wait_for(asyncio.shield(fut), self.budget)
            except TimeoutError:
                return self._over_budget()
        fut = loop.create_future()
        self._jobs.put((body, kw, preparer, fut, loop))
        self._grow()
        return await fut

    def prestart(self, n: int | None = None, preparer: Preparer | None = None) -> None:
        """Process pools: start `n` workers (default `workers`) now, ahead of the first body;
        with `preparer`, every worker started from now on loads its watchlists before its first
        job (as a job with that preparer would make it do)."""
        if preparer is not None:
            self._ready = preparer
        if self.kind == "process" and not self._closed:
            with self._lock:
                n = max(0, min(self.workers if n is None else n, self.workers) - len(self._feeders))
            if n:
                self._grow(n)

    @property
    def started(self) -> int:
        """Worker processes started so far (feeder threads; 0 for thread and inline pools)."""
        return len(self._feeders)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for _ in self._feeders:
            self._jobs.put(None)
        for t in self._feeders:
            t.join(5.0)
        with self._lock:
            left, self._all = set(self._all), set()
        for w in left:                                 # still busy after 5 s: killed
            w.stop(kill=True)
        for t in self._feeders:
            t.join(5.0)
        if self._ex is not None:
            self._ex.shutdown(wait=True, cancel_futures=True)
            self._ex = None

    def __enter__(self) -> "ParserPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
