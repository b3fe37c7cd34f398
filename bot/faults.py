"""Crash injection for tests only: deterministic "the process dies here" points.

Production never sets either knob; both are no-ops unless a test sets them.

- SOKUHO_TEST_CRASH=<point> in the environment: the process exits at once (os._exit(70), no
  cleanup, no commit: what a kill -9 or a power cut does) when it reaches <point>;
- `faults.hook = callable(point)`: called at every point (in-process tests raise from it).

Points, in the order one poll reaches them (see Pipeline._poll and TelegramSink.publish):
  items_stored          inside the feed's one transaction: items, hits and marks written, the
                        poll record (validators) not yet; a crash here leaves none of them
  items_committed       the feed's new items (and their "to publish" marks) are committed
  fetch_recorded        the feed's validators / next poll time are committed too (today the
                        same commit as the items: both points follow it)
  outbox_half_written   inside the outbox transaction, half of the rows inserted (Telegram)
  published             the sink has queued every alert; the marks are not cleared yet
"""
from __future__ import annotations

import os

POINTS = ("items_committed", "fetch_recorded", "outbox_half_written", "published")
INSIDE = ("items_stored",)        # points inside a transaction: nothing of it survives
CRASH_EXIT = 70
hook = None


def point(name: str) -> None:
    if hook is not None:
        hook(name)
    if os.environ.get("SOKUHO_TEST_CRASH") == name:
        os._exit(CRASH_EXIT)
