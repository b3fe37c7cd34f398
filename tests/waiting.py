"""Bounded waits for the state a test asserts.

    await eventually(lambda: outbox_states(42) == ["sent"], timeout=10, what="row sent")

A test waits for exactly the state it is about to assert (a row in the store, a line in a log),
never for a neighbouring event and never for a fixed time: on a loaded machine any fixed sleep
is too short, and a neighbouring event (a message seen by the fake server) can happen before the
state the test cares about. The timeout is only an upper bound for a hung test; it can be generous.
Set SOKUHO_TEST_WAIT_SCALE (e.g. 3) to stretch every bound on a very slow machine.
"""
from __future__ import annotations

import asyncio
import os
import time

SCALE = float(os.environ.get("SOKUHO_TEST_WAIT_SCALE") or 1)


class _Deadline:
    def __init__(self, timeout: float, what):
        self.timeout, self.what = timeout * SCALE, what
        self.end = time.monotonic() + self.timeout

    def check(self) -> None:
        if time.monotonic() > self.end:
            detail = self.what() if callable(self.what) else self.what
            raise AssertionError(f"condition not met within {self.timeout:g}s"
                                 + (f": {detail}" if detail else ""))


async def eventually(pred, timeout: float = 10.0, interval: float = 0.02, what=None):
    """Poll pred() until it returns a truthy value (returned) or fail after `timeout` seconds."""
    deadline = _Deadline(timeout, what)
    while not (value := pred()):
        deadline.check()
        await asyncio.sleep(interval)
    return value


def eventually_sync(pred, timeout: float = 10.0, interval: float = 0.02, what=None):
    """The same for synchronous tests (threads, subprocesses)."""
    deadline = _Deadline(timeout, what)
    while not (value := pred()):
        deadline.check()
        time.sleep(interval)
    return value
