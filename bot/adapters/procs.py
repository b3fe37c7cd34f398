"""Is a process of this host still the one that registered? (dead instances' feed leases)

A process is identified by its pid plus its kernel start time: `identity(pid)` is
"<boot id>:<start time in clock ticks since boot>" read from /proc, which no later process with
a reused pid, and no process of another boot, can share. Where /proc is not available the
identity is "" and only the pid's existence (and its start time against the registry's
started_at) can be checked.
"""
from __future__ import annotations

import os
from datetime import datetime

# a pid whose process started this long after the instance registered cannot be that instance
# (its registration came after its start); the slack absorbs the clock's drift against boot time
_CLOCK_SLACK = 5.0


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def _stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in ticks since boot) from /proc/<pid>/stat, None if absent."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2:].split()     # after "pid (comm) ", comm may hold spaces
    try:
        return fields[0], int(fields[19])          # state (field 3), starttime (field 22)
    except (IndexError, ValueError):
        return None


def identity(pid: int | None = None) -> str:
    """This process's (or `pid`'s) identity on this host, "" when /proc cannot tell."""
    st = _stat(os.getpid() if pid is None else pid)
    boot = _boot_id()
    return f"{boot}:{st[1]}" if st and boot else ""


def _started_at(ticks: int) -> float | None:
    """Wall-clock time of a start time in ticks since boot."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            btime = next(int(x.split()[1]) for x in fh if x.startswith("btime "))
        return btime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, StopIteration, ValueError):
        return None


def is_dead(pid: int, proc: str, registered_at: datetime | None) -> bool:
    """True only when the process that registered as (pid, proc) at `registered_at` surely no
    longer runs on this host: no such pid, a zombie, or the pid now belongs to another process
    (another start time or boot). When in doubt: alive (its leases then expire as before)."""
    if pid <= 0:
        return True
    st = _stat(pid)
    if st is None:
        if os.path.isdir("/proc/self"):
            return True                            # /proc works and has no such pid
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False                           # exists (another user's): can't tell more
        return False
    state, ticks = st
    if state in ("Z", "X"):
        return True                                # killed, not yet reaped: gone all the same
    if proc:
        return proc != f"{_boot_id()}:{ticks}"
    if registered_at is not None:                  # a row from before identities were kept
        started = _started_at(ticks)
        return started is not None and started > registered_at.timestamp() + _CLOCK_SLACK
    return False
