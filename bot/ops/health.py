"""Feed health: what to tell admins when a feed starts failing, recovers, or goes quiet.

Pure functions of the feed's state before and after a poll (bot.adapters.store.FeedState, or
anything with the same attributes), so each alert is sent exactly once per transition and
nothing needs remembering across restarts: the store already holds error_count etc.

    prev = store.feed(url)                      # before the poll
    cur = store.record_fetch(url, ...)          # after
    events += [(k, cur) for k in feed_transitions(prev, cur, now)]
    ...after the cycle:  text = admin_message(events, now); if text: notify_admins(text)
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable, Protocol

FAILING, RECOVERED, STALE = "failing", "recovered", "stale"


class FeedLike(Protocol):
    url: str
    name: str
    enabled: bool
    error_count: int
    last_error: str | None
    last_error_kind: str | None
    last_error_at: datetime | None
    last_success_at: datetime | None
    last_new_item_at: datetime | None


def _last_poll(f: FeedLike) -> datetime | None:
    times = [t for t in (f.last_success_at, f.last_error_at) if t is not None]
    return max(times) if times else None


def is_stale(f: FeedLike, at: datetime, stale_after: timedelta) -> bool:
    """The feed answers but has had no new item for `stale_after`. A feed that never produced an
    item is not judged (there is no reference time); a failing feed is reported as failing."""
    return (f.enabled and f.last_new_item_at is not None and f.error_count == 0
            and at - f.last_new_item_at > stale_after)


def feed_transitions(prev: FeedLike | None, cur: FeedLike, now: datetime, *,
                     fail_threshold: int = 3,
                     stale_after: timedelta = timedelta(days=2)) -> list[str]:
    """Alerts due for this poll of one feed: any of "failing", "recovered", "stale".

    failing   error_count reached fail_threshold in this poll (once per failure streak)
    recovered a poll succeeded after a streak that had reached the threshold (once)
    stale     the feed crossed `stale_after` without new items since its previous poll (once
              per quiet period: a new item resets it)
    """
    out: list[str] = []
    prev_errors = prev.error_count if prev is not None else 0
    if prev_errors < fail_threshold <= cur.error_count:
        out.append(FAILING)
    elif prev_errors >= fail_threshold and cur.error_count == 0:
        out.append(RECOVERED)
    if is_stale(cur, now, stale_after):
        # Stale already at the previous poll? last_new_item_at does not change between polls, so
        # judging prev at the time it was polled sees the crossing in exactly one poll.
        prev_at = _last_poll(prev) if prev is not None else None
        was_stale = (prev_at is not None and prev.last_new_item_at == cur.last_new_item_at
                     and prev_at - cur.last_new_item_at > stale_after)
        if not was_stale:
            out.append(STALE)
    return out


# ------------------------------------------------------------------------------ progress
class Progress:
    """Is the poll cycle making progress? The watchdog and /healthz ask this, so a cycle stuck on
    one feed (a parser that never returns, a hung store call) stops WATCHDOG=1 and systemd
    restarts the service, instead of being kept alive by a loop that merely answers.

    A cycle makes progress while feeds finish: `stuck()` is true once a cycle has run for more
    than `bound` seconds without any feed finishing. Times are monotonic seconds.
    """

    def __init__(self, bound: float = 600.0):
        self.bound = bound
        self.started: float | None = None     # the running cycle's start (None: no cycle)
        self.last: float | None = None        # the last feed finished in it, or its start

    def cycle_started(self, now: float) -> None:
        self.started = self.last = now

    def feed_done(self, now: float) -> None:
        if self.started is not None:
            self.last = now

    def cycle_ended(self) -> None:
        self.started = self.last = None

    def stuck(self, now: float) -> bool:
        return self.last is not None and now - self.last > self.bound

    def describe(self, now: float) -> str:
        if self.started is None:
            return "idle"
        return (f"cycle running for {now - self.started:.0f}s, last feed finished "
                f"{now - (self.last or self.started):.0f}s ago")


# ------------------------------------------------------------------------------ rendering
def ago(then: datetime | None, now: datetime) -> str:
    if then is None:
        return "never"
    secs = (now - then).total_seconds()
    if secs < 0:
        return "in the future (clock?)"
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= n:
            return f"{int(secs // n)}{unit} ago"
    return f"{int(secs)}s ago"


def render(kind: str, f: FeedLike, now: datetime) -> str:
    """One plain-text line per event (the Telegram sink escapes it)."""
    name = f"{f.name} ({f.url})"
    if kind == FAILING:
        err = f.last_error or "unknown error"
        extra = f" [{f.last_error_kind}]" if f.last_error_kind else ""
        return (f"⚠️ feed failing: {name}: {f.error_count} failed polls in a row; last error"
                f"{extra}: {err}; last success {ago(f.last_success_at, now)}. "
                "It keeps being polled.")
    if kind == RECOVERED:
        return f"✅ feed recovered: {name} answers again."
    if kind == STALE:
        return (f"💤 feed quiet: {name} has had no new item since "
                f"{f.last_new_item_at:%Y-%m-%d %H:%M} UTC ({ago(f.last_new_item_at, now)}). "
                "Has its address changed?")
    raise ValueError(f"unknown health event {kind!r}")


def admin_message(events: Iterable[tuple[str, FeedLike]], now: datetime,
                  limit: int = 20) -> str | None:
    """All events of a cycle in one message (a network outage makes every feed fail at once:
    admins get one message, not one per feed). None when there is nothing to say."""
    events = list(events)
    if not events:
        return None
    order = {FAILING: 0, RECOVERED: 1, STALE: 2}
    events.sort(key=lambda e: (order.get(e[0], 9), e[1].name))
    lines = [render(k, f, now) for k, f in events[:limit]]
    if len(events) > limit:
        lines.append(f"… and {len(events) - limit} more (see `sokuho status`).")
    head = "sokuho: feed health" if len(events) > 1 else None
    return "\n".join([head, *lines] if head else lines)


def config_error_message(problems: Iterable[object], *, limit: int = 10) -> str:
    """Admin alert for a rejected watchlist/feeds edit; `problems` print as file:line:col: ..."""
    problems = [str(p) for p in problems]
    lines = ["❌ configuration change rejected; the previous configuration keeps running:"]
    lines += [f"• {p}" for p in problems[:limit]]
    if len(problems) > limit:
        lines.append(f"… and {len(problems) - limit} more (`sokuho check` lists them all)")
    return "\n".join(lines)
