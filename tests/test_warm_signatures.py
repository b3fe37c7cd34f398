"""Warming the duplicate index from the signatures stored with the items (store v6, dedup.pack_sig,
stories.pack_features; summaries read from the store on first need) gives the index that the
previous warm-up gave, which recomputed every signature from the stored entries (kept here as the
reference, reference_warm): the same guid, URL and headline-key maps, postings, df, order, summary
features and story index, and the same verdict for every later item. On SQLite and PostgreSQL;
also for a database written before v6 (no signatures) and for signatures that cannot be read."""
from __future__ import annotations

import logging
import pickle
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

import bot.app as app_mod
from bot.adapters.config import load_config
from bot.adapters.parse import parse_feed
from bot.adapters import store_sql as Q
from bot.adapters.store import Store
from bot.adapters.store_base import item_from_row
from bot.app import App, warm
from bot.core import dedup
from bot.core.dedup import Deduper
from bot.core.matcher import Matcher
from bot.core.model import DupVerdict, Entry
from bot.core.process import Processor

try:
    from tests.oldschema import older_schema
except ImportError:  # pragma: no cover (plain `pytest`: tests/ on sys.path)
    from oldschema import older_schema

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 1, 10, 12, 0, tzinfo=timezone.utc)
WINDOW = 48 * 3600


def corpus() -> list[Entry]:
    """Real-looking items in English, Spanish and Japanese (the stories and regression corpora:
    independently worded reports of one event), plus copies the stream makes of them."""
    out: list[Entry] = []
    for d in ("stories", "regression"):
        for f in sorted((ROOT / "eval" / d / "feeds").glob("*.xml")):
            out += parse_feed(f.read_bytes(), feed_name=f.stem).entries
    assert len(out) > 300
    span = 72 * 3600                         # published over 3 days: a third is outside the window
    dated = []
    for i, e in enumerate(out):
        pub = NOW - timedelta(seconds=span * ((i * 7919) % len(out)) / len(out))
        dated.append(Entry(e.id, e.feed, e.title, e.link, e.summary,
                           None if i % 23 == 0 else pub, e.lang))
    extra = []
    for i, e in enumerate(dated[::9]):
        k = i % 5
        if k == 0:      # a wire copy: another outlet's guid and URL, the outlet in the headline
            extra.append(Entry(f"copy{i}", "wire", f"UPDATE 1-{e.title} - Wire{i % 3}",
                               f"https://wire.example/{i}?utm_source=rss", e.summary,
                               e.published, e.lang))
        elif k == 1:    # the same URL under another guid, no summary
            extra.append(Entry(f"urlcopy{i}", "agg", e.title, e.link, "", e.published, e.lang))
        elif k == 2:    # a reworded headline, no link
            extra.append(Entry(f"near{i}", "agg", " ".join(reversed(e.title.split())), "",
                               e.summary, e.published, e.lang))
        elif k == 3:    # no summary, no date
            extra.append(Entry(f"bare{i}", "agg", e.title + " (video)", f"https://v.example/{i}",
                               "", None, e.lang))
        else:           # a headline too short for a key
            extra.append(Entry(f"short{i}", "agg", e.title[:6], f"https://s.example/{i}",
                               e.summary, e.published, e.lang))
    # matched items whose summary is longer than the 400 characters the story check reads, with
    # half-width kana that normalise to fewer characters: what prepare() reads of it (prep, then
    # cut) differs from what warm-up reads (cut, then prep)
    for i in range(3):
        extra.append(Entry(f"long{i}", "agg", f"Maduro trial: day {i + 2} of hearings in New York",
                           f"https://long.example/{i}", "ｶﾞｿﾘﾝﾀﾞｲ " * 60 + " Washington sanctions "
                           "oil refinery Maracaibo tanker seized", NOW - timedelta(hours=i + 1),
                           "en"))
    stream = dated + extra
    # interleave deterministically so copies come after their originals mostly, not always
    return sorted(stream, key=lambda e: ((e.published or NOW).timestamp() // 3600, e.id))


def fill(database, entries: list[Entry]) -> Processor:
    """Store `entries` as the service does: prepared (wire form, as from a parser worker), decided
    by one long-lived index, saved in feed-sized batches."""
    cfg = load_config(ROOT / "watchlists")
    proc = Processor(Matcher(cfg.watchlists), Deduper(WINDOW))
    with Store.open(database) as s:
        for k in range(0, len(entries), 40):
            batch = []
            for e in entries[k:k + 40]:
                p = pickle.loads(pickle.dumps(proc.prepare(e), 5))
                batch.append(proc.decide(e, p, NOW))
            s.save_processed(batch, fetched_at=NOW - timedelta(hours=60) + timedelta(minutes=k))
    return proc


def reference_warm(d: Deduper, s: Store) -> Deduper:
    """warm() as it was before signatures were stored (bot/app.py at 545f3c3): each stored entry
    added whole, its signature and story features recomputed, its summary held."""
    since = NOW - timedelta(seconds=WINDOW)
    hits = s.recent_hits(since)
    for entry, dup_of, url in s.recent_for_index(since):
        when = (entry.published or NOW).timestamp()
        matched = hits.get(entry.id, ())
        d.add(entry, DupVerdict(dup_of), now=NOW, added_at=min(when, NOW.timestamp()),
              watchlists={w for w, _ in matched}, topic={t for _, t in matched},
              url=url if entry.link else "")
    return d


def reference_catch_up(d: Deduper, s: Store, last: int) -> int:
    """App.catch_up as it was before signatures were stored (545f3c3)."""
    rows = s._all(f"SELECT {Q.ITEM_COLS} FROM items WHERE id > ? ORDER BY id", (last,))
    hits = s.hits_of([r[0] for r in rows])
    for r in rows:
        entry = item_from_row(r).entry
        if entry.id in d:
            continue
        when = (entry.published or NOW).timestamp()
        matched = hits.get(r[0], ())
        d.add(entry, DupVerdict(r[8]), now=NOW, added_at=min(when, NOW.timestamp()),
              watchlists={w for w, _ in matched}, topic={t for _, t in matched})
    return rows[-1][0] if rows else last


def same_index(s: Store, proc: Processor, entries: list[Entry],
               monkeypatch) -> tuple[Deduper, list]:
    """warm() of `s` and reference_warm() of `s` give the same index and the same verdicts."""
    monkeypatch.setattr(app_mod, "utcnow", lambda: NOW)
    d = Deduper(WINDOW)
    assert warm(d, s, WINDOW) > 0
    ref = reference_warm(Deduper(WINDOW), s)
    a, b = structure(d), structure(ref)          # (summaries read from the store meanwhile)
    for k in a:
        assert a[k] == b[k], k
    later = later_items(entries)
    got = decisions(d, proc, later)
    assert got == decisions(ref, proc, later)
    return d, got


def ids(post) -> dict:
    return {t: ([x.id for x in v] if isinstance(v, list) else v.id) for t, v in post.items()}


def structure(d: Deduper) -> dict:
    """Everything the index holds, comparable (feature tuples as sets: their order is a set's)."""
    sigs = [(s.id, s.root, s.lang, s.t, s.key, frozenset(s.title), frozenset(s.nums),
             frozenset(s.months), frozenset(s.caps), s.again, s.summary, s.added, s.url)
            for s in d._order]
    st = d.stories
    reports = {i: (r.root, r.lang, r.t, r.wls, r.title, frozenset(r.gate), r.f.title_terms,
                   frozenset(r.f.terms), r.f.names, r.f.title_names, r.f.title_nums, r.f.nums,
                   r.f.months, r.f.again, r.f.new, r.f.holders, r.f.title_seq, r.f.topic,
                   r.f.w, r.f.wsum) for i, r in st._by_id.items()}
    return {"guid": d._guid, "url": d._url,
            "key": {lang: {k: s.id for k, s in m.items()} for lang, m in d._key.items()},
            "post": ids(d._post), "df": d._df, "order": sigs,
            "stories": (reports, ids(st._post), st._df, dict(st._n), st._gate,
                        [(a, r.id) for a, r in st._order])}


def later_items(entries: list[Entry]) -> list[Entry]:
    """New items after the restart: copies (guid, URL, headline, reworded) of stored ones and
    other reports of the same stories."""
    out = []
    for i, e in enumerate(entries[::4]):
        t = NOW + timedelta(minutes=i)
        out.append(Entry(f"later{i}", "later", e.title if i % 2 else e.title + " - Later",
                         e.link if i % 3 == 0 else f"https://later.example/{i}",
                         e.summary, t, e.lang))
    return out


def decisions(d: Deduper, proc: Processor, items: list[Entry]) -> list:
    out = []
    for e in items:
        p = proc.prepare(e)
        v = d.process(e, NOW, hits=p.hits, prepared=p.dedup)
        out.append((e.id, v.duplicate_of, v.reason, v.score, v.evidence))
    return out


@pytest.fixture(scope="module")
def entries():
    return corpus()


def test_stored_signatures_warm_the_index_recomputing_gives(database, entries, monkeypatch,
                                                            caplog):
    proc = fill(database, entries)
    caplog.set_level(logging.WARNING, "sokuho.app")
    with Store.open(database) as s:
        rows = s.conn.execute("SELECT COUNT(*), COUNT(dedup_sig), COUNT(story_sig) "
                              "FROM items").fetchall()[0]
        rows += s.conn.execute("SELECT COUNT(DISTINCT item_id) FROM matches").fetchall()[0]
        # every stored item has a signature; most matched ones their story features
        assert rows[0] == rows[1] == len({e.id for e in entries})
        assert rows[3] * 0.6 < rows[2] <= rows[3], rows
        d, got = same_index(s, proc, entries, monkeypatch)
        assert 0 < len(d) < len(entries)            # the window only
        assert len(d.stories) > 20
        kinds = {r for _, _, r, _, _ in got}
        assert {"url", "title", "similar", "story"} <= kinds, kinds
        with s.transaction() as c:                  # none stored: every one recomputed
            c.execute("UPDATE items SET dedup_sig = NULL, story_sig = NULL")
        same_index(s, proc, entries, monkeypatch)
    assert not caplog.records


def test_a_database_written_before_v6_migrates_and_warms_the_same(database, entries,
                                                                  monkeypatch):
    """Items stored by a version without signatures (schema v5): the store migrates at open and
    warming recomputes their signatures; items stored after the upgrade carry them. Both warm the
    index the previous version's warm-up gave."""
    half = len(entries) // 2
    with older_schema(5):
        proc = fill(database, entries[:half])
    with Store.open(database) as s:
        assert {"dedup_sig", "story_sig"} <= s.columns("items")
        assert s.conn.execute("SELECT COUNT(dedup_sig) FROM items").fetchall()[0][0] == 0
        d, _ = same_index(s, proc, entries, monkeypatch)
        # recomputed once: warm-up wrote them, the next one decodes them
        warmed = len(d) - len(later_items(entries))
        assert s.conn.execute("SELECT COUNT(dedup_sig) FROM items").fetchall()[0][0] == warmed > 0
        # the new version goes on storing (with signatures)
        batch = []
        for e in entries[half:]:
            batch.append(proc.decide(e, pickle.loads(pickle.dumps(proc.prepare(e), 5)), NOW))
        s.save_processed(batch, fetched_at=NOW - timedelta(hours=1))
        n, signed = s.conn.execute("SELECT COUNT(*), COUNT(dedup_sig) FROM items").fetchall()[0]
        assert 0 < signed < n
        same_index(s, proc, entries, monkeypatch)


BAD_STORY = ["", "x", "1" + "\ta" * 12, "1" + "\ta" * 7 + "\tyes" + "\t" * 4,
             "1" + "\t" * 10 + "pm" + "\t\t", "1\ta\x1f\x1fb" + "\t" * 11, "2" + "\t" * 12]
BAD = ["", "garbage", "2\tabc\tx\t\t\t\t", "1\tzz\tx\t\t\t\t", "1\tabcd\tx\t\t\t\t",
       "1\t\tx  y\t\t\t\t", "1\t\tx\t\t\t\tyes", "1\t\tx\t\t\t", "1\t\t x\t\t\t\t"]


def test_an_unreadable_signature_is_recomputed_and_logged(database, entries, monkeypatch,
                                                          caplog):
    proc = fill(database, entries[-150:])
    caplog.set_level(logging.WARNING, "sokuho.app")
    with Store.open(database) as s:
        rows = s.conn.execute("SELECT id FROM items ORDER BY id").fetchall()
        with s.transaction() as c:
            for (rowid,), bad in zip(rows[::7], BAD):
                c.execute("UPDATE items SET dedup_sig = ? WHERE id = ?", (bad, rowid))
            storied = s.conn.execute("SELECT id FROM items WHERE story_sig IS NOT NULL "
                                     "ORDER BY id").fetchall()
            assert len(storied) >= len(BAD_STORY)
            for (rowid,), bad in zip(storied, BAD_STORY):
                c.execute("UPDATE items SET story_sig = ? WHERE id = ?", (bad, rowid))
        same_index(s, proc, entries[-150:], monkeypatch)       # nothing lost, nothing different
        warned = [r.getMessage() for r in caplog.records if "stored signature" in r.getMessage()]
        assert len(warned) == 1 and f"{len(BAD) + len(BAD_STORY)} stored signature(s)" in \
            warned[0], warned
        caplog.clear()       # the unreadable copy signatures were written again when recomputed
        same_index(s, proc, entries[-150:], monkeypatch)
        warned = [r.getMessage() for r in caplog.records if "stored signature" in r.getMessage()]
        assert len(warned) == 1 and f"{len(BAD_STORY)} stored signature(s)" in warned[0], warned


def test_catch_up_adds_other_instances_items_from_their_signatures(database, entries,
                                                                   monkeypatch):
    """Items another instance stored after this one warmed join the index from their stored
    signatures, as the previous catch_up added them (recomputed), and no item twice."""
    proc = fill(database, entries)
    monkeypatch.setattr(app_mod, "utcnow", lambda: NOW)
    with Store.open(database) as s:
        cut = s.conn.execute("SELECT id FROM items ORDER BY id").fetchall()[len(entries) // 2][0]
        early = {g for g, in s.conn.execute("SELECT guid FROM items WHERE id <= ?", (cut,))}
        # both warmed when the store held the items up to `cut` only
        ns = SimpleNamespace(deduper=Deduper(WINDOW), store=s, last_item_id=cut)
        real_rows, real_entries = s.index_rows, s.recent_for_index
        monkeypatch.setattr(s, "index_rows",
                            lambda since: (r for r in real_rows(since) if r[0] <= cut))
        monkeypatch.setattr(s, "recent_for_index",
                            lambda since: (r for r in real_entries(since) if r[0].id in early))
        warm(ns.deduper, s, WINDOW)
        ref = reference_warm(Deduper(WINDOW), s)
        monkeypatch.setattr(s, "index_rows", real_rows)
        monkeypatch.setattr(s, "recent_for_index", real_entries)
        assert App.catch_up(ns) > 0 and ns.last_item_id == s.max_item_id()
        assert reference_catch_up(ref, s, cut) == s.max_item_id()
        assert App.catch_up(ns) == 0
        ns.last_item_id = cut - 10          # items the index already holds come again: skipped
        assert App.catch_up(ns) == 0
        order = [x.id for x in ns.deduper._order]
        assert len(order) == len(set(order))
        a, b = structure(ns.deduper), structure(ref)
        for k in a:
            assert a[k] == b[k], k
        later = later_items(entries)
        assert decisions(ns.deduper, proc, later) == decisions(ref, proc, later)


def test_the_stored_form_round_trips(entries):
    """unpack_sig(pack_sig(signature)) is the signature, compact; for every corpus headline."""
    for e in entries:
        sig = dedup.signature(e, 5.0)
        got = dedup.unpack_sig(dedup.pack_sig(sig), e.id, "root", e.lang, 5.0)
        got.summary_from({e.id: e.summary}.get)
        assert (got.key, frozenset(got.title), frozenset(got.nums), frozenset(got.months),
                frozenset(got.caps), got.again) == \
            (sig.key, sig.title, sig.nums, sig.months, sig.caps, sig.again)
        assert got.summary == dedup.signature(e, 5.0).summary
    for bad in BAD:
        with pytest.raises(ValueError):
            dedup.unpack_sig(bad, "x", "x", "en", 0.0)


def test_stored_story_features_round_trip(entries):
    """unpack_features(pack_features(f)) == f for the features of every corpus item (surface
    aside: it is only kept for the item being decided); unreadable strings are refused."""
    from bot.core import stories
    from bot.core.normalize import prep
    n = 0
    for e in entries:
        f = stories.features(prep(e.title), prep(e.summary[:400]), e.lang, ["Maduro", "キューバ"],
                             keep_surface=True)
        g = stories.unpack_features(stories.pack_features(f))
        f.surface = None
        assert g == f
        n += bool(f.holders)
    assert n > 0
    for bad in BAD_STORY:
        with pytest.raises(ValueError):
            stories.unpack_features(bad)
