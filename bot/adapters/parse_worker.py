"""One parser worker process: its main loop (the child's side; bot.adapters.parse_pool has the
parent's).

The child is a plain `python -c` started with subprocess and connected by a socket pair, not a
multiprocessing "spawn" Process: spawn re-imports the parent's main module in the child (the
`sokuho` script: bot.cli, the settings, pydantic...) and starts a resource-tracker process, ~0.1 s
of CPU per worker that parses nothing. The child imports only what parsing and matching need:
bot.adapters.parse (feedparser), bot.core.process (normalise, match, the duplicate check's
per-entry part), and frames its messages as the parent's multiprocessing Connection does
(_Conn). The parent's side (start, budget, kill, replace) is bot.adapters.parse_pool.

Jobs on the pipe:
  ("config", version, watchlists) -> builds the matcher, answers ("ok", version) or ("error", text);
  ("parse", body, kwargs, version) -> a ParseResult, its entries prepared when `version` is the
                                     version of the watchlists it holds;
  None                             -> exits (as does a closed pipe).
"""
from __future__ import annotations

import os
import pickle
import struct
import sys

# what the parent runs: `python -c BOOT <its sys.path as JSON> <fd> <parent pid> <nice>`
BOOT = ("import sys, json; sys.path[:] = json.loads(sys.argv[1]); "
        "from bot.adapters.parse_worker import main; main(*map(int, sys.argv[2:]))")


def _worker_init(parent: int, nice: int) -> None:
    """Parser workers leave Ctrl-C to the main process (which shuts the pool down in order) and
    die with it: a main process killed with SIGKILL must not leave orphans parsing nothing.
    They run `nice` below the main process's priority."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        if nice:
            os.nice(nice)
    except (OSError, AttributeError):              # pragma: no cover - not allowed / no nice()
        pass
    try:                                            # Linux: PR_SET_PDEATHSIG
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:                      # the parent died before prctl took effect
        os._exit(0)


def main(fd: int, parent: int, nice: int) -> None:
    """The child's entry point (see _BOOT)."""
    _worker_init(parent, nice)
    conn = _Conn(fd)
    try:
        _worker_main(conn)
    finally:
        conn.close()
    # Told to stop (or the parent closed the pipe): nothing is left to do or to keep. The
    # interpreter's exit would walk and free the matcher, feedparser and every module while
    # the parent waits for this process (~0.1 s per worker at the end of each poll).
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    os._exit(0)


class _Conn:
    """The child's end of the pipe, speaking multiprocessing.connection's framing (a 4-byte
    big-endian signed length, -1 then an 8-byte length for more than 2 GiB; pickled objects)
    without importing multiprocessing (sockets, tempfile, threading...)."""

    def __init__(self, fd: int):
        self.fd = fd

    def _read(self, n: int) -> bytes:
        chunks, left = [], n
        while left:
            b = os.read(self.fd, left)
            if not b:
                raise EOFError
            chunks.append(b)
            left -= len(b)
        return b"".join(chunks)

    def recv(self):
        size, = struct.unpack("!i", self._read(4))
        if size == -1:
            size, = struct.unpack("!Q", self._read(8))
        return pickle.loads(self._read(size))

    def send(self, obj) -> None:
        data = pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)
        n = len(data)
        head = struct.pack("!i", n) if n <= 0x7fffffff else struct.pack("!iQ", -1, n)
        view = memoryview(head + data) if n < 16384 else None
        if view is None:
            self._write(memoryview(head))
            view = memoryview(data)
        self._write(view)

    def _write(self, view: memoryview) -> None:
        while len(view):
            view = view[os.write(self.fd, view):]

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass


def _worker_main(conn) -> None:
    from bot.adapters import feedparser_patch
    from bot.adapters.parse import parse_prepared
    from bot.core.process import Preparer
    feedparser_patch.apply()        # feedparser imported and patched before the first body
    conn.send("ready")
    preparer: Preparer | None = None
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        if job[0] == "config":
            _, version, watchlists = job
            try:
                from bot.core.matcher import Matcher
                preparer = Preparer(Matcher(watchlists), version)
                conn.send(("ok", version))
            except Exception as exc:  # noqa: BLE001 - the main process prepares instead
                preparer = None
                conn.send(("error", f"{type(exc).__name__}: {exc}"[:300]))
            continue
        _, body, kw, version = job
        use = preparer if preparer is not None and version == preparer.version else None
        conn.send(parse_prepared(body, kw, use))
