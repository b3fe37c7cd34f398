"""Reader feedback, Telegram side: off-topic marks teach per-chat filters, muted stories, and the
hold check `publish` runs for every (chat, item).

    fb = Feedback(store, outbox, clock)
    fb.offtopic(chat_id, row, user_id)   -> Outcome (recorded?, the filter learned, items held)
    fb.mute(chat_id, row, seconds, user_id) -> Outcome
    fb.holding(rules, item, watchlists) -> (watchlists left, filter id holding it or None)
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.core import feedback as core
from bot.core.model import StoredItem
from bot.telegram.feedback_store import FeedbackStore, FilterRow

log = logging.getLogger("bot.telegram.feedback")
LEARN_DAYS = 30              # marks and kept items considered when learning a filter
BACKGROUND = 300             # at most this many stored items of the watchlist as the kept side
MUTE_DEFAULT = 3 * 86400
MUTE_MAX = 30 * 86400


@dataclass
class Outcome:
    recorded: bool                      # False: the same mark existed (a second press)
    filter: FilterRow | None = None     # the filter learned or extended (words) / the mute
    created: bool = False
    held: int = 0                       # pending rows of the chat now held by it
    words: list[str] = field(default_factory=list)


class Feedback:
    def __init__(self, store, outbox, clock):
        self.store = store
        self.outbox = outbox
        self.db = FeedbackStore(store)
        self.clock = clock

    # ------------------------------------------------------------ off-topic
    def offtopic(self, chat_id: int, row, user_id: int | None) -> Outcome | None:
        """Record the mark and (re)learn the chat's filters for the aliases that matched.
        None when the item is no longer in the store."""
        now = self.clock()
        item = self.store.item(row.guid)
        if item is None:
            return None
        hits = [h for h in item.hits if h.watchlist == row.watchlist] or item.hits
        out = Outcome(self.db.mark(chat_id, row.guid, "offtopic", row.watchlist, hits, user_id,
                                   now))
        for alias in sorted({h.alias for h in hits}):
            fid, created, words = self.learn(chat_id, row.watchlist, alias, now)
            if fid is not None and (out.filter is None or created):
                out.filter = next(f for f in self.db.filters(chat_id) if f.id == fid)
                out.created, out.words = created, words
        if out.filter is not None:
            out.held = self._hold_pending(chat_id, out.filter, now)
        return out

    def learn(self, chat_id: int, watchlist: str, alias: str,
              now: datetime) -> tuple[int | None, bool, list[str]]:
        """Distinctive words of the chat's off-topic items of this alias against the items it
        kept (and the watchlist's other stored items): the chat's filter for the alias."""
        since = now - timedelta(days=LEARN_DAYS)
        marks = [m for m in self.db.marks(chat_id=chat_id, watchlist=watchlist, since=since)
                 if alias in m.aliases]
        marked_guids = {m.guid for m in self.db.marks(chat_id=chat_id, since=since)}
        marked, skip = [], set()
        for m in marks:
            it = self.store.item(m.guid)
            if it is not None:
                marked.append(core.item_words(it.entry.title, it.entry.summary))
                skip |= core.alias_words(it.hits)
        if len(marked) < 2:
            return None, False, []
        kept = []
        seen = set(marked_guids)
        for g in self.db.delivered(chat_id, watchlist, since):
            if g not in seen:
                seen.add(g)
                it = self.store.item(g)
                if it is not None:
                    kept.append(core.item_words(it.entry.title, it.entry.summary))
        for it in self.store.recent_matches(since, watchlist)[:BACKGROUND]:
            if it.entry.id not in seen:
                seen.add(it.entry.id)
                kept.append(core.item_words(it.entry.title, it.entry.summary))
        removed = {w for f in self.db.word_filter(chat_id, watchlist, alias) if not f.active
                   for w in f.words}
        best = core.distinctive(marked, kept, exclude=skip | removed)
        if not best:
            return None, False, []
        words = [s.word for s in best]
        fid, created = self.db.save_word_filter(chat_id, watchlist, alias, words, len(marked),
                                                now)
        log.info("chat %s: filter %s on %s/%r: %s (%d marks, %d kept)", chat_id, fid, watchlist,
                 alias, words, len(marked), len(kept))
        return fid, created, words

    def _hold_pending(self, chat_id: int, f: FilterRow, now: datetime) -> int:
        """Rows of the chat that wait for a digest and fall under the new filter are held too."""
        rule = f.rule()
        guids = []
        for r in self.outbox.rows(chat_id):
            if r.state not in ("waiting", "queued"):
                continue
            it = self.store.item(r.guid)
            if it is not None and self._holds(rule, it, None):
                guids.append(r.guid)
        return self.db.hold_waiting(chat_id, f.id, guids) if guids else 0

    # ------------------------------------------------------------ mute a story
    def mute(self, chat_id: int, row, seconds: float, user_id: int | None) -> Outcome | None:
        now = self.clock()
        item = self.store.item(row.guid)
        if item is None:
            return None
        root = item.duplicate_of or item.entry.id
        first = self.store.item(root) or item
        feats = core.story_features(first.entry.title, core.alias_words(first.hits))
        recorded = self.db.mark(chat_id, row.guid, "mute", row.watchlist, item.hits, user_id, now)
        fid = self.db.save_story(chat_id, row.watchlist, root, sorted(feats), first.entry.title,
                                 now + timedelta(seconds=seconds), now)
        f = next(x for x in self.db.filters(chat_id) if x.id == fid)
        return Outcome(recorded, f, True, self._hold_pending(chat_id, f, now))

    # ------------------------------------------------------------ publish side
    def rules(self, chat_ids: list[int], now: datetime) -> dict[int, list[FilterRow]]:
        return self.db.active_filters(chat_ids, now)

    def _holds(self, rule, item: StoredItem, cache: dict | None) -> bool:
        if isinstance(rule, core.StoryMute):
            feats = _cached(cache, ("f", item.entry.id), lambda: core.story_features(
                item.entry.title, core.alias_words(item.hits)))
            return rule.holds(item.entry.id, item.duplicate_of, feats)
        ws = _cached(cache, ("w", item.entry.id),
                     lambda: core.item_words(item.entry.title, item.entry.summary))
        return rule.holds(item.hits, ws)

    def holding(self, filters: list[FilterRow], item: StoredItem, watchlists: list[str],
                cache: dict) -> tuple[list[str], int | None]:
        """The watchlists (of those the chat gets the item for) no filter holds, and the id of a
        filter that holds the item back when none is left."""
        if not filters:
            return watchlists, None
        for f in filters:
            if f.kind == "story" and self._holds(f.rule(), item, cache):
                return [], f.id
        left, by = list(watchlists), None
        for f in filters:
            if f.kind == "words" and f.watchlist in left and self._holds(f.rule(), item, cache):
                left.remove(f.watchlist)
                by = f.id
        return left, (by if not left else None)


def _cached(cache: dict | None, key, make):
    if cache is None:
        return make()
    v = cache.get(key)
    if v is None:
        v = cache[key] = make()
    return v
