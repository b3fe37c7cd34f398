"""A throwaway PostgreSQL cluster for tests and benchmarks: Debian's `postgresql` binaries, initdb
in a temp dir as an unprivileged user, a free port on 127.0.0.1, trust auth, the unix socket in the
temp dir. Root cannot run postgres: as root the cluster runs as the `postgres` system user the
Debian package creates (else `nobody`).

    with PgCluster.start() as pg:            # raises PgUnavailable when there are no binaries
        url = pg.create_database("t1")       # postgresql://sokuho@127.0.0.1:PORT/t1

`.ci/install-postgresql` installs the package (root, Debian); the test fixture calls it once when
the binaries are missing and it can (root with apt-get), then skips with the reason if it failed.

Lifetime: the server is this process's child, started through a small launcher that asks the
kernel (PR_SET_PDEATHSIG) to send it SIGQUIT (immediate shutdown) when this process dies, so a
test run killed with SIGKILL takes its cluster with it. Each cluster's folder holds owner.json
(the pid and kernel start time of the process that made it); `reap_orphans()`, called at every
start, removes the clusters whose owner is gone (stopping a server still running in it) and never
touches a cluster whose owner runs, or a folder without an owner file younger than an hour.
"""
from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INSTALLER = ROOT / ".ci" / "install-postgresql"
SUPERUSER = "sokuho"
PREFIX = "sokuho-pg-"
OWNER = "owner.json"
ORPHAN_AGE = 3600.0          # a folder without owner.json older than this, with no server: stale

# argv: parent pid, uid, gid ("" = keep), then the server's argv. Drops privileges first (a
# credential change clears the parent-death signal), then asks for SIGQUIT on the parent's death,
# then checks the parent did not die before that, then becomes the server.
LAUNCHER = r"""
import ctypes, os, signal, sys
parent, uid, gid, argv = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
if gid:
    os.setgroups([]); os.setgid(int(gid))
if uid:
    os.setuid(int(uid))
if ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGQUIT), 0, 0, 0) != 0:  # PDEATHSIG
    sys.exit("prctl(PR_SET_PDEATHSIG) failed: errno %d" % ctypes.get_errno())
if os.getppid() != parent:
    sys.exit("the test process is gone")
os.execv(argv[0], argv)
"""


def _proc_start(pid: int) -> int | None:
    """Kernel start time (ticks since boot) of `pid`, None if there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes().decode("ascii", "replace")
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2:].split()
    return None if fields[0] in ("Z", "X") else int(fields[19])


def _owner_alive(base: Path) -> bool | None:
    """Whether the process that made the cluster in `base` still runs (None: no owner file)."""
    try:
        owner = json.loads((base / OWNER).read_text())
        pid, start = int(owner["pid"]), int(owner["start"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return _proc_start(pid) == start


def _server_pid(data: Path) -> int | None:
    """The pid of a postmaster running on `data` (checked: its working folder is `data`)."""
    try:
        pid = int((data / "postmaster.pid").read_text().split("\n", 1)[0])
        if os.path.samefile(f"/proc/{pid}/cwd", data):
            return pid
    except (OSError, ValueError):
        pass
    return None


def _stop_pid(pid: int, timeout: float = 30.0) -> None:
    """SIGQUIT (immediate shutdown), then SIGKILL; returns when the process is gone."""
    for sig, wait in ((signal.SIGQUIT, timeout), (signal.SIGKILL, timeout)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        end = time.monotonic() + wait
        while time.monotonic() < end:
            if _proc_start(pid) is None:
                return
            time.sleep(0.05)


def reap_orphans(tmp: Path | None = None) -> list[Path]:
    """Remove the clusters of test runs that were killed: their owner process is gone. A server
    still running there is stopped first. Returns the folders removed."""
    tmp = Path(tmp or tempfile.gettempdir())
    removed = []
    for base in sorted(tmp.glob(PREFIX + "*")):
        if not base.is_dir() or base.is_symlink():
            continue
        alive = _owner_alive(base)
        pid = _server_pid(base / "data")
        if alive or (alive is None and (pid is not None
                                         or time.time() - base.stat().st_mtime < ORPHAN_AGE)):
            continue                 # someone's running cluster, or one being made right now
        if pid is not None:
            _stop_pid(pid)
        shutil.rmtree(base, ignore_errors=True)
        removed.append(base)
    return removed


class PgUnavailable(Exception):
    pass


def find_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/N/bin with initdb and pg_ctl, or pg_config's bindir."""
    cands = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                   key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0)
    for d in reversed(cands):
        if os.access(f"{d}/initdb", os.X_OK) and os.access(f"{d}/pg_ctl", os.X_OK):
            return Path(d)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def ensure_installed() -> Path:
    """The binaries' folder; installs Debian's package first when missing and we are root."""
    d = find_bindir()
    if d is not None:
        return d
    if os.geteuid() == 0 and shutil.which("apt-get") and INSTALLER.exists():
        r = subprocess.run(["bash", str(INSTALLER)], capture_output=True, text=True)
        d = find_bindir()
        if d is not None:
            return d
        raise PgUnavailable("PostgreSQL is not installed and `.ci/install-postgresql` failed: "
                            + (r.stderr or r.stdout).strip()[-500:])
    raise PgUnavailable("PostgreSQL binaries not found under /usr/lib/postgresql/*/bin "
                        "(install Debian's package: apt-get install postgresql)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_as() -> tuple[list[str], int | None, int | None]:
    """(command prefix, uid, gid) to run the server unprivileged."""
    if os.geteuid() != 0:
        return [], None, None
    for name in ("postgres", "nobody"):
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            continue
        return (["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups",
                 "--"], pw.pw_uid, pw.pw_gid)
    raise PgUnavailable("running as root and there is neither a `postgres` nor a `nobody` user")


class PgCluster:
    def __init__(self, bindir: Path, base: Path, port: int, prefix: list[str]):
        self.bindir, self.base, self.port, self.prefix = bindir, base, port, prefix
        self.data = base / "data"
        self.socket_dir = base
        self._n = 0
        self.proc: subprocess.Popen | None = None

    @classmethod
    def start(cls, *, durable: bool = False) -> "PgCluster":
        """durable=False turns fsync off (tests); benchmarks pass durable=True (the defaults)."""
        bindir = ensure_installed()
        reap_orphans()
        prefix, uid, gid = _run_as()
        base = Path(tempfile.mkdtemp(prefix=PREFIX))
        (base / OWNER).write_text(json.dumps({"pid": os.getpid(),
                                              "start": _proc_start(os.getpid())}))
        if uid is not None:
            os.chown(base, uid, gid)
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        try:
            r = subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(base / "data"),
                                "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-locale",
                                "--no-sync"], capture_output=True, text=True, env=env)
            if r.returncode:
                raise PgUnavailable(f"initdb failed: {r.stderr.strip()[-500:]}")
            opts = ["-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={base}",
                    "-c", "max_connections=200", "-c", "shared_buffers=64MB"]
            if not durable:
                opts += ["-c", "fsync=off", "-c", "synchronous_commit=off",
                         "-c", "full_page_writes=off"]
            err = ""
            for attempt in range(5):
                port = free_port()
                cluster = cls(bindir, base, port, prefix)
                try:
                    cluster._spawn(uid, gid, env, ["-p", str(port), *opts])
                    return cluster
                except PgUnavailable as e:
                    err = str(e)
            raise PgUnavailable(f"postgres did not start: {err}")
        except BaseException:
            shutil.rmtree(base, ignore_errors=True)
            raise

    def _spawn(self, uid, gid, env, args: list[str], timeout: float = 60.0) -> None:
        """Start the server as our child (see LAUNCHER) and wait until it accepts connections."""
        log = open(self.base / "server.log", "ab")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", LAUNCHER, str(os.getpid()),
                 "" if uid is None else str(uid), "" if gid is None else str(gid),
                 str(self.bindir / "postgres"), "-D", str(self.data), *args],
                env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True)     # the terminal's Ctrl-C goes to pytest, not here
        finally:
            log.close()
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                tail = (self.base / "server.log").read_text(errors="replace")[-600:]
                raise PgUnavailable(f"exit {self.proc.returncode}: {tail}")
            try:
                lines = (self.data / "postmaster.pid").read_text().splitlines()
            except OSError:
                lines = []
            if len(lines) >= 8 and lines[0] == str(self.proc.pid) and lines[7].strip() == "ready":
                return
            time.sleep(0.05)
        self.proc.kill()
        self.proc.wait()
        raise PgUnavailable(f"not ready within {timeout:g}s")

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{db}"

    def create_database(self, name: str | None = None) -> str:
        import psycopg
        if name is None:
            self._n += 1
            name = f"t{os.getpid()}_{self._n}"
        with psycopg.connect(self.url(), autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        import psycopg
        with psycopg.connect(self.url(), autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        proc = getattr(self, "proc", None)
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGQUIT)          # immediate shutdown: a throwaway cluster
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> "PgCluster":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
