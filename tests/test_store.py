"""State store: migrations, feeds, items, transactions, crash safety, errors, backup."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from bot.adapters.store import Store, StoreError, canonical_url
from bot.adapters.store_sql import from_ts, to_ts
from bot.adapters import store_sql as Q
from bot.core.model import DupVerdict, Entry, Hit, Processed
from bot.core.watchlist import Feed

try:
    from tests.oldschema import older_schema
except ImportError:  # pragma: no cover (plain `pytest`: tests/ on sys.path)
    from oldschema import older_schema

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def _restore_registry():
    saved = {k: list(v) for k, v in Store.MIGRATIONS.items()}
    yield
    Store.MIGRATIONS.clear()
    Store.MIGRATIONS.update(saved)


@pytest.fixture
def db(database):
    """Both engines: an SQLite path or a PostgreSQL URL (conftest `database`)."""
    return database


@pytest.fixture
def store(db):
    s = Store.open(db)
    yield s
    s.close()


@pytest.fixture
def sqlite_db(tmp_path):
    return tmp_path / "state" / "sokuho.db"


@pytest.fixture
def sqlite_store(sqlite_db):
    s = Store.open(sqlite_db)
    yield s
    s.close()


def entry(guid, feed="nhk", title="t", published=None, link=None, summary="s"):
    return Entry(id=guid, feed=feed, title=title, link=link or f"https://ex.com/{guid}",
                 summary=summary, published=published, lang="ja")


def proc(guid, *, hits=(), dup=None, **kw):
    return Processed(entry=entry(guid, **kw), hits=list(hits),
                     dup=DupVerdict(dup, "url" if dup else ""))


HIT = Hit(watchlist="toyota", alias="トヨタ", field="title", text="トヨタ", kind="exact")
HIT2 = Hit(watchlist="sony", alias="Sony", field="summary", text="sony", kind="fuzzy", score=91.5)


def raw(db):
    if isinstance(db, str):                    # PostgreSQL: the same qmark SQL, translated
        from bot.adapters.store_pg import PgConn
        return PgConn(db, readonly=False, connect_timeout=5)
    c = sqlite3.connect(db)
    c.execute("PRAGMA foreign_keys = ON")
    return c


# --- migrations -------------------------------------------------------------------------------

def test_migrations_apply_once_and_are_recorded(db):
    Store.open(db).close()
    # every registered component (other test modules may have imported bot.telegram.outbox)
    q = ("SELECT component, version, applied_at FROM schema_migrations "
         "ORDER BY component, version")
    rows = raw(db).execute(q).fetchall()
    n_core = len(Store.MIGRATIONS["core"])
    assert n_core >= 2 and [(c, v) for c, v, _ in rows] == [
        (c, i + 1) for c in sorted(Store.MIGRATIONS) for i in range(len(Store.MIGRATIONS[c]))]
    assert all(from_ts(a) is not None for _, _, a in rows)
    Store.open(db).close()          # idempotent: nothing re-applied (CREATE TABLE would fail)
    assert raw(db).execute(q).fetchall() == rows


def test_newer_schema_is_refused(db):
    Store.open(db).close()
    c = raw(db)
    c.execute("INSERT INTO schema_migrations VALUES ('core', 99, ?)", (to_ts(T0),))
    c.commit()
    with pytest.raises(StoreError) as ei:
        Store.open(db)
    assert ei.value.kind == "newer_schema"
    assert str(db) in str(ei.value) and "99" in str(ei.value) and "newer" in str(ei.value)
    with pytest.raises(StoreError):
        Store.open(db, readonly=True)


def test_component_registered_later_migrates_on_next_open(db):
    Store.open(db).close()
    v1 = "CREATE TABLE tc_a (x INTEGER); INSERT INTO tc_a VALUES (1);"
    Store.register_migrations("testcomp", [v1])
    Store.register_migrations("testcomp", [v1])            # same list again: no-op
    with Store.open(db) as s:
        assert s.conn.execute("SELECT x FROM tc_a").fetchall() == [(1,)]
    Store.register_migrations("testcomp", [v1, "INSERT INTO tc_a VALUES (2)"])
    Store.register_migrations("testcomp", [v1])            # a shorter prefix does not shrink it
    with Store.open(db) as s:
        assert s.conn.execute("SELECT x FROM tc_a ORDER BY x").fetchall() == [(1,), (2,)]
        assert s.conn.execute("SELECT version FROM schema_migrations WHERE component = "
                              "'testcomp' ORDER BY version").fetchall() == [(1,), (2,)]
    with pytest.raises(ValueError):
        Store.register_migrations("testcomp", ["CREATE TABLE other (y INTEGER)"])


def test_failing_migration_rolls_back_its_component(db):
    Store.register_migrations("broken", ["CREATE TABLE br_a (x INTEGER); "
                                         "INSERT INTO nope VALUES (1);"])
    with pytest.raises(StoreError, match="no such table|does not exist"):
        Store.open(db)
    c = raw(db)
    if isinstance(db, str):
        assert c.execute("SELECT to_regclass('br_a')").fetchone() == (None,)
    else:
        assert c.execute("SELECT name FROM sqlite_master WHERE name = 'br_a'").fetchall() == []
    assert c.execute("SELECT COUNT(*) FROM schema_migrations WHERE component = 'broken'"
                     ).fetchone() == (0,)
    assert c.execute("SELECT COUNT(*) FROM schema_migrations WHERE component = 'core'"
                     ).fetchone()[0] >= 1


def test_pragmas(sqlite_store):
    store = sqlite_store
    q = lambda p: store.conn.execute(f"PRAGMA {p}").fetchone()[0]  # noqa: E731
    assert q("journal_mode") == "wal"
    assert q("foreign_keys") == 1
    assert q("synchronous") == 2          # FULL
    assert q("busy_timeout") == 5000
    assert store.ping() is True


# --- items ----------------------------------------------------------------------------------

def test_save_processed_round_trip(store):
    pub = T0 - timedelta(hours=1)
    link = "https://Ex.com/a?utm_source=rss&id=1"
    batch = [proc("a", hits=[HIT, HIT2], published=pub, feed="nhk", link=link),
             proc("b", hits=[HIT], dup="a", feed="asahi"),
             proc("c", dup="a", feed="asahi"),            # a second copy from the same feed
             proc("d", feed="reuters")]
    out = store.save_processed(batch, fetched_at=T0)
    assert [i.entry.id for i in out] == ["a", "b", "c", "d"]
    assert out[0].also_in == ["asahi"] and out[0].hits == [HIT, HIT2]
    assert out[1].duplicate_of == "a" and out[0].rowid is not None

    a = store.item("a")
    assert a.entry == batch[0].entry and a.entry.published == pub
    assert sorted(a.hits, key=lambda h: h.watchlist) == [HIT2, HIT]
    assert a.fetched_at == T0 and a.duplicate_of is None and a.also_in == ["asahi"]
    assert store.item("b").duplicate_of == "a"
    assert store.conn.execute("SELECT canonical_link FROM items WHERE guid = 'a'"
                              ).fetchone() == (canonical_url(link),)
    assert store.item("zzz") is None
    assert ("d" in store.known_guids(["d"])) and not ("e" in store.known_guids(["e"]))
    assert store.counts() == {"feeds": 0, "feeds_failing": 0, "items": 4, "matches": 3,
                              "matched_items": 2, "duplicates": 2}


def test_existing_guid_is_skipped(store):
    store.save_processed([proc("a", title="first")], fetched_at=T0)
    out = store.save_processed([proc("a", title="second", hits=[HIT]), proc("b"), proc("b")],
                               fetched_at=T0 + timedelta(minutes=5))
    assert [i.entry.id for i in out] == ["b"]
    a = store.item("a")
    assert a.entry.title == "first" and a.hits == [] and a.fetched_at == T0
    assert store.known_guids(["a", "b", "c"]) == {"a", "b"}
    assert store.counts()["items"] == 2


def test_batch_ids_and_hits_follow_their_guid_across_chunks(store):
    """One feed batch larger than a statement's rows, mixed with guids already stored and guids
    repeated in the batch: each returned item carries its own row id and hits, in batch order."""
    store.save_processed([proc(f"g{i}", title="old") for i in range(0, 450, 7)], fetched_at=T0)
    batch = [proc(f"g{i}", title=f"new {i}", hits=[HIT] if i % 5 == 0 else [],
                  dup="g1" if i % 11 == 0 else None) for i in range(450)]
    batch += [proc("g3", title="repeat"), proc("g701", title="new 701")]
    out = store.save_processed(batch, fetched_at=T0 + timedelta(minutes=1))
    want = [f"g{i}" for i in range(450) if i % 7] + ["g701"]
    assert [o.entry.id for o in out] == want
    ids = dict(store.conn.execute("SELECT guid, id FROM items").fetchall())
    for o in out:
        assert o.rowid == ids[o.entry.id]
        n = int(o.entry.id[1:])
        assert o.entry.title == f"new {n}"
        assert o.hits == ([HIT] if n % 5 == 0 else [])
        assert o.duplicate_of == ("g1" if n % 11 == 0 else None)
        back = store.item(o.entry.id)
        assert back.entry.title == f"new {n}" and back.hits == o.hits
    assert store.item("g3").entry.title == "new 3" and store.item("g7").entry.title == "old"
    assert store.pending_count() == sum(1 for o in out if o.hits)


def test_a_feed_batch_is_a_handful_of_statements(sqlite_store):
    """Storing a batch costs statements per chunk of rows, not per item, in one transaction."""
    seen: list[str] = []
    sqlite_store.conn.set_trace_callback(seen.append)
    out = sqlite_store.save_processed(
        [proc(f"s{i}", hits=[HIT, HIT2] if i % 3 == 0 else []) for i in range(450)],
        fetched_at=T0)
    sqlite_store.conn.set_trace_callback(None)
    assert len(out) == 450 and sqlite_store.counts()["matches"] == 2 * 150
    inserts = [q for q in seen if q.startswith("INSERT INTO items")]
    assert len(inserts) == 3                  # 450 rows, 200 per statement (12 columns)
    assert sum(q.startswith("BEGIN") for q in seen) == 1
    assert sum(q == "COMMIT" for q in seen) == 1
    assert len(seen) <= 8                     # + one for the 300 hits, one for the 150 marks, ...


def test_bookkeeping_commits_skip_the_fsync_but_items_do_not(sqlite_store):
    """A 304's poll record is bookkeeping (synchronous NORMAL: lost on a power cut only means a
    refetch); a feed's new items and every other transaction stay FULL."""
    store = sqlite_store
    level = lambda: store.conn.execute("PRAGMA synchronous").fetchone()[0]  # noqa: E731
    store.sync_feeds([Feed(name="n", url="https://ex.com/f")], 300, T0)
    store.record_fetch("https://ex.com/f", status="not_modified", next_poll_at=T0, now=T0)
    assert level() == 1
    store.save_processed([proc("a", hits=[HIT])], fetched_at=T0)
    assert level() == 2
    store.clear_pending([store.item("a").rowid])
    assert level() == 1 and store.pending_count() == 0
    with store.transaction() as c:            # the default: durable
        c.execute("DELETE FROM items")
    assert level() == 2
    with store.transaction(durable=False):    # the outermost transaction decides
        with store.transaction():
            assert level() == 1


async def test_group_commits_share_one_fsync_made_off_the_event_loop(sqlite_store, monkeypatch):
    """Feed transactions committed as a group skip their own fsync; flush() makes them durable
    with one fsync in a worker thread, however many callers wait; a durable commit covers the
    group commits before it."""
    import asyncio
    store = sqlite_store
    calls: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(threading.get_ident()), real(fd)))
    for i in range(3):
        with store.transaction(group=True):
            store.save_processed([proc(f"g{i}", hits=[HIT])], fetched_at=T0)
    assert store.unsynced == 3 and calls == []
    await asyncio.gather(store.flush(), store.flush(), store.flush())
    assert store.unsynced == 0 and len(calls) == 1
    assert calls[0] != threading.get_ident()           # not on the event loop's thread
    await store.flush()
    assert len(calls) == 1                             # nothing left to sync
    with store.transaction(group=True):
        store.save_processed([proc("g9")], fetched_at=T0)
    assert store.unsynced == 1
    store.save_processed([proc("g10")], fetched_at=T0)  # durable (FULL): covers the one before
    assert store.unsynced == 0
    assert store.known_guids(["g0", "g1", "g2", "g9", "g10"]) == {"g0", "g1", "g2", "g9", "g10"}


def test_clusters_watchlists_and_items_many(store):
    """What each story was already news for, before a given copy; copies of copies count for
    the story they name."""
    toyota_sony = Hit(watchlist="sony", alias="Sony", field="title", text="sony", kind="exact")
    out = store.save_processed([proc("root", hits=[HIT]), proc("c1", hits=[toyota_sony], dup="root"),
                                proc("c2", dup="root"), proc("other", hits=[HIT2], dup="c1")],
                               fetched_at=T0)
    ids = {o.entry.id: o.rowid for o in out}
    got = store.clusters_watchlists([("root", ids["c1"]), ("root", ids["c2"]),
                                     ("c1", ids["other"]), ("nothing", 10**9)])
    assert got == {("root", ids["c1"]): {"toyota"}, ("root", ids["c2"]): {"toyota", "sony"},
                   ("c1", ids["other"]): {"sony"}, ("nothing", 10**9): set()}
    many = store.items(["c1", "root", "nope", "root"])
    assert set(many) == {"root", "c1"}
    assert many["root"].hits == [HIT] and many["root"].also_in == store.item("root").also_in
    assert many["c1"] == store.item("c1")


def test_known_guids_many(store):
    store.save_processed([proc(f"g{i}") for i in range(1200)], fetched_at=T0)
    asked = [f"g{i}" for i in range(0, 2400, 2)]
    assert store.known_guids(asked) == {f"g{i}" for i in range(0, 1200, 2)}


def test_exception_mid_batch_stores_nothing(store):
    store.save_processed([proc("old")], fetched_at=T0)
    bad = proc("bad", published=datetime(2025, 1, 1))        # naive datetime -> ValueError
    with pytest.raises(ValueError, match="naive"):
        store.save_processed([proc("x", hits=[HIT]), proc("y"), bad, proc("z")], fetched_at=T0)
    assert store.known_guids(["x", "y", "bad", "z", "old"]) == {"old"}
    assert store.counts()["matches"] == 0
    store.save_processed([proc("x")], fetched_at=T0)         # the store still works afterwards
    assert ("x" in store.known_guids(["x"]))


def test_nested_transaction_joins_outer(store):
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.save_processed([proc("a")], fetched_at=T0)
            with store.transaction():
                store.save_processed([proc("b")], fetched_at=T0)
            raise RuntimeError("boom")
    assert store.known_guids(["a", "b"]) == set()
    with store.transaction():
        store.save_processed([proc("a")], fetched_at=T0)
        with pytest.raises(RuntimeError):
            with store.transaction():
                store.save_processed([proc("b")], fetched_at=T0)
                raise RuntimeError("inner only")
    assert store.known_guids(["a", "b"]) == {"a"}


CHILD = r"""
import sys, time
from datetime import datetime, timezone
from pathlib import Path
from bot.adapters.store import Store
from bot.core.model import Entry, Hit, Processed, DupVerdict
db, ready, mode = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
T = datetime(2025, 3, 1, tzinfo=timezone.utc)
hit = Hit("w", "a", "title", "a", "exact")
def batch(prefix, n):
    return [Processed(Entry(f"{prefix}{i}", "f", "t" * 200, f"https://e/{prefix}{i}", "s" * 500),
                      [hit], DupVerdict(f"{prefix}0" if i else None, "url")) for i in range(n)]
s = Store.open(db)
s.save_processed(batch("committed-", 10), fetched_at=T)
if mode == "block":
    with s.transaction():
        s.save_processed(batch("b", 3000), fetched_at=T)
        ready.write_text("ready")
        time.sleep(600)
else:   # "race": signal from inside the batch, then keep writing a big batch and commit
    with s.transaction():
        s.save_processed(batch("b", 10), fetched_at=T)
        ready.write_text("ready")
        for k in range(200):
            s.save_processed(batch(f"b{k}-", 100), fetched_at=T)
    time.sleep(600)
"""


def _run_child_and_kill(db, tmp_path, mode):
    ready = tmp_path / f"ready-{mode}"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(db), str(ready), mode],
                             cwd=ROOT, env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "child never became ready"
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stderr.close()


def _check_consistent(db):
    c = raw(db)
    if not isinstance(db, str):      # PostgreSQL has no such checks: its constraints are enforced
        assert c.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert c.execute("PRAGMA foreign_key_check").fetchall() == []
    assert c.execute("SELECT COUNT(*) FROM items i WHERE NOT EXISTS "
                     "(SELECT 1 FROM matches m WHERE m.item_id = i.id)").fetchone() == (0,)
    return c


def test_sigkill_inside_transaction_leaves_nothing_of_the_batch(db, tmp_path):
    _run_child_and_kill(db, tmp_path, "block")
    c = _check_consistent(db)
    assert c.execute("SELECT COUNT(*) FROM items WHERE guid LIKE 'committed-%'").fetchone() == (10,)
    assert c.execute("SELECT COUNT(*) FROM items WHERE guid LIKE 'b%'").fetchone() == (0,)
    c.close()
    with Store.open(db) as s:          # reopens and keeps working
        assert s.counts()["items"] == 10
        s.save_processed([proc("after")], fetched_at=T0)


def test_sigkill_during_big_batch_is_all_or_nothing(db, tmp_path):
    _run_child_and_kill(db, tmp_path, "race")
    c = _check_consistent(db)
    n = c.execute("SELECT COUNT(*) FROM items WHERE guid LIKE 'b%'").fetchone()[0]
    assert n in (0, 10 + 200 * 100)
    assert c.execute("SELECT COUNT(*) FROM items WHERE guid LIKE 'committed-%'").fetchone() == (10,)


def test_recent_entries_oldest_first_across_pages(store):
    early = [proc(f"p{i}", published=T0 - timedelta(days=2, minutes=i)) for i in range(3)]
    store.save_processed(early, fetched_at=T0)                        # old published, fresh fetch
    store.save_processed([proc("ancient", published=T0 - timedelta(days=9))],
                         fetched_at=T0 - timedelta(days=8))           # outside the window
    same = [proc(f"s{i:04d}", dup="s0000" if i else None) for i in range(1100)]
    store.save_processed(same, fetched_at=T0 + timedelta(seconds=1))  # ties on time: by id
    got = list(store.recent_entries(T0 - timedelta(days=1)))
    ids = [e.id for e, _ in got]
    assert ids == ["p2", "p1", "p0"] + [f"s{i:04d}" for i in range(1100)]
    assert got[3][1] is None and got[4][1] == "s0000"
    assert got[0][0].published == T0 - timedelta(days=2, minutes=2)


def test_recent_matches_filters(store):
    store.save_processed([proc("a", hits=[HIT]), proc("b", hits=[HIT2]), proc("n")],
                         fetched_at=T0)
    store.save_processed([proc("a2", hits=[HIT], dup="a", feed="asahi"),
                          proc("c", hits=[HIT, HIT2])], fetched_at=T0 + timedelta(hours=1))
    got = store.recent_matches(T0)
    assert [i.entry.id for i in got] == ["c", "b", "a"]
    assert got[2].also_in == ["asahi"] and len(got[0].hits) == 2
    assert [i.entry.id for i in store.recent_matches(T0, "toyota")] == ["c", "a"]
    assert [i.entry.id for i in store.recent_matches(T0, "toyota", include_duplicates=True)
            ] == ["c", "a2", "a"]
    assert [i.entry.id for i in store.recent_matches(T0 + timedelta(minutes=1))] == ["c"]


def test_prune_removes_old_rows_and_fixes_dangling_duplicates(store):
    store.save_processed([proc("old", hits=[HIT]), proc("old2")], fetched_at=T0)
    store.save_processed([proc("new", hits=[HIT], dup="old"), proc("fresh", hits=[HIT])],
                         fetched_at=T0 + timedelta(days=3))
    assert store.prune(T0 + timedelta(days=1)) == 2
    assert not ("old" in store.known_guids(["old"])) and not ("old2" in store.known_guids(["old2"]))
    new = store.item("new")
    assert new is not None and new.duplicate_of is None and new.hits == [HIT]
    c = store.conn
    assert c.execute("SELECT COUNT(*) FROM matches").fetchone() == (2,)
    assert c.execute("SELECT COUNT(*) FROM items WHERE duplicate_of IS NOT NULL AND duplicate_of "
                     "NOT IN (SELECT guid FROM items)").fetchone() == (0,)
    # a former duplicate stays a duplicate: it does not become a fresh match
    assert [i.entry.id for i in store.recent_matches(T0)] == ["fresh"]
    assert store.counts()["duplicates"] == 1
    assert store.prune(T0) == 0


# --- feeds ------------------------------------------------------------------------------------

def F(name, url, **kw):
    return Feed(name=name, url=url, **kw)


def test_sync_feeds_added_removed_changed(store):
    r = store.sync_feeds([F("a", "https://a/rss"), F("b", "https://b/rss", interval="1h")],
                         300, T0)
    assert r == {"added": ["https://a/rss", "https://b/rss"], "removed": [], "changed": []}
    b = store.feed("https://b/rss")
    assert b.interval == 3600 and b.enabled and b.next_poll_at == T0
    store.record_fetch("https://b/rss", status="ok", next_poll_at=T0 + timedelta(hours=1), now=T0)

    r = store.sync_feeds([F("b2", "https://b/rss", interval="10m"), F("c", "https://c/rss")],
                         300, T0 + timedelta(minutes=1))
    assert r == {"added": ["https://c/rss"], "removed": ["https://a/rss"],
                 "changed": ["https://b/rss"]}
    b = store.feed("https://b/rss")
    assert b.name == "b2" and b.interval == 600
    assert b.next_poll_at == T0 + timedelta(minutes=11)      # pulled in by the shorter interval
    assert b.last_success_at == T0                          # history kept
    assert [f.url for f in store.feeds()] == ["https://b/rss", "https://c/rss"]
    assert not store.feed("https://a/rss").enabled
    assert len(store.feeds(include_disabled=True)) == 3
    assert store.sync_feeds([F("b2", "https://b/rss", interval="10m"), F("c", "https://c/rss")],
                            300, T0) == {"added": [], "removed": [], "changed": []}
    r = store.sync_feeds([F("a", "https://a/rss")], 300, T0)
    assert r["changed"] == ["https://a/rss"] and store.feed("https://a/rss").enabled


def test_record_fetch_error_counting_and_reset(store):
    url = "https://a/rss"
    store.sync_feeds([F("a", url)], 300, T0)
    s = store.record_fetch(url, status="ok", etag='"v1"', last_modified="Sat, 01 Mar 2025",
                           new_items=3, next_poll_at=T0 + timedelta(minutes=5), now=T0)
    assert (s.etag, s.items_total, s.last_new_item_at, s.error_count) == ('"v1"', 3, T0, 0)
    for k in range(1, 4):
        t = T0 + timedelta(minutes=5 * k)
        s = store.record_fetch(url, status="failed", error=f"timeout fetching {url}",
                               error_kind="timeout", next_poll_at=t + timedelta(minutes=10), now=t)
        assert s.error_count == k
    assert s.etag == '"v1"' and s.last_modified == "Sat, 01 Mar 2025"   # validators kept
    assert s.last_status == "failed" and s.last_error_kind == "timeout"
    assert s.last_success_at == T0
    assert store.counts()["feeds_failing"] == 1
    t = T0 + timedelta(hours=1)
    s = store.record_fetch(url, status="not_modified", next_poll_at=t, now=t)
    assert s.error_count == 0 and s.last_success_at == t and s.etag == '"v1"'
    assert s.items_total == 3 and s.last_new_item_at == T0 and s.last_status == "not_modified"
    s = store.record_fetch(url, status="ok", etag=None, new_items=2, next_poll_at=t, now=t)
    assert s.etag is None and s.items_total == 5 and s.last_new_item_at == t
    assert store.counts()["feeds_failing"] == 0
    with pytest.raises(KeyError):
        store.record_fetch("https://nope/", status="ok", next_poll_at=t, now=t)
    with pytest.raises(ValueError):
        store.record_fetch(url, status="weird", next_poll_at=t, now=t)


# --- backup, readonly ----------------------------------------------------------------------

def test_backup_while_another_connection_writes(sqlite_store, sqlite_db, tmp_path):
    store, db = sqlite_store, sqlite_db
    store.save_processed([proc(f"base{i}", hits=[HIT]) for i in range(50)], fetched_at=T0)
    stop = threading.Event()
    errors = []

    def writer():
        try:
            with Store.open(db) as w:
                k = 0
                while not stop.is_set() and k < 2000:
                    w.save_processed([proc(f"w{k}-{j}", hits=[HIT]) for j in range(20)],
                                     fetched_at=T0)
                    k += 1
        except Exception as e:            # surfaced below
            errors.append(e)

    th = threading.Thread(target=writer)
    th.start()
    try:
        while raw(db).execute("SELECT COUNT(*) FROM items").fetchone()[0] < 200 and th.is_alive():
            time.sleep(0.005)
        committed = raw(db).execute("SELECT COUNT(*) FROM items").fetchone()[0]
        dest = tmp_path / "backups" / "copy.db"
        store.backup(dest)
    finally:
        stop.set()
        th.join()
    assert not errors
    c = _check_consistent(dest)
    n = c.execute("SELECT COUNT(*) FROM items").fetchone()[0]
    assert n >= committed and n > 50 and (n - 50) % 20 == 0         # whole batches only
    assert c.execute("SELECT COUNT(*) FROM matches").fetchone()[0] == n
    assert c.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert [p.name for p in dest.parent.iterdir()] == ["copy.db"]   # no temp files left
    with Store.open(dest, readonly=True) as b:
        assert b.item("base0").hits == [HIT]


def test_readonly_open_reads_while_writer_runs(store, db):
    store.save_processed([proc("a")], fetched_at=T0)
    pg = isinstance(db, str)
    with Store.open(db, readonly=True) as ro:
        assert ("a" in ro.known_guids(["a"])) and ro.counts()["items"] == 1
        store.save_processed([proc("b")], fetched_at=T0)
        assert ("b" in ro.known_guids(["b"]))
        with pytest.raises(StoreError) as ei:
            ro.save_processed([proc("c")], fetched_at=T0)
        assert ei.value.kind == "readonly" and str(db) in str(ei.value)
    if pg:
        missing = db.rsplit("/", 1)[0] + "/no_such_db"
        with pytest.raises(StoreError) as ei:
            Store.open(missing, readonly=True)
        assert ei.value.kind == "missing" and "no_such_db" in str(ei.value)
        return
    with pytest.raises(StoreError, match="does not exist"):
        Store.open(db.parent / "missing.db", readonly=True)


# --- error reporting ------------------------------------------------------------------------

def test_readonly_directory(tmp_path):
    if os.geteuid() == 0:
        # root ignores permission bits; /proc/self is a directory nobody can create files in
        path = Path("/proc/self/sokuho-test.db")
    else:
        d = tmp_path / "ro"
        d.mkdir()
        d.chmod(0o500)
        path = d / "sokuho.db"
    try:
        with pytest.raises(StoreError) as ei:
            Store.open(path)
    finally:
        if os.geteuid() != 0:
            path.parent.chmod(0o700)
    assert ei.value.kind == "readonly"
    assert str(path) in str(ei.value) and "read-only" in str(ei.value)


def test_state_dir_under_a_file(tmp_path):
    (tmp_path / "afile").write_text("x")
    path = tmp_path / "afile" / "state" / "sokuho.db"
    with pytest.raises(StoreError) as ei:
        Store.open(path)
    assert str(path) in str(ei.value) and "cannot create directory" in str(ei.value)


def test_not_a_database(tmp_path):
    path = tmp_path / "sokuho.db"
    path.write_bytes(b"this is a text file, not sqlite\n" * 100)
    with pytest.raises(StoreError) as ei:
        Store.open(path)
    assert ei.value.kind == "notadb"
    assert str(path) in str(ei.value) and "not an SQLite database" in str(ei.value)
    assert path.read_bytes().startswith(b"this is a text file")          # left untouched


def test_disk_full_is_reported(sqlite_store, sqlite_db):
    store, db = sqlite_store, sqlite_db
    store.conn.execute("PRAGMA max_page_count = %d"
                       % store.conn.execute("PRAGMA page_count").fetchone()[0])
    with pytest.raises(StoreError) as ei:
        store.save_processed([proc(f"x{i}", summary="z" * 4000) for i in range(50)],
                             fetched_at=T0)
    assert ei.value.kind == "full" and "disk is full" in str(ei.value) and str(db) in str(ei.value)
    assert store.counts()["items"] == 0


LOCKER = r"""
import sqlite3, sys, time
from pathlib import Path
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
c.execute("INSERT INTO feeds (url, name, interval_s) VALUES ('https://x/', 'x', 300)")
Path(sys.argv[2]).write_text("ready")
time.sleep(600)
"""


def test_locked_by_another_process(sqlite_db, tmp_path):
    db = sqlite_db
    Store.open(db).close()
    ready = tmp_path / "locked"
    child = subprocess.Popen([sys.executable, "-c", LOCKER, str(db), str(ready)])
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        with Store.open(db, busy_timeout=0.2) as s:       # reading is fine in WAL mode
            assert s.counts()["feeds"] == 0
            with pytest.raises(StoreError) as ei:
                s.save_processed([proc("a")], fetched_at=T0)
            assert ei.value.kind == "locked"
            assert "locked by another process" in str(ei.value) and str(db) in str(ei.value)
        Store.register_migrations("late", ["CREATE TABLE late_t (x INTEGER)"])
        with pytest.raises(StoreError, match="locked"):
            Store.open(db, busy_timeout=0.2)              # a pending migration needs the lock
    finally:
        child.kill()
        child.wait()
    with Store.open(db) as s:                             # lock released by the kill
        assert s.counts()["feeds"] == 0
        assert s.conn.execute("SELECT COUNT(*) FROM late_t").fetchone() == (0,)


# --- timestamps -----------------------------------------------------------------------------

aware = st.builds(
    lambda dt, off: dt.replace(tzinfo=timezone(timedelta(minutes=off))),
    st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31)),
    st.integers(min_value=-23 * 60, max_value=23 * 60))


@settings(max_examples=300)
@given(aware, aware)
def test_timestamps_round_trip_and_sort(a, b):
    ta, tb = to_ts(a), to_ts(b)
    assert len(ta) == len("2025-03-01T12:00:00.000000Z") and ta.endswith("Z")
    assert from_ts(ta) == a and from_ts(ta).utcoffset() == timedelta(0)
    assert (ta < tb) == (a < b) and (ta == tb) == (a == b)


@settings(max_examples=300)
@given(aware)
def test_a_timestamp_is_the_same_text_in_any_zone(a):
    """to_ts formats UTC datetimes directly and converts the others first: the same text as
    the field-by-field formatting of the UTC time, whichever zone object says it."""
    u = a.astimezone(timezone.utc)
    ref = (f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:"
           f"{u.second:02d}.{u.microsecond:06d}Z")
    assert to_ts(a) == to_ts(u) == ref
    assert to_ts(u.replace(tzinfo=timezone(timedelta(0), "UTC+0"))) == ref   # not the singleton
    assert to_ts(u.replace(microsecond=0)) == ref[:20] + "000000Z"


def test_naive_timestamps_are_refused():
    with pytest.raises(ValueError):
        to_ts(datetime(2025, 1, 1))


# --- stories (issue 12) ---------------------------------------------------------------------------

def test_story_evidence_round_trips_and_a_v2_database_migrates(db):
    if not isinstance(db, str):                 # SQLite: start from a database at schema v2
        saved = list(Store.MIGRATIONS["core"])
        Store.MIGRATIONS["core"] = saved[:2]
        Store.open(db).close()
        c = raw(db)
        c.execute("INSERT INTO items (guid, feed, title, link, canonical_link, summary, "
                  "fetched_at) VALUES ('old', 'f', 't', 'l', 'l', 's', ?)", (to_ts(T0),))
        c.commit()
        Store.MIGRATIONS["core"] = saved
    with Store.open(db) as s:
        story = DupVerdict("first", "story", 0.41, ("shared names: Alvarado", "published 3.0h apart"))
        s.save_processed([proc("first", hits=[HIT]),
                          Processed(entry("second", feed="other"), [HIT], story)], fetched_at=T0)
        assert s.duplicate_info("second") == ("first", "story",
                                             ["shared names: Alvarado", "published 3.0h apart"])
        assert s.duplicate_info("first") == (None, None, [])
        if not isinstance(db, str):
            assert s.duplicate_info("old") == (None, None, [])     # kept through the migration
        assert s.duplicate_info("nope") is None
        assert s.item("first").also_in == ["other"]
        assert s.recent_hits(T0 - timedelta(days=1)) == {"first": [("toyota", "トヨタ")],
                                                         "second": [("toyota", "トヨタ")]}


def test_a_restart_keeps_clustering_stories(db):
    from bot.app import warm
    from bot.core.dedup import Deduper
    now = datetime.now(timezone.utc)
    hit = Hit("peru", "Peru", "title", "Peru", "exact")
    first = Entry("a", "one", "Peru's Congress votes to remove President Alvarado",
                  "https://one.example/a", "Lawmakers in Lima voted 101 to 12 to oust Ricardo "
                  "Alvarado over corruption charges.", now - timedelta(hours=3), "en")
    later = Entry("b", "two", "Lima lawmakers oust Alvarado in impeachment vote",
                  "https://two.example/b", "Peru's Congress removed Ricardo Alvarado by 101 votes "
                  "to 12 on corruption charges.", now, "en")
    with Store.open(db) as s:
        d = Deduper()
        s.save_processed([Processed(first, [hit], d.process(first, hits=[hit]))], fetched_at=now)
    with Store.open(db) as s:                   # a new process: empty indexes, warmed from the store
        cold = Deduper()
        assert cold.process(later, hits=[hit]).duplicate_of is None
        d = Deduper()
        assert warm(d, s, d.window) == 1
        v = d.process(later, hits=[hit])
        assert (v.duplicate_of, v.reason) == ("a", "story")
        lost = Deduper()
        s2 = type("NoHits", (), {"index_rows": s.index_rows, "summary_of": s.summary_of,
                                 "recent_hits": lambda self, since: {}})()
        warm(lost, s2, lost.window)             # without what it matched, the watchlist differs
        assert lost.process(later, hits=[hit]).duplicate_of is None


def test_the_canonical_link_of_the_duplicate_check_is_the_one_stored(store):
    """The duplicate check (in a parser worker) already made the canonical link: the store keeps
    that one instead of cleaning the URL again; an item without it is cleaned here."""
    from bot.core.dedup import Deduper
    from bot.core.matcher import Matcher
    from bot.core.process import Processor
    link = "https://Ex.com/b/?utm_source=rss&id=2"
    e = Entry(id="k", feed="f", title="Some headline about a port strike", link=link,
              summary="", published=T0, lang="en")
    p = Processor(Matcher({}), Deduper()).process(e, T0)
    assert p.canonical_link == canonical_url(link) != link
    planted = Processed(e, [], DupVerdict(None), canonical_link="https://planted.example/")
    bare = Processed(Entry(id="m", feed="f", title="t", link=link, summary="", published=T0,
                           lang="en"))
    store.save_processed([planted, bare], fetched_at=T0)
    rows = dict(store.conn.execute("SELECT guid, canonical_link FROM items").fetchall())
    assert rows == {"k": "https://planted.example/", "m": canonical_url(link)}


def _item_indexes(s: Store) -> set[str]:
    if s.engine == "postgresql":
        sql = "SELECT indexname FROM pg_indexes WHERE tablename = 'items'"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'items'"
    return {r[0] for r in s.conn.execute(sql).fetchall()}


def test_v5_indexes_and_a_v4_database_migrates(db):
    """Every index on items costs each stored item a B-tree insert; no query looks items up by
    canonical link, so v5 drops that index, and publication times are indexed only where an
    item was published after it was fetched (a v4 database migrates at open, items kept)."""
    with older_schema(4):
        with Store.open(db) as s:
            assert "items_canonical_link" in _item_indexes(s)
            s.save_processed([proc("kept", hits=[HIT])], fetched_at=T0)
    with Store.open(db) as s:
        left = _item_indexes(s)
        assert "items_canonical_link" not in left
        # the ones queries need stay: the guid key, the time ranges, the duplicate links
        assert {"items_fetched_at", "items_published_late", "items_duplicate_of"} <= left
        assert "items_published_at" not in left
        assert s.item("kept").hits and s.known_guids(["kept"]) == {"kept"}


def test_marks_of_a_v6_database_are_nobodys_after_the_migration(db):
    """Marks stored before v7 name no instance: after the upgrade, any instance recovers them,
    while a live instance's own marks stay its own."""
    with older_schema(6):
        with Store.open(db) as s:
            s.save_processed([proc("old", hits=[HIT])], fetched_at=T0)
    with Store.open(db) as s:
        s.register_instance("a", host="h", pid=1, command="run", now=T0)
        s.save_processed([proc("new", hits=[HIT], title="other")], fetched_at=T0, owner="a")
        assert s.pending_count() == 2
        seen = {o: [i.entry.id for i in s.pending_items(o, alive_since=T0, now=T0)]
                for o in ("a", "b", None)}
        assert seen == {"a": ["old", "new"], "b": ["old"], None: ["old"]}


def test_the_window_is_what_the_unindexed_condition_selects(store):
    """recent_for_index (RECENT_IDS, spelled for the partial index) returns exactly the items
    published or fetched at/after `since`, in the same order as the plain OR condition: items
    fetched before the window but published in it (future-dated), undated ones, equal times."""
    h = timedelta(hours=1)
    since = T0
    fetches = [T0 - 5 * h, T0 - h, T0, T0 + h]
    pubs = [None, T0 - 9 * h, T0 - 2 * h, T0 - h, T0, T0 + 2 * h, T0 + 30 * h]
    n = 0
    for f in fetches:
        store.save_processed([proc(f"g{n + i}", published=p, title=f"t{n + i}")
                              for i, p in enumerate(pubs)], fetched_at=f)
        n += len(pubs)
    got = [e.id for e, _, _ in store.recent_for_index(since)]
    s = to_ts(since)
    plain = [r[0] for r in store.conn.execute(
        "SELECT guid FROM items WHERE published_at >= ? OR fetched_at >= ? "
        "ORDER BY COALESCE(published_at, fetched_at), id", (s, s)).fetchall()]
    assert got == plain
    # fetched before the window, published in it: found (the partial index's rows)
    assert {"g5", "g6", "g12", "g13"} <= set(got) and "g0" not in got and "g7" not in got
    if store.engine == "sqlite":                # no scan of the whole table
        plan = " ".join(str(r[-1]) for r in store.conn.execute(
            "EXPLAIN QUERY PLAN " + Q.RECENT_IDS, (s, s)).fetchall())
        assert "items_published_late" in plan and "SCAN items" not in plan


def test_one_statement_writes_join_the_feed_transaction_without_a_savepoint(database):
    """A feed's poll record and the clearing of marks are one statement each: inside the feed's
    transaction they join it without SAVEPOINT/RELEASE; on their own they are a transaction.
    An unknown feed inside a transaction raises KeyError having changed nothing, so the rest of
    the transaction still commits (both engines)."""
    store = Store.open(database)
    try:
        store.sync_feeds([Feed(name="n", url="https://ex.com/f")], 300, T0)
        with store.shared_section(group=True):
            store.save_processed([proc("a", hits=[HIT])], fetched_at=T0)
            with pytest.raises(KeyError):
                store.record_fetch("https://ex.com/unknown", status="ok", next_poll_at=T0, now=T0)
            state = store.record_fetch("https://ex.com/f", status="ok", new_items=1,
                                       next_poll_at=T0, now=T0)
            store.clear_pending([store.item("a").rowid])
        assert state.items_total == 1 and store.feed("https://ex.com/f").items_total == 1
        assert store.pending_count() == 0 and store.item("a") is not None
        if store.engine == "sqlite":
            seen: list[str] = []
            store.conn.set_trace_callback(seen.append)
            with store.shared_section(group=True):
                store.record_fetch("https://ex.com/f", status="ok", next_poll_at=T0, now=T0)
                store.clear_pending([1, 2])
            store.record_fetch("https://ex.com/f", status="not_modified", next_poll_at=T0, now=T0)
            store.conn.set_trace_callback(None)
            kinds = [q.split()[0] for q in seen if not q.startswith("PRAGMA")]
            assert kinds == ["BEGIN", "UPDATE", "DELETE", "COMMIT", "BEGIN", "UPDATE", "COMMIT"]
    finally:
        store.close()
