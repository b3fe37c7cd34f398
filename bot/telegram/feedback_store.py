"""Reader feedback in the state database: off-topic marks, per-chat filters, muted stories,
admin suggestions. Telegram component, migration v2 (portable SQL, see store_sql.py).

tg_feedback   one row per (chat, item, kind): kind 'offtopic' or 'mute'; the watchlist, the
              aliases and the evidence (hits, JSON) that made the item reach the chat.
tg_filters    what holds items back from one chat: kind 'words' (alias + distinctive words,
              learned from the chat's off-topic marks) or 'story' (a muted story: its first
              copy's guid and headline features, until a time). active = 0: removed by a reader.
tg_outbox     gains state 'held' (+ filter_id): an item a filter kept from the chat; removing the
              filter moves its held rows to the next digest.
tg_chats      gains members_edit: 1 = any group member may change the settings.
tg_suggestions  watchlist edits offered to admins (the weekly message's buttons point here).
tg_meta       small key/value facts (when the weekly admin report went out).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from bot.adapters.store_sql import from_ts, to_ts
from bot.core.feedback import StoryMute, WordFilter
from bot.core.model import Hit

FEEDBACK_V2 = """
CREATE TABLE tg_feedback (
  id INTEGER PRIMARY KEY,
  chat_id INTEGER NOT NULL,
  guid TEXT NOT NULL,
  kind TEXT NOT NULL,
  watchlist TEXT NOT NULL,
  aliases TEXT NOT NULL,
  evidence TEXT NOT NULL,
  user_id INTEGER,
  created_at TEXT NOT NULL,
  UNIQUE (chat_id, guid, kind)
);
CREATE INDEX tg_feedback_wl ON tg_feedback (watchlist, kind);
CREATE TABLE tg_filters (
  id INTEGER PRIMARY KEY,
  chat_id INTEGER NOT NULL,
  kind TEXT NOT NULL,
  watchlist TEXT NOT NULL,
  subject TEXT NOT NULL,
  words TEXT NOT NULL,
  label TEXT,
  marks INTEGER NOT NULL DEFAULT 0,
  held INTEGER NOT NULL DEFAULT 0,
  active INTEGER NOT NULL DEFAULT 1,
  until TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX tg_filters_chat ON tg_filters (chat_id, active);
CREATE TABLE tg_suggestions (
  id INTEGER PRIMARY KEY,
  watchlist TEXT NOT NULL,
  alias TEXT NOT NULL,
  kind TEXT NOT NULL,
  text TEXT NOT NULL,
  affected INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  applied_at TEXT,
  applied_by INTEGER
);
CREATE TABLE tg_meta (
  k TEXT PRIMARY KEY,
  v TEXT
);
ALTER TABLE tg_outbox ADD COLUMN filter_id INTEGER;
ALTER TABLE tg_chats ADD COLUMN members_edit INTEGER NOT NULL DEFAULT 0;
"""

_F_COLS = ("id, chat_id, kind, watchlist, subject, words, label, marks, held, active, until, "
           "created_at")


@dataclass
class FilterRow:
    id: int
    chat_id: int
    kind: str            # "words" | "story"
    watchlist: str
    subject: str         # the alias (words) or the story's root guid (story)
    words: tuple[str, ...]
    label: str | None    # the story's headline
    marks: int
    held: int
    active: bool
    until: datetime | None
    created_at: datetime | None

    @classmethod
    def _from(cls, r) -> "FilterRow":
        return cls(r[0], r[1], r[2], r[3], r[4], tuple((r[5] or "").split()), r[6], r[7], r[8],
                   bool(r[9]), from_ts(r[10]), from_ts(r[11]))

    def rule(self) -> WordFilter | StoryMute:
        if self.kind == "story":
            return StoryMute(self.id, self.subject, frozenset(self.words))
        return WordFilter(self.id, self.watchlist, self.subject, frozenset(self.words))


@dataclass
class Mark:
    chat_id: int
    guid: str
    kind: str
    watchlist: str
    aliases: list[str]
    created_at: datetime | None


def hits_json(hits: list[Hit]) -> str:
    return json.dumps([h.as_dict() for h in hits], ensure_ascii=False)


class FeedbackStore:
    """SQL of the feedback tables (the Outbox's store and lock)."""

    def __init__(self, store):
        self.store = store

    def _q(self, sql, params=()):
        with self.store._lock:
            return self.store.conn.execute(sql, params).fetchall()

    # ------------------------------------------------------------ marks
    def mark(self, chat_id: int, guid: str, kind: str, watchlist: str, hits: list[Hit],
             user_id: int | None, now: datetime) -> bool:
        """Record a mark; False when the same mark already exists (a second press)."""
        aliases = sorted({h.alias for h in hits})
        with self.store.transaction() as c:
            return c.execute(
                "INSERT INTO tg_feedback (chat_id, guid, kind, watchlist, aliases, evidence, "
                "user_id, created_at) VALUES (?,?,?,?,?,?,?,?) "
                "ON CONFLICT (chat_id, guid, kind) DO NOTHING",
                (chat_id, guid, kind, watchlist, json.dumps(aliases, ensure_ascii=False),
                 hits_json(hits), user_id, to_ts(now))).rowcount > 0

    def marks(self, *, chat_id: int | None = None, kind: str = "offtopic",
              watchlist: str | None = None, since: datetime | None = None) -> list[Mark]:
        sql = ("SELECT chat_id, guid, kind, watchlist, aliases, created_at FROM tg_feedback "
               "WHERE kind = ?")
        params: list = [kind]
        if chat_id is not None:
            sql += " AND chat_id = ?"
            params.append(chat_id)
        if watchlist is not None:
            sql += " AND watchlist = ?"
            params.append(watchlist)
        if since is not None:
            sql += " AND created_at >= ?"
            params.append(to_ts(since))
        return [Mark(r[0], r[1], r[2], r[3], json.loads(r[4]), from_ts(r[5]))
                for r in self._q(sql + " ORDER BY id", params)]

    def delivered(self, chat_id: int, watchlist: str, since: datetime) -> list[str]:
        """Guids delivered to the chat under `watchlist` since then (not held, not dead)."""
        return [r[0] for r in self._q(
            "SELECT guid FROM tg_outbox WHERE chat_id = ? AND watchlist = ? AND state = 'sent' "
            "AND created_at >= ? ORDER BY id", (chat_id, watchlist, to_ts(since)))]

    def counts(self) -> dict[str, int]:
        out = {"offtopic": 0, "mute": 0, "filters": 0, "muted_stories": 0, "held": 0}
        for kind, n in self._q("SELECT kind, COUNT(*) FROM tg_feedback GROUP BY kind"):
            out[kind] = n
        for kind, n in self._q("SELECT kind, COUNT(*) FROM tg_filters WHERE active = 1 "
                               "GROUP BY kind"):
            out["filters" if kind == "words" else "muted_stories"] = n
        out["held"] = self._q("SELECT COUNT(*) FROM tg_outbox WHERE state = 'held'")[0][0]
        return out

    # ------------------------------------------------------------ filters
    def filters(self, chat_id: int, *, active_only: bool = True,
                now: datetime | None = None) -> list[FilterRow]:
        sql = f"SELECT {_F_COLS} FROM tg_filters WHERE chat_id = ?"
        params: list = [chat_id]
        if active_only:
            sql += " AND active = 1"
            if now is not None:
                sql += " AND (until IS NULL OR until > ?)"
                params.append(to_ts(now))
        return [FilterRow._from(r) for r in self._q(sql + " ORDER BY id", params)]

    def active_filters(self, chat_ids: list[int], now: datetime) -> dict[int, list[FilterRow]]:
        out: dict[int, list[FilterRow]] = {}
        if not chat_ids:
            return out
        marks = ",".join("?" * len(chat_ids))
        for r in self._q(f"SELECT {_F_COLS} FROM tg_filters WHERE active = 1 AND chat_id IN "
                         f"({marks}) AND (until IS NULL OR until > ?) ORDER BY id",
                         (*chat_ids, to_ts(now))):
            f = FilterRow._from(r)
            out.setdefault(f.chat_id, []).append(f)
        return out

    def word_filter(self, chat_id: int, watchlist: str, alias: str) -> list[FilterRow]:
        """Every word filter (active or removed) of the chat for this alias."""
        return [FilterRow._from(r) for r in self._q(
            f"SELECT {_F_COLS} FROM tg_filters WHERE chat_id = ? AND kind = 'words' AND "
            "watchlist = ? AND subject = ? ORDER BY id", (chat_id, watchlist, alias))]

    def save_word_filter(self, chat_id: int, watchlist: str, alias: str, words: list[str],
                         marks: int, now: datetime) -> tuple[int, bool]:
        """Create or update the chat's active filter for the alias. (id, created)."""
        ws = " ".join(words)
        with self.store.transaction() as c:
            r = c.execute("SELECT id FROM tg_filters WHERE chat_id = ? AND kind = 'words' AND "
                          "watchlist = ? AND subject = ? AND active = 1",
                          (chat_id, watchlist, alias)).fetchone()
            if r:
                c.execute("UPDATE tg_filters SET words = ?, marks = ?, updated_at = ? "
                          "WHERE id = ?", (ws, marks, to_ts(now), r[0]))
                return r[0], False
            r = c.execute("INSERT INTO tg_filters (chat_id, kind, watchlist, subject, words, "
                          "marks, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?) RETURNING id",
                          (chat_id, "words", watchlist, alias, ws, marks, to_ts(now),
                           to_ts(now))).fetchone()
            return r[0], True

    def save_story(self, chat_id: int, watchlist: str, root: str, features: list[str],
                   label: str, until: datetime, now: datetime) -> int:
        with self.store.transaction() as c:
            r = c.execute("SELECT id FROM tg_filters WHERE chat_id = ? AND kind = 'story' AND "
                          "subject = ? AND active = 1", (chat_id, root)).fetchone()
            if r:
                c.execute("UPDATE tg_filters SET until = ?, updated_at = ? WHERE id = ?",
                          (to_ts(until), to_ts(now), r[0]))
                return r[0]
            return c.execute(
                "INSERT INTO tg_filters (chat_id, kind, watchlist, subject, words, label, marks, "
                "until, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?) RETURNING id",
                (chat_id, "story", watchlist, root, " ".join(sorted(features)), label[:300], 1,
                 to_ts(until), to_ts(now), to_ts(now))).fetchone()[0]

    def remove_filter(self, chat_id: int, filter_id: int, now: datetime) -> tuple[FilterRow | None,
                                                                                  int]:
        """Deactivate the chat's filter; its held items go to the chat's next digest.
        (the filter, how many items were released), or (None, 0) when there is no such filter."""
        with self.store.transaction() as c:
            r = c.execute(f"SELECT {_F_COLS} FROM tg_filters WHERE id = ? AND chat_id = ? AND "
                          "active = 1", (filter_id, chat_id)).fetchone()
            if r is None:
                return None, 0
            c.execute("UPDATE tg_filters SET active = 0, updated_at = ? WHERE id = ?",
                      (to_ts(now), filter_id))
            n = c.execute("UPDATE tg_outbox SET state = 'waiting', kind = 'digest', "
                          "filter_id = NULL WHERE chat_id = ? AND filter_id = ? AND "
                          "state = 'held'", (chat_id, filter_id)).rowcount
            return FilterRow._from(r), n

    def hold_waiting(self, chat_id: int, filter_id: int, guids: list[str]) -> int:
        """A new filter also holds the chat's not-yet-sent rows of those items."""
        n = 0
        with self.store.transaction() as c:
            for g in guids:
                n += c.execute("UPDATE tg_outbox SET state = 'held', filter_id = ? WHERE "
                               "chat_id = ? AND guid = ? AND state IN ('waiting', 'queued')",
                               (filter_id, chat_id, g)).rowcount
            if n:
                c.execute("UPDATE tg_filters SET held = held + ? WHERE id = ?", (n, filter_id))
        return n

    def count_held(self, counts: dict[int, int]) -> None:
        if not counts:
            return
        with self.store.transaction() as c:
            c.executemany("UPDATE tg_filters SET held = held + ? WHERE id = ?",
                          [(n, fid) for fid, n in counts.items()])

    # ------------------------------------------------------------ chat setting, meta
    def members_edit(self, chat_id: int) -> bool:
        r = self._q("SELECT members_edit FROM tg_chats WHERE chat_id = ?", (chat_id,))
        return bool(r and r[0][0])

    def set_members_edit(self, chat_id: int, on: bool) -> None:
        with self.store.transaction() as c:
            c.execute("UPDATE tg_chats SET members_edit = ? WHERE chat_id = ?",
                      (1 if on else 0, chat_id))

    def meta(self, key: str) -> str | None:
        r = self._q("SELECT v FROM tg_meta WHERE k = ?", (key,))
        return r[0][0] if r else None

    def set_meta(self, key: str, value: str) -> None:
        with self.store.transaction() as c:
            c.execute("INSERT INTO tg_meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE "
                      "SET v = excluded.v", (key, value))

    # ------------------------------------------------------------ suggestions
    def add_suggestion(self, watchlist: str, alias: str, kind: str, text: str, affected: int,
                       now: datetime) -> int:
        with self.store.transaction() as c:
            return c.execute("INSERT INTO tg_suggestions (watchlist, alias, kind, text, affected,"
                             " created_at) VALUES (?,?,?,?,?,?) RETURNING id",
                             (watchlist, alias, kind, text, affected, to_ts(now))).fetchone()[0]

    def suggestion(self, sid: int) -> tuple | None:
        r = self._q("SELECT id, watchlist, alias, kind, text, affected, applied_at FROM "
                    "tg_suggestions WHERE id = ?", (sid,))
        return r[0] if r else None

    def applied(self, sid: int, user_id: int | None, now: datetime) -> bool:
        with self.store.transaction() as c:
            return c.execute("UPDATE tg_suggestions SET applied_at = ?, applied_by = ? WHERE "
                             "id = ? AND applied_at IS NULL",
                             (to_ts(now), user_id, sid)).rowcount > 0
