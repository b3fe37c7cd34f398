"""Telegram tables in the state database: chats, subscriptions, and the delivery outbox.

Outbox row states:  waiting (digest row: waits for the chat's schedule or /digest)
                    queued  (to be sent as soon as pacing allows)
                    sent    (terminal: the API call returned a message)
                    dead    (terminal: chat blocked us / gone; kept for the record)
UNIQUE (chat_id, thread_id, guid): an item reaches a chat (topic) at most once. thread_id 0 =
no forum topic (NULL would not be unique). All timestamps are store_sql.to_ts text (UTC).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from bot.core.model import utcnow
from bot import faults
from bot.adapters.store import Store
from bot.adapters.store_sql import from_ts, to_ts
from bot.telegram.feedback_store import FEEDBACK_V2

MIGRATIONS = [
    """
CREATE TABLE tg_chats (
  chat_id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  title TEXT,
  username TEXT,
  lang TEXT NOT NULL DEFAULT 'en',
  tz TEXT NOT NULL DEFAULT 'Asia/Tokyo',
  schedule TEXT NOT NULL DEFAULT '08:00,20:00',
  quiet TEXT,
  muted_until TEXT,
  active INTEGER NOT NULL DEFAULT 1,
  inactive_reason TEXT,
  owner_id INTEGER,
  next_digest_at TEXT,
  next_no INTEGER NOT NULL DEFAULT 1,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE tg_subscriptions (
  chat_id INTEGER NOT NULL,
  thread_id INTEGER NOT NULL DEFAULT 0,
  watchlist TEXT NOT NULL,
  mode TEXT NOT NULL DEFAULT 'digest',
  active INTEGER NOT NULL DEFAULT 1,
  created_at TEXT NOT NULL,
  PRIMARY KEY (chat_id, thread_id, watchlist)
);
CREATE INDEX tg_subscriptions_wl ON tg_subscriptions (watchlist, active);
CREATE TABLE tg_outbox (
  id INTEGER PRIMARY KEY,
  chat_id INTEGER NOT NULL,
  thread_id INTEGER NOT NULL DEFAULT 0,
  guid TEXT NOT NULL,
  watchlist TEXT NOT NULL,
  kind TEXT NOT NULL,
  state TEXT NOT NULL,
  item_no INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0,
  not_before TEXT,
  last_error TEXT,
  created_at TEXT NOT NULL,
  sent_at TEXT,
  message_id INTEGER,
  UNIQUE (chat_id, thread_id, guid)
);
CREATE INDEX tg_outbox_state ON tg_outbox (state, chat_id);
CREATE INDEX tg_outbox_no ON tg_outbox (chat_id, item_no);
""",
    FEEDBACK_V2,      # v2: reader feedback (bot/telegram/feedback_store.py)
    # v3 (issue 12): an instant alert is edited once to add the other outlets of its story
    """
ALTER TABLE tg_outbox ADD COLUMN edit_due TEXT;
ALTER TABLE tg_outbox ADD COLUMN edited_at TEXT;
""",
]
Store.register_migrations("telegram", MIGRATIONS)
EDIT_WINDOW = timedelta(hours=1)     # an alert older than this is left as it is

_CHAT_COLS = ("chat_id, kind, title, username, lang, tz, schedule, quiet, muted_until, active, "
              "inactive_reason, owner_id, next_digest_at, next_no")
_ROW_COLS = "id, chat_id, thread_id, guid, watchlist, kind, state, item_no, attempts"



@dataclass
class Chat:
    chat_id: int
    kind: str
    title: str | None
    username: str | None
    lang: str
    tz: str
    schedule: str
    quiet: str | None
    muted_until: datetime | None
    active: bool
    inactive_reason: str | None
    owner_id: int | None
    next_digest_at: datetime | None
    next_no: int

    @classmethod
    def _from(cls, r) -> "Chat":
        return cls(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], from_ts(r[8]), bool(r[9]),
                   r[10], r[11], from_ts(r[12]), r[13])


@dataclass
class Sub:
    chat_id: int
    thread_id: int
    watchlist: str
    mode: str


@dataclass
class Row:
    id: int
    chat_id: int
    thread_id: int
    guid: str
    watchlist: str
    kind: str
    state: str
    item_no: int | None
    attempts: int


class Outbox:
    def __init__(self, store: Store):
        self.store = store
        if not store.has_table("tg_filters"):    # opened before this module was imported
            store.migrate()

    def _q(self, sql, params=()):
        with self.store._lock:
            return self.store.conn.execute(sql, params).fetchall()

    # ------------------------------------------------------------ chats
    def chat(self, chat_id: int) -> Chat | None:
        r = self._q(f"SELECT {_CHAT_COLS} FROM tg_chats WHERE chat_id = ?", (chat_id,))
        return Chat._from(r[0]) if r else None

    def chat_by_username(self, username: str) -> Chat | None:
        r = self._q(f"SELECT {_CHAT_COLS} FROM tg_chats WHERE lower(username) = ?",
                    (username.lstrip("@").lower(),))
        return Chat._from(r[0]) if r else None

    def channels(self, owner_id: int | None = None) -> list[Chat]:
        sql = f"SELECT {_CHAT_COLS} FROM tg_chats WHERE kind = 'channel'"
        params: tuple = ()
        if owner_id is not None:
            sql += " AND owner_id = ?"
            params = (owner_id,)
        return [Chat._from(r) for r in self._q(sql + " ORDER BY chat_id", params)]

    def ensure_chat(self, chat_id: int, *, kind: str, title: str | None, username: str | None,
                    lang: str, next_digest_at: datetime, now: datetime,
                    owner_id: int | None = None) -> Chat:
        """Create the chat on first contact (reactivating it if it was deactivated)."""
        with self.store.transaction() as c:
            c.execute("INSERT INTO tg_chats (chat_id, kind, title, username, lang, owner_id, "
                      "next_digest_at, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?) "
                      "ON CONFLICT (chat_id) DO UPDATE SET title = excluded.title, "
                      "username = excluded.username, kind = excluded.kind, active = 1, "
                      "inactive_reason = NULL",
                      (chat_id, kind, title, username, lang, owner_id, to_ts(next_digest_at),
                       to_ts(now), to_ts(now)))
        return self.chat(chat_id)

    def update_chat(self, chat_id: int, **fields) -> None:
        sets, params = [], []
        for k, v in fields.items():
            if k not in {"lang", "tz", "schedule", "quiet", "muted_until", "next_digest_at",
                         "owner_id", "title", "username"}:
                raise KeyError(k)
            sets.append(f"{k} = ?")
            params.append(to_ts(v) if isinstance(v, datetime) else v)
        sets.append("updated_at = ?")
        params += [to_ts(utcnow()), chat_id]
        with self.store.transaction() as c:
            c.execute(f"UPDATE tg_chats SET {', '.join(sets)} WHERE chat_id = ?", params)

    def deactivate(self, chat_id: int, reason: str) -> int:
        """Blocked / kicked / chat gone: subscriptions off, undelivered rows dead. Returns rows."""
        with self.store.transaction() as c:
            c.execute("UPDATE tg_chats SET active = 0, inactive_reason = ?, updated_at = ? "
                      "WHERE chat_id = ?", (reason, to_ts(utcnow()), chat_id))
            c.execute("UPDATE tg_subscriptions SET active = 0 WHERE chat_id = ?", (chat_id,))
            return c.execute("UPDATE tg_outbox SET state = 'dead', last_error = ? "
                             "WHERE chat_id = ? AND state IN ('waiting', 'queued')",
                             (reason, chat_id)).rowcount

    def drop_thread(self, chat_id: int, thread_id: int, reason: str) -> int:
        """A forum topic was deleted: its subscriptions off, its undelivered rows dead."""
        with self.store.transaction() as c:
            c.execute("UPDATE tg_subscriptions SET active = 0 WHERE chat_id = ? AND thread_id = ?",
                      (chat_id, thread_id))
            return c.execute("UPDATE tg_outbox SET state = 'dead', last_error = ? WHERE "
                             "chat_id = ? AND thread_id = ? AND state IN ('waiting', 'queued')",
                             (reason, chat_id, thread_id)).rowcount

    def migrate_chat(self, old: int, new: int) -> None:
        """Group upgraded to supergroup: move the chat, its subscriptions and its outbox rows."""
        with self.store.transaction() as c:
            if c.execute("SELECT 1 FROM tg_chats WHERE chat_id = ?", (new,)).fetchone():
                c.execute("DELETE FROM tg_chats WHERE chat_id = ?", (old,))
            else:
                c.execute("UPDATE tg_chats SET chat_id = ?, kind = 'supergroup' "
                          "WHERE chat_id = ?", (new, old))
            # portable (SQLite and PostgreSQL): move what does not already exist under the new id
            c.execute("UPDATE tg_subscriptions SET chat_id = ? WHERE chat_id = ? AND NOT EXISTS "
                      "(SELECT 1 FROM tg_subscriptions n WHERE n.chat_id = ? AND "
                      "n.thread_id = tg_subscriptions.thread_id AND "
                      "n.watchlist = tg_subscriptions.watchlist)", (new, old, new))
            c.execute("DELETE FROM tg_subscriptions WHERE chat_id = ?", (old,))
            c.execute("UPDATE tg_outbox SET chat_id = ? WHERE chat_id = ? AND NOT EXISTS "
                      "(SELECT 1 FROM tg_outbox n WHERE n.chat_id = ? AND "
                      "n.thread_id = tg_outbox.thread_id AND n.guid = tg_outbox.guid)",
                      (new, old, new))
            c.execute("UPDATE tg_outbox SET state = 'dead', last_error = 'migrated (dup)' "
                      "WHERE chat_id = ? AND state IN ('waiting', 'queued')", (old,))

    def digest_due(self, now: datetime) -> list[Chat]:
        return [Chat._from(r) for r in self._q(
            f"SELECT {_CHAT_COLS} FROM tg_chats WHERE active = 1 AND next_digest_at <= ? "
            "ORDER BY chat_id", (to_ts(now),))]

    # ------------------------------------------------------------ subscriptions
    def subscribe(self, chat_id: int, thread_id: int, watchlist: str, mode: str,
                  now: datetime) -> bool:
        """True if newly (re)activated, False if it was already active."""
        with self.store.transaction() as c:
            r = c.execute("SELECT active FROM tg_subscriptions WHERE chat_id = ? AND "
                          "thread_id = ? AND watchlist = ?",
                          (chat_id, thread_id, watchlist)).fetchone()
            if r and r[0]:
                return False
            c.execute("INSERT INTO tg_subscriptions (chat_id, thread_id, watchlist, mode, "
                      "created_at) VALUES (?,?,?,?,?) ON CONFLICT (chat_id, thread_id, watchlist)"
                      " DO UPDATE SET active = 1, mode = excluded.mode",
                      (chat_id, thread_id, watchlist, mode, to_ts(now)))
            return True

    def unsubscribe(self, chat_id: int, thread_id: int, watchlist: str) -> bool:
        with self.store.transaction() as c:
            n = c.execute("UPDATE tg_subscriptions SET active = 0 WHERE chat_id = ? AND "
                          "thread_id = ? AND watchlist = ? AND active = 1",
                          (chat_id, thread_id, watchlist)).rowcount
            c.execute("DELETE FROM tg_outbox WHERE chat_id = ? AND thread_id = ? AND "
                      "watchlist = ? AND state = 'waiting'", (chat_id, thread_id, watchlist))
        return bool(n)

    def subscriptions(self, chat_id: int, thread_id: int | None = None) -> list[Sub]:
        sql = ("SELECT chat_id, thread_id, watchlist, mode FROM tg_subscriptions "
               "WHERE chat_id = ? AND active = 1")
        params: tuple = (chat_id,)
        if thread_id is not None:
            sql += " AND thread_id = ?"
            params = (chat_id, thread_id)
        return [Sub(*r) for r in self._q(sql + " ORDER BY watchlist", params)]

    def subscribers(self, watchlists: list[str]) -> list[Sub]:
        if not watchlists:
            return []
        marks = ",".join("?" * len(watchlists))
        return [Sub(*r) for r in self._q(
            "SELECT s.chat_id, s.thread_id, s.watchlist, s.mode FROM tg_subscriptions s "
            "JOIN tg_chats c ON c.chat_id = s.chat_id WHERE s.active = 1 AND c.active = 1 "
            f"AND s.watchlist IN ({marks}) ORDER BY s.chat_id, s.thread_id", watchlists)]

    def set_mode(self, chat_id: int, thread_id: int, watchlist: str | None, mode: str) -> int:
        sql = "UPDATE tg_subscriptions SET mode = ? WHERE chat_id = ? AND thread_id = ? " \
              "AND active = 1"
        params = [mode, chat_id, thread_id]
        if watchlist:
            sql += " AND watchlist = ?"
            params.append(watchlist)
        with self.store.transaction() as c:
            return c.execute(sql, params).rowcount

    # ------------------------------------------------------------ outbox
    def enqueue(self, rows: list[tuple], now: datetime) -> int:
        """rows: (chat_id, thread_id, guid, watchlist, kind, state[, filter_id]). Existing keys
        are kept. state 'held' + filter_id: a reader's filter kept the item from the chat."""
        n = 0
        half = len(rows) // 2
        with self.store.transaction() as c:
            for i, (chat_id, thread_id, guid, wl, kind, state, *fid) in enumerate(rows):
                if i == half and i:
                    faults.point("outbox_half_written")
                n += c.execute(
                    "INSERT INTO tg_outbox (chat_id, thread_id, guid, watchlist, kind, state, "
                    "created_at, filter_id) VALUES (?,?,?,?,?,?,?,?) "
                    "ON CONFLICT (chat_id, thread_id, guid) DO NOTHING",
                    (chat_id, thread_id, guid, wl, kind, state, to_ts(now),
                     fid[0] if fid else None)).rowcount
        return n

    def release(self, chat_id: int, thread_id: int | None = None) -> int:
        """Digest time (or /digest): waiting rows of the chat (topic) become queued."""
        sql = ("UPDATE tg_outbox SET state = 'queued', kind = 'digest' WHERE chat_id = ? "
               "AND state = 'waiting'")
        params: tuple = (chat_id,)
        if thread_id is not None:
            sql += " AND thread_id = ?"
            params = (chat_id, thread_id)
        with self.store.transaction() as c:
            return c.execute(sql, params).rowcount

    def hold_back(self, chat_id: int, thread_id: int, keep: list[int]) -> int:
        """A digest is capped: this chat's (topic's) queued digest rows other than `keep` wait
        again (for the next digest or /digest more). Returns how many wait."""
        marks = ",".join("?" * len(keep)) or "NULL"
        with self.store.transaction() as c:
            return c.execute(
                "UPDATE tg_outbox SET state = 'waiting' WHERE chat_id = ? AND thread_id = ? AND "
                f"state = 'queued' AND kind = 'digest' AND id NOT IN ({marks})",
                (chat_id, thread_id, *keep)).rowcount

    def pending_count(self, chat_id: int, thread_id: int | None = None) -> int:
        sql = "SELECT COUNT(*) FROM tg_outbox WHERE chat_id = ? AND state IN ('waiting','queued')"
        params: tuple = (chat_id,)
        if thread_id is not None:
            sql += " AND thread_id = ?"
            params = (chat_id, thread_id)
        return self._q(sql, params)[0][0]

    def due(self, now: datetime, exclude: set[int] = frozenset(), limit: int = 5000) -> list[Row]:
        rows = [Row(*r) for r in self._q(
            f"SELECT {_ROW_COLS} FROM tg_outbox WHERE state = 'queued' AND "
            "(not_before IS NULL OR not_before <= ?) ORDER BY chat_id, id LIMIT ?",
            (to_ts(now), limit))]
        return [r for r in rows if r.chat_id not in exclude]

    def next_not_before(self) -> datetime | None:
        r = self._q("SELECT MIN(not_before) FROM tg_outbox WHERE state = 'queued'")
        e = self._q("SELECT MIN(edit_due) FROM tg_outbox WHERE edit_due IS NOT NULL "
                    "AND edited_at IS NULL")
        times = [from_ts(x[0][0]) for x in (r, e) if x and x[0][0]]
        return min(times) if times else None

    # ------------------------------------------------------------ alert edits ("also in")
    def edit_alerts(self, guid: str, now: datetime, delay: float = 0.0) -> int:
        """The story `guid` was reported by another outlet: its instant alerts sent within the
        last hour and never edited get one edit, due after `delay` seconds (to gather the
        outlets that report within minutes of each other into that one edit)."""
        due = to_ts(now + timedelta(seconds=delay))
        with self.store.transaction() as c:
            return c.execute(
                "UPDATE tg_outbox SET edit_due = ? WHERE guid = ? AND kind = 'instant' AND "
                "state = 'sent' AND message_id IS NOT NULL AND edit_due IS NULL AND "
                "edited_at IS NULL AND sent_at >= ?",
                (due, guid, to_ts(now - EDIT_WINDOW))).rowcount

    def due_edits(self, now: datetime) -> list[tuple[Row, int, datetime]]:
        """(row, message_id, sent_at) of alerts whose edit is due."""
        return [(Row(*r[:9]), r[9], from_ts(r[10])) for r in self._q(
            f"SELECT {_ROW_COLS}, message_id, sent_at FROM tg_outbox WHERE edit_due IS NOT NULL "
            "AND edited_at IS NULL AND edit_due <= ? ORDER BY chat_id, id", (to_ts(now),))]

    def mark_edited(self, row_id: int, now: datetime, error: str | None = None) -> None:
        """Done (or given up with `error`): an alert is edited at most once."""
        with self.store.transaction() as c:
            c.execute("UPDATE tg_outbox SET edited_at = ?, last_error = COALESCE(?, last_error) "
                      "WHERE id = ?", (to_ts(now), error and error[:500], row_id))

    def retry_edit(self, row_id: int, when: datetime, error: str) -> None:
        with self.store.transaction() as c:
            c.execute("UPDATE tg_outbox SET edit_due = ?, last_error = ? WHERE id = ?",
                      (to_ts(when), error[:500], row_id))

    def number(self, rows: list[Row]) -> None:
        """Give rows without a number the chat's next item numbers (shown as N for /why N)."""
        todo = [r for r in rows if r.item_no is None]
        if not todo:
            return
        with self.store.transaction() as c:
            for r in todo:
                no = c.execute("SELECT next_no FROM tg_chats WHERE chat_id = ?",
                               (r.chat_id,)).fetchone()
                no = no[0] if no else 1
                c.execute("UPDATE tg_chats SET next_no = ? WHERE chat_id = ?", (no + 1, r.chat_id))
                c.execute("UPDATE tg_outbox SET item_no = ? WHERE id = ?", (no, r.id))
                r.item_no = no

    def mark_sent(self, ids: list[int], message_id: int | None, now: datetime) -> None:
        with self.store.transaction() as c:
            c.executemany("UPDATE tg_outbox SET state = 'sent', sent_at = ?, message_id = ?, "
                          "last_error = NULL WHERE id = ? AND state = 'queued'",
                          [(to_ts(now), message_id, i) for i in ids])

    def mark_retry(self, ids: list[int], error: str, not_before: datetime) -> None:
        with self.store.transaction() as c:
            c.executemany("UPDATE tg_outbox SET attempts = attempts + 1, last_error = ?, "
                          "not_before = ? WHERE id = ? AND state = 'queued'",
                          [(error[:500], to_ts(not_before), i) for i in ids])

    def mark_dead(self, ids: list[int], error: str) -> None:
        with self.store.transaction() as c:
            c.executemany("UPDATE tg_outbox SET state = 'dead', last_error = ? WHERE id = ?",
                          [(error[:500], i) for i in ids])

    def by_no(self, chat_id: int, no: int) -> Row | None:
        r = self._q(f"SELECT {_ROW_COLS} FROM tg_outbox WHERE chat_id = ? AND item_no = ?",
                    (chat_id, no))
        return Row(*r[0]) if r else None

    def prune(self, older_than: datetime) -> int:
        """Forget delivered/dead rows created before `older_than` (the items' retention)."""
        with self.store.transaction() as c:
            return c.execute("DELETE FROM tg_outbox WHERE state IN ('sent', 'dead', 'held') AND "
                             "created_at < ?", (to_ts(older_than),)).rowcount

    def counts(self) -> dict[str, int]:
        return dict(self._q("SELECT state, COUNT(*) FROM tg_outbox GROUP BY state"))

    def rows(self, chat_id: int | None = None) -> list[Row]:
        """For tests and status: every row (of a chat), oldest first."""
        if chat_id is None:
            return [Row(*r) for r in self._q(f"SELECT {_ROW_COLS} FROM tg_outbox ORDER BY id")]
        return [Row(*r) for r in self._q(
            f"SELECT {_ROW_COLS} FROM tg_outbox WHERE chat_id = ? ORDER BY id", (chat_id,))]
