"""A throwaway PostgreSQL cluster for tests and benchmarks: Debian's `postgresql` binaries, initdb
in a temp dir as an unprivileged user, a free port on 127.0.0.1, trust auth, the unix socket in the
temp dir. Root cannot run postgres: as root the cluster runs as the `postgres` system user the
Debian package creates (else `nobody`).

    with PgCluster.start() as pg:            # raises PgUnavailable when there are no binaries
        url = pg.create_database("t1")       # postgresql://sokuho@127.0.0.1:PORT/t1

`.ci/install-postgresql` installs the package (root, Debian); the test fixture calls it once when
the binaries are missing and it can (root with apt-get), then skips with the reason if it failed.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INSTALLER = ROOT / ".ci" / "install-postgresql"
SUPERUSER = "sokuho"


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

    @classmethod
    def start(cls, *, durable: bool = False) -> "PgCluster":
        """durable=False turns fsync off (tests); benchmarks pass durable=True (the defaults)."""
        bindir = ensure_installed()
        prefix, uid, gid = _run_as()
        base = Path(tempfile.mkdtemp(prefix="sokuho-pg-"))
        if uid is not None:
            os.chown(base, uid, gid)
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        try:
            r = subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(base / "data"),
                                "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-locale",
                                "--no-sync"], capture_output=True, text=True, env=env)
            if r.returncode:
                raise PgUnavailable(f"initdb failed: {r.stderr.strip()[-500:]}")
            opts = ["-c listen_addresses=127.0.0.1", f"-c unix_socket_directories={base}",
                    "-c max_connections=200", "-c shared_buffers=64MB"]
            if not durable:
                opts += ["-c fsync=off", "-c synchronous_commit=off",
                         "-c full_page_writes=off"]
            for attempt in range(5):
                port = free_port()
                r = subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(base / "data"),
                                    "-l", str(base / "server.log"), "-w", "-t", "60",
                                    "-o", " ".join([f"-p {port}", *opts]), "start"],
                                   capture_output=True, text=True, env=env)
                if r.returncode == 0:
                    return cls(bindir, base, port, prefix)
            log = (base / "server.log").read_text(errors="replace")[-800:] \
                if (base / "server.log").exists() else ""
            raise PgUnavailable(f"pg_ctl start failed: {r.stderr.strip()[-300:]} {log}")
        except BaseException:
            shutil.rmtree(base, ignore_errors=True)
            raise

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
        subprocess.run([*self.prefix, str(self.bindir / "pg_ctl"), "-D", str(self.data),
                        "-m", "immediate", "-w", "stop"], capture_output=True)
        for _ in range(50):
            if not (self.data / "postmaster.pid").exists():
                break
            time.sleep(0.1)
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> "PgCluster":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
