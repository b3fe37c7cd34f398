"""All SQL of the state store, plus the timestamp encoding. Kept portable to PostgreSQL.

Portability rules followed here (a later issue adds a PostgreSQL backend):
- upserts use `INSERT ... ON CONFLICT (...) DO NOTHING / DO UPDATE SET x = excluded.x`;
  new ids come back with `RETURNING id` (SQLite >= 3.35 and PostgreSQL);
- timestamps are ISO-8601 UTC text 'YYYY-MM-DDTHH:MM:SS.ffffffZ' (fixed width, so text order is
  time order); booleans are INTEGER 0/1;
- `id INTEGER PRIMARY KEY` (no AUTOINCREMENT; PostgreSQL would use an identity column);
- no column named `interval` (a PostgreSQL keyword): `interval_s`;
- NULL ordering is spelled out with CASE (SQLite sorts NULLs first, PostgreSQL last);
- parameters are `?` (qmark); a PostgreSQL adapter translates them to `%s`.
"""
from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

# --- timestamps ------------------------------------------------------------------------------

def to_ts(dt: datetime | None) -> str | None:
    """Aware datetime -> 'YYYY-MM-DDTHH:MM:SS.ffffffZ' (UTC). Naive datetimes are refused: the
    store cannot know which zone they meant."""
    if dt is None:
        return None
    if dt.tzinfo is not _UTC:                 # (parsed entries are UTC already)
        if dt.tzinfo is None or dt.utcoffset() is None:
            raise ValueError(f"naive datetime {dt!r}: the store needs timezone-aware datetimes")
        dt = dt.astimezone(_UTC)
    # %-formatting: one C call (an f-string formats each field by a call of its own)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (dt.year, dt.month, dt.day, dt.hour, dt.minute,
                                                    dt.second, dt.microsecond)


_UTC = timezone.utc


def from_ts(s: str | None) -> datetime | None:
    """The inverse of to_ts. datetime.fromisoformat (C) reads the fixed-width form ~25x faster
    than strptime (start-up reads every stored item's timestamps)."""
    if s is None:
        return None
    if len(s) != 27 or s[-1] != "Z" or s[10] != "T":
        raise ValueError(f"time data {s!r} does not match format '%Y-%m-%dT%H:%M:%S.%fZ'")
    return datetime.fromisoformat(s[:-1]).replace(tzinfo=timezone.utc)


def split_statements(script: str) -> list[str]:
    """Split a script into single statements. `executescript` is not used because it COMMITs any
    open transaction first, which would break one-transaction-per-component migrations."""
    out, buf = [], ""
    for ch in script:
        buf += ch
        if ch == ";" and sqlite3.complete_statement(buf):
            if buf.strip(" \t\r\n;"):
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out


# --- schema ------------------------------------------------------------------------------------

SCHEMA_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    component  TEXT NOT NULL,
    version    INTEGER NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (component, version)
)"""

CORE_V1 = """
CREATE TABLE feeds (
    id               INTEGER PRIMARY KEY,
    url              TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    lang             TEXT,
    interval_s       REAL NOT NULL,
    enabled          INTEGER NOT NULL DEFAULT 1,
    etag             TEXT,
    last_modified    TEXT,
    next_poll_at     TEXT,
    last_success_at  TEXT,
    last_error       TEXT,
    last_error_kind  TEXT,
    last_error_at    TEXT,
    error_count      INTEGER NOT NULL DEFAULT 0,
    items_total      INTEGER NOT NULL DEFAULT 0,
    last_new_item_at TEXT,
    last_status      TEXT
);
CREATE TABLE items (
    id             INTEGER PRIMARY KEY,
    guid           TEXT NOT NULL UNIQUE,
    feed           TEXT NOT NULL,
    title          TEXT NOT NULL,
    link           TEXT NOT NULL,
    canonical_link TEXT NOT NULL,
    summary        TEXT NOT NULL,
    published_at   TEXT,
    fetched_at     TEXT NOT NULL,
    lang           TEXT,
    duplicate_of   TEXT,
    dup_reason     TEXT
);
CREATE TABLE matches (
    item_id   INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    watchlist TEXT NOT NULL,
    alias     TEXT NOT NULL,
    field     TEXT NOT NULL,
    text      TEXT NOT NULL,
    kind      TEXT NOT NULL,
    score     REAL NOT NULL,
    PRIMARY KEY (item_id, watchlist, alias, field)
);
CREATE INDEX items_fetched_at ON items(fetched_at);
CREATE INDEX items_published_at ON items(published_at);
CREATE INDEX items_duplicate_of ON items(duplicate_of);
CREATE INDEX matches_watchlist ON matches(watchlist);
"""

# v2: lookups by canonical link (cross-restart URL dedup) and the scheduler's due-feeds scan.
CORE_V2 = """
CREATE INDEX items_canonical_link ON items(canonical_link);
CREATE INDEX feeds_due ON feeds(enabled, next_poll_at);
"""

# v3: why a duplicate was folded (story evidence, one line each) for `sokuho explain --item`.
CORE_V3 = """
ALTER TABLE items ADD COLUMN dup_evidence TEXT;
"""

# v4: durable fan-out. A matched item gets a "to publish" mark in the same transaction that
# stores it; the mark is cleared once the sinks have queued its alerts. Marks left by a crash in
# between are published at the next start (Pipeline.recover), so no alert is lost.
CORE_V4 = """
CREATE TABLE publish_pending (
    item_id INTEGER NOT NULL PRIMARY KEY REFERENCES items(id) ON DELETE CASCADE
);
"""

# v5: fewer B-tree inserts per stored item (each index costs every item one; a feed's items
# land on random pages of an index on a random key: ~4 us of the main process per item for the
# canonical link, ~8 us for the publication time, in a cold poll).
# - No query looks items up by canonical link (the duplicate index keeps URLs in memory).
# - The window's items (RECENT_IDS) are those fetched in it, plus those fetched before it but
#   published in it; the latter were published after they were fetched (future-dated, clock
#   skew), so only those few need an index on published_at: a partial one.
CORE_V5 = """
DROP INDEX IF EXISTS items_canonical_link;
DROP INDEX IF EXISTS items_published_at;
CREATE INDEX items_published_late ON items(published_at) WHERE published_at > fetched_at;
"""

# v6: each item's duplicate signature (bot.core.dedup.pack_sig: headline key and features, made
# in the parser worker) and, for matched items, its story features (stories.pack_features), so
# that warming the duplicate index decodes them instead of recomputing them from the headline
# and summary. NULL for items stored before v6 (or without them): recomputed.
CORE_V6 = """
ALTER TABLE items ADD COLUMN dedup_sig TEXT;
ALTER TABLE items ADD COLUMN story_sig TEXT;
"""

# v7: whose "to publish" mark it is (the instance that stored the item while it had a sink; NULL:
# nobody's, e.g. stored by a run without a sink or before v7). Pipeline.recover takes only its own
# marks, nobody's, and those of instances presumed dead: not an alert another instance is
# queueing right now (which it would publish a second time)
CORE_V7 = """
ALTER TABLE publish_pending ADD COLUMN owner TEXT;
"""

# v8: the lazy duplicate check's look-up structures of the window (bot/adapters/window_snap.py),
# kept between `poll --once` runs: derived data, checked against the items before each use and
# rebuilt from them when it cannot be trusted (so it is never needed: dropping it is harmless).
CORE_V8 = """
CREATE TABLE window_snapshot (
    name TEXT PRIMARY KEY,
    data BLOB NOT NULL
);
"""
CORE_MIGRATIONS = [CORE_V1, CORE_V2, CORE_V3, CORE_V4, CORE_V5, CORE_V6, CORE_V7,
                   CORE_V8]

# Several instances on one database (PostgreSQL): feed leases and the instance registry.
# A feed claimed by an instance (claimed_by, lease_until) is not polled by another until the lease
# expires; polled_at is when it was last polled by anyone (poll --once shares one cycle by it).
CLUSTER_V1 = """
ALTER TABLE feeds ADD COLUMN claimed_by TEXT;
ALTER TABLE feeds ADD COLUMN lease_until TEXT;
ALTER TABLE feeds ADD COLUMN polled_at TEXT;
CREATE TABLE instances (
    name         TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    command      TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL,
    roles        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX feeds_claimed_by ON feeds(claimed_by);
"""
# v2: which process an instance is (boot id + kernel start time of its pid, "" if unknown): a
# registry row whose pid is gone, or now another process, is a dead instance (reclaim_dead)
CLUSTER_V2 = """
ALTER TABLE instances ADD COLUMN proc TEXT NOT NULL DEFAULT '';
"""
CLUSTER_MIGRATIONS = [CLUSTER_V1, CLUSTER_V2]

# --- migrations bookkeeping ----------------------------------------------------------------------

APPLIED_VERSIONS = "SELECT component, MAX(version) FROM schema_migrations GROUP BY component"
RECORD_MIGRATION = ("INSERT INTO schema_migrations (component, version, applied_at) "
                    "VALUES (?, ?, ?)")

# --- feeds -----------------------------------------------------------------------------------

FEED_COLS = ("url, name, lang, interval_s, enabled, etag, last_modified, next_poll_at, "
             "last_success_at, last_error, last_error_kind, last_error_at, error_count, "
             "items_total, last_new_item_at, last_status")
SELECT_FEEDS = f"SELECT {FEED_COLS} FROM feeds"
ORDER_FEEDS = " ORDER BY name, url"
SELECT_FEED = f"SELECT {FEED_COLS} FROM feeds WHERE url = ?"
INSERT_FEED = ("INSERT INTO feeds (url, name, lang, interval_s, enabled, next_poll_at) "
               "VALUES (?, ?, ?, ?, ?, ?)")
UPDATE_FEED_CONFIG = ("UPDATE feeds SET name = ?, lang = ?, interval_s = ?, enabled = ?, "
                      "next_poll_at = ? WHERE url = ?")
DISABLE_FEED = "UPDATE feeds SET enabled = 0 WHERE url = ?"
_DONE = "claimed_by = NULL, lease_until = NULL, polled_at = ?, "   # the poll is over: no lease
FETCH_OK = ("UPDATE feeds SET " + _DONE + "last_status = ?, etag = ?, last_modified = ?, next_poll_at = ?, "
            "last_success_at = ?, error_count = 0, items_total = items_total + ?, "
            "last_new_item_at = CASE WHEN ? > 0 THEN ? ELSE last_new_item_at END WHERE url = ?")
# A 304 may carry fresh validators; when it does not, the old ones stay.
FETCH_NOT_MODIFIED = ("UPDATE feeds SET " + _DONE + "last_status = ?, etag = COALESCE(?, etag), "
                      "last_modified = COALESCE(?, last_modified), next_poll_at = ?, "
                      "last_success_at = ?, error_count = 0, items_total = items_total + ?, "
                      "last_new_item_at = CASE WHEN ? > 0 THEN ? ELSE last_new_item_at END "
                      "WHERE url = ?")
FETCH_FAILED = ("UPDATE feeds SET " + _DONE + "last_status = ?, last_error = ?, last_error_kind = ?, "
                "last_error_at = ?, next_poll_at = ?, error_count = error_count + 1 "
                "WHERE url = ?")
RETURNING_FEED = " RETURNING " + FEED_COLS     # record_fetch: the new state in the same statement

# Claim feeds for one instance: not leased (or the lease expired), then lease them.
# {cond} selects due feeds (service) or feeds not yet polled in this cycle (poll --once); {lock}
# is FOR UPDATE SKIP LOCKED on PostgreSQL (two instances claiming at once get disjoint sets).
CLAIM_FEEDS = ("UPDATE feeds SET claimed_by = ?, lease_until = ? WHERE id IN ("
               "SELECT id FROM feeds WHERE enabled = 1 AND {cond} "
               "AND (lease_until IS NULL OR lease_until <= ?) "
               "ORDER BY CASE WHEN next_poll_at IS NULL THEN 0 ELSE 1 END, next_poll_at, id "
               "LIMIT ?{lock}) RETURNING " + FEED_COLS)
CLAIM_DUE = "(next_poll_at IS NULL OR next_poll_at <= ? OR next_poll_at > ?)"
CLAIM_UNPOLLED = "(polled_at IS NULL OR polled_at < ?)"
RENEW_LEASES = "UPDATE feeds SET lease_until = ? WHERE claimed_by = ?"
RELEASE_CLAIMS = ("UPDATE feeds SET claimed_by = NULL, lease_until = NULL WHERE claimed_by = ?")
RELEASE_CLAIM = ("UPDATE feeds SET claimed_by = NULL, lease_until = NULL "
                 "WHERE claimed_by = ? AND url = ?")
LEASES = ("SELECT claimed_by, COUNT(*), MAX(lease_until) FROM feeds "
          "WHERE claimed_by IS NOT NULL GROUP BY claimed_by")

UPSERT_INSTANCE = ("INSERT INTO instances (name, host, pid, command, started_at, heartbeat_at, "
                   "roles, proc) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                   "host = excluded.host, pid = excluded.pid, command = excluded.command, "
                   "started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, "
                   "roles = excluded.roles, proc = excluded.proc")
HEARTBEAT = "UPDATE instances SET heartbeat_at = ?, roles = ? WHERE name = ?"
DELETE_INSTANCE = "DELETE FROM instances WHERE name = ?"
INSTANCES_ON_HOST = "SELECT name, pid, proc, started_at FROM instances WHERE host = ?"
# only the row as it was seen dead: an instance that registered again meanwhile is kept
DELETE_DEAD_INSTANCE = ("DELETE FROM instances WHERE name = ? AND host = ? AND pid = ? "
                        "AND proc = ? AND started_at = ?")
FORGET_INSTANCES = "DELETE FROM instances WHERE heartbeat_at < ?"
SELECT_INSTANCES = ("SELECT name, host, pid, command, started_at, heartbeat_at, roles, proc "
                    "FROM instances ORDER BY started_at, name")
# the start of the earliest poll --once still running: one shared cycle for concurrent runs
CYCLE_FLOOR = ("SELECT MIN(started_at) FROM instances WHERE command = 'poll' "
               "AND heartbeat_at >= ?")
MAX_ITEM_ID = "SELECT COALESCE(MAX(id), 0) FROM items"
# what the duplicate index reads of a stored item (Store.index_rows*)
INDEX_COLS = ("id, guid, title, link, published_at, lang, duplicate_of, canonical_link, dedup_sig, "
              "story_sig")
SUMMARY_OF = "SELECT summary FROM items WHERE guid = ?"
SET_SIGNATURE = "UPDATE items SET dedup_sig = ? WHERE id = ?"
INDEX_ROWS_AFTER = f"SELECT {INDEX_COLS} FROM items WHERE id > ? ORDER BY id"

# The window as the lazy duplicate check reads it (bot/adapters/window.py): (id, canonical link,
# "" without a link, stored signature), in the warm-up's order.
WINDOW_WHERE = ("((published_at > fetched_at AND published_at >= ?) OR fetched_at >= ?) "
                "ORDER BY COALESCE(published_at, fetched_at), id")
WINDOW_SIGS = ("SELECT id, CASE WHEN link = '' THEN '' ELSE canonical_link END, dedup_sig "
               "FROM items WHERE " + WINDOW_WHERE)
# the same with each item's place in that order (okey) and the last `since` at which the window
# holds it (ekey: WINDOW_WHERE holds an item exactly while ekey >= since)
WINDOW_KEYS = ("COALESCE(published_at, fetched_at), "
               "CASE WHEN published_at > fetched_at THEN published_at ELSE fetched_at END")
WINDOW_SIGS_KEYED = ("SELECT id, CASE WHEN link = '' THEN '' ELSE canonical_link END, dedup_sig, "
                     + WINDOW_KEYS + " FROM items WHERE " + WINDOW_WHERE)
WINDOW_AFTER = ("SELECT id, CASE WHEN link = '' THEN '' ELSE canonical_link END, dedup_sig, "
                + WINDOW_KEYS + " FROM items WHERE id > ? AND " + WINDOW_WHERE)
# (the two parts of WINDOW_WHERE apart: each is read from its own index, items_fetched_at and
# the partial items_published_late)
WINDOW_UPTO = ("SELECT COUNT(*), COALESCE(SUM(id), 0) FROM items WHERE fetched_at >= ? AND id <= ? "
               "UNION ALL SELECT COUNT(*), COALESCE(SUM(id), 0) FROM items "
               "WHERE published_at > fetched_at AND published_at >= ? AND fetched_at < ? "
               "AND id <= ?")
SIGS_OF = "SELECT id, dedup_sig FROM items WHERE id IN ({marks})"
GUID_OF = "SELECT guid FROM items WHERE id = ?"
SNAPSHOT_GET = "SELECT data FROM window_snapshot WHERE name = ?"
SNAPSHOT_PUT = ("INSERT INTO window_snapshot (name, data) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET data = excluded.data")
SNAPSHOT_DROP = "DELETE FROM window_snapshot WHERE name = ?"
# the window's matched items (the story index is built from these alone), in the same order
INDEX_ROWS_MATCHED = (f"SELECT {INDEX_COLS} FROM items WHERE id IN (SELECT item_id FROM matches) "
                      "AND " + WINDOW_WHERE)
ROOT_OF_GUID = "SELECT id, duplicate_of FROM items WHERE guid = ?"
WITH_LINK = "SELECT id FROM items WHERE canonical_link = ? AND link <> '' AND " + WINDOW_WHERE

# --- items -------------------------------------------------------------------------------------

# A feed's new items in one statement per ITEM_ROWS rows: {rows} is ITEM_ROW repeated. RETURNING
# order is unspecified (SQLite and PostgreSQL), so each id comes back with its guid.
INSERT_ITEMS = ("INSERT INTO items (guid, feed, title, link, canonical_link, summary, "
                "published_at, fetched_at, lang, duplicate_of, dup_reason, dup_evidence, "
                "dedup_sig, story_sig) VALUES {rows} ON CONFLICT (guid) DO NOTHING "
                "RETURNING id, guid")
ITEM_ROW = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
MAX_PARAMS = 2400    # per multi-row statement (SQLite allows 32,766, PostgreSQL 65,535)
INSERT_MATCHES = ("INSERT INTO matches (item_id, watchlist, alias, field, text, kind, score) "
                  "VALUES {rows} ON CONFLICT (item_id, watchlist, alias, field) DO NOTHING")
MATCH_ROW = "(?, ?, ?, ?, ?, ?, ?)"
ITEM_COLS = ("id, guid, feed, title, link, summary, published_at, lang, duplicate_of, "
             "fetched_at")
SELECT_ITEM = f"SELECT {ITEM_COLS} FROM items WHERE guid = ?"
INSERT_PENDINGS = ("INSERT INTO publish_pending (item_id, owner) VALUES {rows} "
                   "ON CONFLICT (item_id) DO NOTHING")
PENDING_ROW = "(?, ?)"
# marks to recover: (owner, alive_since, now). An owner is alive while it is registered and has
# either beaten its heart since alive_since or holds an unexpired feed lease (mid-cycle)
SELECT_PENDING = (f"SELECT {ITEM_COLS} FROM items WHERE id IN "
                  "(SELECT p.item_id FROM publish_pending p WHERE p.owner IS NULL OR p.owner = ? "
                  "OR NOT EXISTS (SELECT 1 FROM instances i WHERE i.name = p.owner "
                  "AND (i.heartbeat_at >= ? OR EXISTS (SELECT 1 FROM feeds f "
                  "WHERE f.claimed_by = i.name AND f.lease_until > ?)))) ORDER BY id")
CLEAR_PENDING = "DELETE FROM publish_pending WHERE item_id IN ({marks})"
COUNT_PENDING = "SELECT COUNT(*) FROM publish_pending"
KNOWN_GUIDS = "SELECT guid FROM items WHERE guid IN ({marks})"
MATCHES_OF = ("SELECT item_id, watchlist, alias, field, text, kind, score FROM matches "
              "WHERE item_id IN ({marks}) ORDER BY item_id, score DESC, watchlist, alias, field")
ALSO_IN = ("SELECT duplicate_of, feed FROM items WHERE duplicate_of IN ({marks}) "
           "ORDER BY fetched_at, id")
# Entries published or fetched inside the window (a superset: the deduper applies its own window),
# oldest first by the time the deduper will see, keyset-paginated on (t, id).
# the window's item ids in warm-up order (one sort), then the rows page by page by id
# (published_at >= t OR fetched_at >= t, spelled so that the partial index items_published_late
# serves the rows fetched before t)
RECENT_IDS = ("SELECT id FROM items WHERE (published_at > fetched_at AND published_at >= ?) "
              "OR fetched_at >= ? ORDER BY COALESCE(published_at, fetched_at), id")
ITEMS_BY_ID = "SELECT {cols} FROM items WHERE id IN ({marks})"
# dup_reason is set exactly when the item was a duplicate when stored; it survives prune (which
# may have to clear duplicate_of), so it is what "is a duplicate" means in queries.
RECENT_MATCHES = (f"SELECT {ITEM_COLS} FROM items WHERE fetched_at >= ? "
                  "AND EXISTS (SELECT 1 FROM matches m WHERE m.item_id = items.id {wl}) {dups} "
                  "ORDER BY fetched_at DESC, id DESC")
PRUNE_MATCHES = ("DELETE FROM matches WHERE item_id IN "
                 "(SELECT id FROM items WHERE fetched_at < ?)")   # CASCADE does it too; explicit
PRUNE_PENDING = ("DELETE FROM publish_pending WHERE item_id IN "
                 "(SELECT id FROM items WHERE fetched_at < ?)")
PRUNE_ITEMS = "DELETE FROM items WHERE fetched_at < ?"
FIX_DANGLING = ("UPDATE items SET duplicate_of = NULL WHERE duplicate_of IS NOT NULL "
                "AND NOT EXISTS (SELECT 1 FROM items k WHERE k.guid = items.duplicate_of)")

COUNTS = """SELECT
  (SELECT COUNT(*) FROM feeds WHERE enabled = 1),
  (SELECT COUNT(*) FROM feeds WHERE enabled = 1 AND error_count > 0),
  (SELECT COUNT(*) FROM items),
  (SELECT COUNT(*) FROM matches),
  (SELECT COUNT(DISTINCT item_id) FROM matches),
  (SELECT COUNT(*) FROM items WHERE dup_reason IS NOT NULL)"""

# watchlists already matched by stories: (guid, duplicate_of, id, watchlist) rows of their first
# copies and of their copies, sorted out per story in Python
CLUSTERS_WATCHLISTS = """
SELECT DISTINCT i.guid, i.duplicate_of, i.id, m.watchlist FROM matches m
JOIN items i ON i.id = m.item_id WHERE i.guid IN ({marks}) OR i.duplicate_of IN ({marks})
"""
SELECT_ITEMS = f"SELECT {ITEM_COLS} FROM items WHERE guid IN ({{marks}})"

# what the recent items matched: (guid, watchlist, matched text), for the story index after a restart
RECENT_HITS = ("SELECT i.guid, m.watchlist, m.text FROM matches m JOIN items i ON i.id = m.item_id "
               "WHERE i.published_at >= ? OR i.fetched_at >= ?")
DUPLICATE_INFO = "SELECT duplicate_of, dup_reason, dup_evidence FROM items WHERE guid = ?"
