"""Chat schedule helpers: digest times, quiet hours, mute. Pure functions of (now, settings)."""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TZ = "Asia/Tokyo"
DEFAULT_SCHEDULE = "08:00,20:00"
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TZ)


def valid_tz(tz: str) -> bool:
    try:
        ZoneInfo(tz)
        return "/" in tz or tz in ("UTC",)
    except (ZoneInfoNotFoundError, ValueError):
        return False


def parse_hhmm(s: str) -> time:
    m = _HHMM.match(s.strip())
    if not m:
        raise ValueError(f"{s!r} is not a time (HH:MM)")
    return time(int(m.group(1)), int(m.group(2)))


def parse_schedule(s: str) -> list[time]:
    """'08:00,20:00' -> sorted unique times. ValueError on bad input or more than 24 times."""
    parts = [p for p in re.split(r"[,\s]+", s.strip()) if p]
    if not parts:
        raise ValueError("no times given")
    times = sorted({parse_hhmm(p) for p in parts})
    if len(times) > 24:
        raise ValueError("at most 24 digest times")
    return times


def format_schedule(times: list[time]) -> str:
    return ",".join(t.strftime("%H:%M") for t in times)


def parse_quiet(s: str) -> tuple[time, time]:
    m = re.match(r"^\s*(\S+)\s*-\s*(\S+)\s*$", s)
    if not m:
        raise ValueError(f"{s!r} is not a range (HH:MM-HH:MM)")
    a, b = parse_hhmm(m.group(1)), parse_hhmm(m.group(2))
    if a == b:
        raise ValueError("empty quiet range")
    return a, b


def next_digest(now: datetime, schedule: str, tz: str) -> datetime:
    """The first scheduled digest time strictly after `now` (aware UTC in, aware out)."""
    try:
        times = parse_schedule(schedule)
    except ValueError:
        times = parse_schedule(DEFAULT_SCHEDULE)
    z = zone(tz)
    local = now.astimezone(z)
    for day in range(0, 3):
        d = (local + timedelta(days=day)).date()
        for t in times:
            cand = datetime.combine(d, t, tzinfo=z)
            if cand > local:
                return cand.astimezone(now.tzinfo)
    raise AssertionError("unreachable")


def in_quiet(now: datetime, quiet: str | None, tz: str) -> bool:
    if not quiet:
        return False
    try:
        a, b = parse_quiet(quiet)
    except ValueError:
        return False
    t = now.astimezone(zone(tz)).time().replace(second=0, microsecond=0)
    if a < b:
        return a <= t < b
    return t >= a or t < b         # wraps midnight, e.g. 23:00-07:00


def is_muted(now: datetime, muted_until: datetime | None) -> bool:
    return muted_until is not None and now < muted_until
