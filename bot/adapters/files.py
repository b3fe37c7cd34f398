"""Writing files atomically: a reader (or the config watcher) sees the old file or the new one,
never half of either."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path: Path, text: str, *, mode: int | None = None) -> None:
    """Temp file in the same directory, fsync, rename over `path`, fsync the directory.
    Keeps `path`'s permissions unless `mode` is given (new files: 0644)."""
    path = Path(path)
    if mode is None:
        mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:
        dfd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


# ------------------------------------------------------------------- private state files
STATE_FILE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def private_dir(directory: Path) -> None:
    """Create `directory` 0700 whatever the umask. An existing one is tightened when it is ours
    and holds nothing but sokuho state (never a shared folder such as /tmp or $HOME)."""
    directory = Path(directory)
    if not directory.exists():
        directory.mkdir(parents=True, mode=0o700)
        os.chmod(directory, 0o700)        # mkdir's mode is filtered by the umask: be explicit
        return
    st = directory.stat()
    if st.st_uid != os.geteuid() or st.st_mode & 0o1000 or not st.st_mode & 0o077:
        return
    try:
        names = {p.name for p in directory.iterdir()}
        if not names or "sokuho.db" in names:
            os.chmod(directory, 0o700)
    except OSError:
        pass          # read-only or unreadable: the database open reports it


def private_file(path: Path) -> None:
    """Make `path` (created empty if missing) and its SQLite companions (-wal, -shm) 0600.
    SQLite creates -wal/-shm with the database file's permissions, so they follow it.
    Errors are left for SQLite's own open to report (it names them better)."""
    path = Path(path)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
    except OSError:
        return
    for suffix in STATE_FILE_SUFFIXES:
        p = path.with_name(path.name + suffix)
        try:
            if p.stat().st_mode & 0o077 and p.stat().st_uid == os.geteuid():
                os.chmod(p, 0o600)
        except OSError:
            pass
