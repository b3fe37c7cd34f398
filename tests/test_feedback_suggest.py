"""bot.ops.suggest: from readers' off-topic marks to one safe watchlist edit per alias, with its
effect measured by re-matching the stored stories (SQLite and PostgreSQL)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import bot.telegram.outbox  # noqa: F401 - registers the telegram migrations
from bot.adapters.store import Store
from bot.core.matcher import Matcher
from bot.core.model import Entry, Processed
from bot.core.watchlist import Watchlist
from bot.ops import suggest
from bot.telegram.feedback_store import FeedbackStore
from bot.telegram.outbox import Outbox

NOW = datetime.now(timezone.utc)


def build(database, wl: Watchlist, marked: list[str], kept: list[str]):
    store = Store.open(database)
    m = Matcher([wl])
    batch, n = [], 0
    for title in marked + kept:
        n += 1
        e = Entry(f"g{n}", "feed", title, f"https://x/{n}", published=NOW - timedelta(hours=n))
        batch.append(Processed(e, m.match(e)))
    assert all(p.hits for p in batch), [p.entry.title for p in batch if not p.hits]
    store.save_processed(batch, fetched_at=NOW)
    ob, db = Outbox(store), FeedbackStore(store)
    ob.ensure_chat(7, kind="private", title="u", username=None, lang="en", next_digest_at=NOW,
                   now=NOW)
    ob.enqueue([(7, 0, p.entry.id, wl.name, "instant", "queued") for p in batch], NOW)
    ob.mark_sent([r.id for r in ob.rows(7)], 1, NOW)
    for p in batch[:len(marked)]:
        db.mark(7, p.entry.id, "offtopic", wl.name, p.hits, 7, NOW)
    return store


def test_an_exclude_phrase_comes_first(database):
    wl = Watchlist.model_validate({"name": "cuba", "aliases": {"en": ["Cuban", "Havana"]}})
    store = build(database, wl, ["Havana syndrome study finds no brain injury",
                                 "Havana syndrome victims sue the CIA"],
                  ["Cuban government raises fuel prices", "Cuban doctors return from Mexico",
                   "Havana hit by blackout"])
    with store:
        (s,) = suggest.suggest(store, {"cuba": wl}, NOW)
    assert (s.alias, s.marks, s.delivered, s.kind, s.text) == ("Havana", 2, 3, "exclude",
                                                               "havana syndrome")
    assert (s.lost, s.lost_marked, s.lost_kept) == (2, 2, 0)


def test_a_context_requirement_when_the_marks_share_no_word(database):
    wl = Watchlist.model_validate({"name": "monroe", "aliases": {"en": ["Monroe"]},
                                   "context": ["doctrine", "Donroe"]})
    store = build(database, wl, ["Monroe film festival opens", "Monroe county fair opens",
                                 "Monroe football coach quits"],
                  ["Trump revives the Monroe doctrine", "Monroe doctrine returns to Caracas",
                   "Donroe: Monroe reborn in Washington"])
    with store:
        (s,) = suggest.suggest(store, {"monroe": wl}, NOW)
    assert (s.kind, s.lost, s.lost_marked, s.lost_kept) == ("needs_context", 3, 3, 0)
    assert "needs a context word" in suggest.render([s], 30)


def test_no_edit_is_offered_when_every_candidate_would_drop_a_kept_item(database, tmp_path):
    wl = Watchlist.model_validate({"name": "cuba", "aliases": {"en": ["Cuba"]}})
    store = build(database, wl, ["Cuba baseball team wins", "Cuba baseball league opens"],
                  ["Cuba baseball stadium becomes blackout shelter"])
    with store:
        (s,) = suggest.suggest(store, {"cuba": wl}, NOW)
    assert s.kind is None and "no edit found" in suggest.render([s], 30)
    with pytest.raises(Exception):
        suggest.apply(tmp_path, s)
