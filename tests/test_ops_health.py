"""Feed health transitions: failing once, recovered once, stale once per quiet period."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from bot.adapters.store import FeedState, Store
from bot.core.watchlist import Feed
from bot.ops.health import (FAILING, RECOVERED, STALE, admin_message, config_error_message,
                            feed_transitions)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
MIN = timedelta(minutes=5)


def feed(**kw) -> FeedState:
    base = dict(url="https://example.org/rss", name="Example", lang="en", interval=300.0,
                enabled=True)
    return FeedState(**{**base, **kw})


URL = "https://example.org/rss"


@pytest.fixture
def store(tmp_path):
    """A real Store with one feed whose last success and last new item were at T0."""
    s = Store.open(tmp_path / "state" / "sokuho.db")
    s.sync_feeds([Feed(name="Example", url=URL, lang="en")], 300, T0 - MIN)
    s.record_fetch(URL, status="ok", new_items=1, next_poll_at=T0 + MIN, now=T0)
    yield s
    s.close()


def run(seq, store, t: datetime = T0, **kw):
    """Polls (ok, new_items) recorded through Store.record_fetch, MIN apart; the transitions
    feed_transitions sees between the states the store returns, per poll."""
    events, cur = [], store.feed(URL)
    for ok, new in seq:
        t += MIN
        if ok:
            nxt = store.record_fetch(URL, status="ok", new_items=new, next_poll_at=t + MIN, now=t)
        else:
            nxt = store.record_fetch(URL, status="failed", error="timeout after 30s",
                                     error_kind="timeout", next_poll_at=t + MIN, now=t)
        events.append(feed_transitions(cur, nxt, t, **kw))
        cur = nxt
    return events, cur


def test_failing_once_then_recovered_once(store):
    seq = [(False, 0)] * 6 + [(True, 1)] + [(True, 0)] * 2
    events, _ = run(seq, store)
    flat = [e for ev in events for e in ev]
    assert flat == [FAILING, RECOVERED]
    assert events[2] == [FAILING]          # the third failure in a row
    assert events[6] == [RECOVERED]


def test_short_failure_streak_is_silent(store):
    events, _ = run([(False, 0), (False, 0), (True, 0), (False, 0), (True, 0)], store)
    assert all(e == [] for e in events)


def test_threshold_is_configurable_and_new_feed_counts():
    cur = feed(error_count=1, last_error_at=T0, last_error="dns")
    assert feed_transitions(None, cur, T0, fail_threshold=1) == [FAILING]
    assert feed_transitions(None, cur, T0) == []


def test_stale_once_per_quiet_period(store):
    stale_after = timedelta(hours=1)
    # 30 polls without new items (2.5 h), then a new item, then another 30 quiet polls
    seq = [(True, 0)] * 30 + [(True, 2)] + [(True, 0)] * 30
    events, _ = run(seq, store, stale_after=stale_after)
    stale_at = [i for i, ev in enumerate(events) if STALE in ev]
    assert len(stale_at) == 2
    assert stale_at[0] == 12               # poll i happens at T0 + (i+1)*5min: 65 min > 1 h
    assert stale_at[1] == 30 + 13          # again more than one hour after the new item


def test_failing_feed_is_not_called_stale_and_never_polled_feed_not_judged():
    old = T0 - timedelta(days=10)
    failing = feed(last_new_item_at=old, error_count=5, last_error_at=T0)
    assert STALE not in feed_transitions(failing, replace(failing, error_count=6), T0)
    never = feed(last_success_at=T0)       # answers, but never had an item: no reference time
    assert feed_transitions(never, never, T0 + timedelta(days=30)) == []


def test_disabled_feed_not_stale():
    f = feed(enabled=False, last_new_item_at=T0 - timedelta(days=9), last_success_at=T0)
    assert feed_transitions(None, f, T0) == []


def test_admin_message_batches_and_names_feeds():
    a = feed(name="NHK", url="https://nhk/rss", error_count=3, last_error="timeout after 30s",
             last_error_kind="timeout", last_success_at=T0 - timedelta(hours=2))
    b = feed(name="BBC", url="https://bbc/rss")
    c = feed(name="El País", url="https://elpais/rss", last_new_item_at=T0 - timedelta(days=3))
    text = admin_message([(RECOVERED, b), (STALE, c), (FAILING, a)], T0)
    lines = text.splitlines()
    assert lines[0] == "sokuho: feed health"
    assert "NHK (https://nhk/rss)" in lines[1] and "timeout after 30s" in lines[1]
    assert "3 failed polls" in lines[1] and "2h ago" in lines[1]
    assert "recovered" in lines[2] and "BBC" in lines[2]
    assert "El País" in lines[3] and "3d ago" in lines[3]
    assert admin_message([], T0) is None
    many = admin_message([(FAILING, replace(a, name=f"f{i}")) for i in range(30)], T0, limit=5)
    assert "25 more" in many


def test_config_error_message_lists_locations():
    text = config_error_message(["watchlists/a.yaml:3:5: aliases: invalid"])
    assert "previous configuration keeps running" in text and "a.yaml:3:5" in text
