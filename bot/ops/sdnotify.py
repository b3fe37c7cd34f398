"""sd_notify(3) without libsystemd: one AF_UNIX datagram per message to $NOTIFY_SOCKET.

Every call is a no-op when NOTIFY_SOCKET is unset (not started by systemd), and a failing send
is logged, never raised: notification must not take the service down.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
import os
import socket
import time
from typing import Awaitable, Callable, Mapping

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, env: Mapping[str, str] | None = None):
        env = os.environ if env is None else env
        addr = env.get("NOTIFY_SOCKET") or None
        if addr and addr.startswith("@"):           # abstract namespace socket
            addr = "\0" + addr[1:]
        elif addr and not addr.startswith("/"):     # vsock: etc. are not supported
            log.warning("NOTIFY_SOCKET=%r is not a unix socket path; not notifying systemd", addr)
            addr = None
        self.address: str | None = addr
        self._sock: socket.socket | None = None
        self._failed = False
        self._watchdog_usec: int | None = None
        usec, pid = env.get("WATCHDOG_USEC"), env.get("WATCHDOG_PID")
        try:
            if usec and int(usec) > 0 and (not pid or int(pid) == os.getpid()):
                self._watchdog_usec = int(usec)
        except ValueError:
            log.warning("ignoring malformed WATCHDOG_USEC=%r / WATCHDOG_PID=%r", usec, pid)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between WATCHDOG=1 pings: half of WatchdogSec=, as sd_watchdog_enabled(3) advises."""
        return None if self._watchdog_usec is None else self._watchdog_usec / 2e6

    # ------------------------------------------------------------------ sending
    def send(self, message: str) -> bool:
        """Send one datagram; True when it was handed to the socket."""
        if self.address is None:
            return False
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(message.encode("utf-8"), self.address)
        except OSError as e:
            if not self._failed:        # once, not at every watchdog ping
                log.warning("sd_notify to %s failed: %s", self.address.replace("\0", "@"), e)
            self._failed = True
            self.close()
            return False
        if self._failed:
            log.info("sd_notify works again")
            self._failed = False
        return True

    def notify(self, **fields) -> bool:
        """notify(READY=1, STATUS="...") -> "READY=1\\nSTATUS=...". Values are single lines."""
        lines = []
        for key, value in fields.items():
            text = str(int(value) if isinstance(value, bool) else value)
            lines.append(f"{key.upper()}={' '.join(text.splitlines())}")
        return self.send("\n".join(lines) + "\n") if lines else False

    def ready(self, status: str | None = None) -> bool:
        return self.notify(READY=1, **({"STATUS": status} if status else {}))

    def status(self, text: str) -> bool:
        return self.notify(STATUS=text)

    def reloading(self, status: str | None = "Reloading configuration") -> bool:
        # MONOTONIC_USEC lets systemd >= 253 (Type=notify-reload) match this to its reload job;
        # older versions ignore the field. Send ready() when the reload is done.
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        fields = {"RELOADING": 1, "MONOTONIC_USEC": usec}
        if status:
            fields["STATUS"] = status
        return self.notify(**fields)

    def stopping(self, status: str | None = "Stopping") -> bool:
        return self.notify(STOPPING=1, **({"STATUS": status} if status else {}))

    def watchdog(self) -> bool:
        return self.notify(WATCHDOG=1)

    def extend_timeout(self, seconds: float) -> bool:
        """Ask for more start/stop time (EXTEND_TIMEOUT_USEC), e.g. during long migrations."""
        return self.notify(EXTEND_TIMEOUT_USEC=int(seconds * 1e6))

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


Check = Callable[[], "Awaitable[bool] | bool"]


async def run_check(check: Check, timeout: float, what: str = "watchdog check") -> bool:
    """True when `check()` (sync or async) returns truthy within `timeout`; False when it returns
    falsy, raises or times out (logged as a warning)."""
    try:
        result = check()
        if inspect.isawaitable(result):
            result = await asyncio.wait_for(result, timeout)
        return bool(result)
    except asyncio.CancelledError:
        raise
    except Exception as e:   # a check that raises or times out is a failed check
        log.warning("%s failed: %s", what, e or type(e).__name__)
        return False


async def watchdog_loop(notifier: Notifier, check: Check, *, interval: float | None = None) -> None:
    """Send WATCHDOG=1 every interval, but only after `check()` succeeded.

    While the check fails (returns false, raises, or takes longer than the interval) no ping is
    sent, so systemd kills and restarts the service once WatchdogSec= passes without one. A
    single slow check only skips one ping (the interval is half the timeout). Returns at once
    when the watchdog is not enabled; runs until cancelled otherwise.
    """
    interval = interval or notifier.watchdog_interval
    if not interval or not notifier.enabled:
        return
    healthy = True
    while True:
        ok = await run_check(check, timeout=interval)
        if ok:
            notifier.watchdog()
            if not healthy:
                log.warning("watchdog check passes again; pinging systemd")
        elif healthy:
            log.error("watchdog check failed; not pinging systemd (it restarts sokuho after "
                      "WatchdogSec= without a ping)")
        healthy = ok
        await asyncio.sleep(interval)
