"""The lazy duplicate check (core/lazydedup.LazyDeduper over adapters/window.StoreWindow: what
`poll --once` uses) gives exactly the verdicts of the fully warmed index (app.warm), item by
item: duplicate_of, reason, score and evidence, on SQLite and PostgreSQL.

The store holds a realistic window (tests/test_warm_signatures.corpus: en/es/ja stories and
regression corpora, wire copies, URL copies, rewordings, undated and short headlines, items
published over 72 h so that a third is outside the 48 h window, matched items for stories). The
later items are copies of stored items (guid, URL, headline key, near-duplicates, story
members), items older and newer than the window, a stored headline in another language, and
copies of items added in the same run; many probe features hold more than 16 stored items, so
the postings' trimming to the newest 16 decides candidates."""
from __future__ import annotations

from datetime import timedelta

import pytest

import bot.app as app_mod
from bot.adapters.store import Store
from bot.adapters import window_snap
from bot.adapters.window import StoreWindow
from bot.adapters.window_snap import SnapWindow
from bot.app import warm, warm_lazy
from bot.core.dedup import Deduper
from bot.core.lazydedup import LazyDeduper
from bot.core.model import Entry, Processed
from bot.core.stories import StoryIndex

try:
    from tests import test_warm_signatures as W
except ImportError:  # pragma: no cover (plain `pytest`: tests/ on sys.path)
    import test_warm_signatures as W

NOW, WINDOW = W.NOW, W.WINDOW


def later(entries: list[Entry]) -> list[Entry]:
    """test_warm_signatures' later items, and the harder cases around them."""
    out = W.later_items(entries)
    langs = {"en": "es", "es": "en", "ja": "en"}
    for i, e in enumerate(entries[::7]):
        k = i % 6
        if k == 0:      # the stored guid itself (in the window or not)
            out.append(Entry(e.id, "again", e.title, "", "", NOW, e.lang))
        elif k == 1:    # the same headline in another language: its own headline-key map
            out.append(Entry(f"lang{i}", "other", e.title, "", e.summary, e.published,
                             langs.get(e.lang, "en")))
        elif k == 2:    # published long before the window: no stored candidate is close in time
            out.append(Entry(f"old{i}", "old", e.title + " - Old", "", e.summary,
                             NOW - timedelta(hours=100), e.lang))
        elif k == 3:    # and long after it
            out.append(Entry(f"new{i}", "new", e.title, "", e.summary,
                             NOW + timedelta(hours=60), e.lang))
        elif k == 4:    # the same headline, undated (timed "now")
            out.append(Entry(f"undated{i}", "undated", e.title, "", e.summary, None, e.lang))
        else:           # an outlet's own wording of it, reordered
            out.append(Entry(f"reword{i}", "reword", " ".join(reversed(e.title.split())),
                             f"https://reword.example/{i}", e.summary, NOW, e.lang))
    # copies of items this run adds: found in the run's own part of the index
    run = out[:40]
    for i, e in enumerate(run[::3]):
        out.append(Entry(f"runcopy{i}", "runcopy", e.title + " - Copy", "", e.summary,
                         e.published, e.lang))
        out.append(Entry(f"runurl{i}", "runurl", e.title, e.link, "", e.published, e.lang))
    return out


def decide(d, proc, items: list[Entry], batch: int = 0) -> list:
    """Each item's verdict, in order; `batch`: prefetch() that many ahead, as the pipeline does
    for a feed's new items (0: none, each item looked up when decided)."""
    out = []
    prepared = [proc.prepare(e) for e in items]
    for k, (e, p) in enumerate(zip(items, prepared)):
        if batch and k % batch == 0:
            d.prefetch(q.dedup for q in prepared[k:k + batch])
        v = d.process(e, NOW, hits=p.hits, prepared=p.dedup)
        out.append((e.id, v.duplicate_of, v.reason, v.score, v.evidence))
    return out


def full(s: Store) -> Deduper:
    d = Deduper(WINDOW)
    assert warm(d, s, WINDOW) > 0
    return d


def lazy(s: Store, **kw) -> LazyDeduper:
    d = LazyDeduper(WINDOW, **kw)
    assert warm_lazy(d, s, WINDOW) > 0
    assert d.lazy
    return d


def crowd() -> list[Entry]:
    """Many stored headlines sharing their words (postings of more than 16 items: which 16 are
    the newest decides the candidates), some of them copies of each other."""
    places = ["Caracas", "Maracaibo", "Valencia", "Barquisimeto", "Havana", "Nuuk", "Bogota"]
    out = []
    for i in range(120):
        p = places[i % len(places)]
        t = NOW - timedelta(hours=(i * 37) % 70, minutes=i)
        if i % 3 == 0:
            title = f"Venezuela oil exports from {p} fall {i % 9 + 2} percent in {p} port strike"
            lang = "en"
        elif i % 3 == 1:
            title = f"Exportaciones de petróleo de Venezuela caen {i % 9 + 2} por ciento en {p}"
            lang = "es"
        else:
            title = f"Venezuela oil tanker seized near {p} as exports fall again"
            lang = "en"
        out.append(Entry(f"crowd{i}", "crowd", title, f"https://crowd.example/{i}",
                         f"{title}. Officials in {p} said shipments were delayed.",
                         None if i % 11 == 0 else t, lang))
    # dated after they are stored (clock skew): indexed as added now, not at their date
    out += [Entry(f"future{i}", "future", f"Cuba fuel shipment {i} announced for next week",
                  f"https://future.example/{i}", "", NOW + timedelta(hours=5 + i), "en")
            for i in range(3)]
    return out


@pytest.fixture(scope="module")
def entries():
    return sorted(W.corpus() + crowd(),
                  key=lambda e: ((e.published or NOW).timestamp() // 3600, e.id))


def test_lazy_verdicts_are_the_warmed_index_verdicts(database, entries, monkeypatch):
    proc = W.fill(database, entries)
    monkeypatch.setattr(app_mod, "utcnow", lambda: NOW)
    items = later(entries)
    with Store.open(database) as s:
        ref_index = full(s)
        ref = decide(ref_index, proc, items)
        # the cases the test is about are there
        kinds = {r for _, _, r, _, _ in ref}
        assert {"guid", "url", "title", "similar", "story", ""} <= kinds, kinds
        crowded = {x for e in items for x in proc.prepare(e).dedup.sig.title
                   if ref_index._df.get(x, 0) > ref_index.max_postings}
        assert len(crowded) >= 5, crowded
        assert any(v[0].startswith("runcopy") and v[1] for v in ref)

        d = lazy(s, scan_budget=1e12)
        assert decide(d, proc, items) == ref
        assert d.lazy                                   # never indexed the whole window
        assert d.stories._view is not None              # nor its stories
        assert len(d._order) == len(items)              # it holds only what the run added
        assert len(d.stories._order) + len(d.stories._view) == len(ref_index.stories._order)
        # the window's reports it built (candidates), weighed as warm-up weighed them
        built = d.stories._view._reports
        assert sum(1 for r in built.values() if r.f.w is not None) > 20
        for r in built.values():
            if r.f.w is not None:
                full_r = ref_index.stories._by_id[r.id]
                assert (r.f.w, r.f.wsum, r.root, r.t, r.wls, r.title) == (
                    full_r.f.w, full_r.f.wsum, full_r.root, full_r.t, full_r.wls, full_r.title)
        for batch in (1, 25):
            d = lazy(s, scan_budget=1e12)
            assert decide(d, proc, items, batch) == ref
            assert d.lazy and d.stories._view is not None
        # many look-ups: the window is indexed in full midway, then it is the warmed index
        d = lazy(s, scan_budget=1)
        assert decide(d, proc, items, 10) == ref
        assert not d.lazy
        a, b = W.structure(d), W.structure(ref_index)
        for k in a:
            assert a[k] == b[k], k


def test_expire_then_decide_is_the_same(database, entries, monkeypatch):
    proc = W.fill(database, entries)
    monkeypatch.setattr(app_mod, "utcnow", lambda: NOW)
    items = later(entries)
    half = len(items) // 2
    cut = (NOW - timedelta(hours=30)).timestamp()
    with Store.open(database) as s:
        ref_index = full(s)
        ref = decide(ref_index, proc, items[:half])
        ref_index.expire(cut)
        ref += decide(ref_index, proc, items[half:])
        d = lazy(s, scan_budget=1e12)
        got = decide(d, proc, items[:half])
        assert d.expire(cut) == 0 and d.lazy            # remembered, not done yet
        got += decide(d, proc, items[half:])
        assert got == ref
        assert not d.lazy
        a, b = W.structure(d), W.structure(ref_index)   # (as expired: when each was added)
        for k in a:
            assert a[k] == b[k], k


def test_a_window_with_unreadable_or_missing_signatures_is_warmed_instead(database, entries,
                                                                           monkeypatch):
    W.fill(database, entries)
    monkeypatch.setattr(app_mod, "utcnow", lambda: NOW)
    since = NOW - timedelta(seconds=WINDOW)
    with Store.open(database) as s:
        assert StoreWindow.read(s, since, NOW) is not None
        (rowid, sig), = s._all("SELECT id, dedup_sig FROM items WHERE published_at >= ? "
                               "ORDER BY id LIMIT 1", (W.Q.to_ts(NOW - timedelta(hours=2)),))
        parts = sig.split("\t")
        bad = ["x" + sig[1:],                                   # another format
               sig + "\t",                                      # 8 fields
               "\t".join(parts[:1] + ["ABCD" * 8] + parts[2:]),  # an upper-case key
               "\t".join(parts[:1] + ["zz" * 16] + parts[2:]),   # not hex
               "\t".join(parts[:1] + ["ab" * 8] + parts[2:]),    # an 8-byte key
               "\t".join(parts[:2] + [" " + parts[2]] + parts[3:]),       # a leading space
               "\t".join(parts[:2] + [parts[2] + " "] + parts[3:]),       # a trailing space
               "\t".join(parts[:2] + [parts[2].replace(" ", "  ", 1)] + parts[3:]),
               "\t".join(parts[:2] + [parts[2].replace(" ", "\n", 1)] + parts[3:]),
               "\t".join(parts[:6] + ["2"]),                    # an "again" flag not 0/1
               None]
        for b in bad:
            with s.transaction() as c:
                c.execute("UPDATE items SET dedup_sig = ? WHERE id = ?", (b, rowid))
            assert StoreWindow.read(s, since, NOW) is None, b
            d = LazyDeduper(WINDOW)
            d.defer(lambda: warm_lazy(d, s, WINDOW) or warm(d, s, WINDOW))
            d.load()
            assert not d.lazy
        with s.transaction() as c:
            c.execute("UPDATE items SET dedup_sig = ? WHERE id = ?", (sig, rowid))
        assert StoreWindow.read(s, since, NOW) is not None


def test_an_empty_window_and_hostile_headlines(database, entries, monkeypatch):
    """Headlines from strangers: huge, with separators of the scan texts (space, tab, newline,
    U+001F), thousands of distinct words: the same verdicts, looked up in one pass each."""
    monkeypatch.setattr(app_mod, "utcnow", lambda: NOW)
    words = " ".join(f"w{i}x{i * 7919 % 10007}" for i in range(20_000))
    hostile = [Entry("h1", "x", "a " * 50_000, "", "b" * 100_000, NOW, "en"),
               Entry("h2", "x", "\t\n\x1f" * 1000 + "Venezuela Maduro trial", "", "", NOW, "en"),
               Entry("h3", "x", "a " * 50_000, "", "", NOW, "en"),
               Entry("h4", "x", words, "https://h.example/4", words, NOW, "en"),
               Entry("h5", "x", "Venezuela " + words, "", "", NOW, "es")]
    with Store.open(database) as s:
        d = LazyDeduper(WINDOW)
        assert warm_lazy(d, s, WINDOW) == 0 and not d.lazy    # nothing to read lazily
    proc = W.fill(database, entries)
    items = hostile + later(entries)[:40] + hostile
    with Store.open(database) as s:
        ref = decide(full(s), proc, items)
        assert decide(lazy(s, scan_budget=1e12), proc, items, 7) == ref
        assert ref[2][2] == "title"


def same_state(d: LazyDeduper, ref: Deduper, proc, items: list[Entry]) -> None:
    """Every piece of state a decision of these items reads, seen through the lazy merge, is the
    warmed index's: df, the newest postings (ids, in order), the headline-key map per language,
    guid and URL roots; story df, postings, reports per language, gate counts."""
    cap = ref.max_postings
    for e in items:
        p = proc.prepare(e).dedup
        sig = p.sig
        df, post, keys = d._merged(sig)
        for x in sig.title:
            assert df.get(x, 0) == ref._df.get(x, 0), x
            want = ref._post.get(x)
            want = [] if want is None else want if isinstance(want, list) else [want]
            got = post.get(x) or []
            got = got if isinstance(got, list) else [got]
            assert [s.id for s in got[-cap:]] == [s.id for s in want[-cap:]], x
        if len(sig.key) >= 10:
            want = ref._key.get(sig.lang, {}).get(sig.key)
            got = keys.get(sig.lang, {}).get(sig.key)
            assert (got and got.id) == (want and want.id), e.id
        f = p.story or p.story_features(e)
        lang = e.lang
        st, rst = d.stories, ref.stories
        with st._merged(f.terms, lang, gates=sig.title):
            for t in f.terms:
                assert st._df.get(t, 0) == rst._df.get(t, 0), t
                if t in rst._post:
                    assert [r.id for r in st._post[t][-cap:]] == \
                        [r.id for r in rst._post[t][-cap:]], t
            assert st._n[lang] == rst._n[lang]
            for x in sig.title:
                assert st._gate.get(x, 0) == rst._gate.get(x, 0), x
    for guid, root in ref._guid.items():
        assert (d._view.guid_root(guid) or d._guid.get(guid)) == root, guid
    for url, root in ref._url.items():
        assert (d._view.url_root(url) or d._url.get(url)) == root, url


def test_the_lazy_view_is_the_warmed_index(database, entries, monkeypatch):
    """The state itself (not only the verdicts it gave): a window with items fetched exactly at
    its start and just before, the same headline stored in two languages (the other language
    first), a link stored twice with different roots, and a rarity floor below the number of
    reports, so that every report's weight depends on how many came before it."""
    monkeypatch.setattr(StoryIndex.__init__, "__kwdefaults__",
                        {**StoryIndex.__init__.__kwdefaults__, "min_docs": 5})
    proc = W.fill(database, entries)
    monkeypatch.setattr(app_mod, "utcnow", lambda: NOW)
    since = NOW - timedelta(seconds=WINDOW)
    edge = [Entry(f"edge{i}", "edge", f"Edge case {i}: Maduro hearing adjourned in New York",
                  f"https://edge.example/{i}", "", None, "en") for i in range(4)]
    twins = [Entry(f"twin-{lang}", "twin", "Greenland premier rejects Washington purchase offer",
                   "", "", NOW - timedelta(hours=h), lang) for lang, h in (("es", 5), ("en", 4))]
    with Store.open(database) as s:
        for batch, at in ((edge[:2], since), (edge[2:], since - timedelta(microseconds=1)),
                          (twins, NOW - timedelta(hours=3))):
            s.save_processed([proc.decide(e, proc.prepare(e), NOW) for e in batch],
                             fetched_at=at)
        rows = s._all("SELECT id, guid, link, canonical_link FROM items WHERE published_at >= ? "
                      "AND duplicate_of IS NULL AND link <> '' "
                      "ORDER BY COALESCE(published_at, fetched_at), id LIMIT 2",
                      (W.Q.to_ts(since + timedelta(hours=1)),))
        with s.transaction() as c:
            c.execute("UPDATE items SET link = ?, canonical_link = ? WHERE id = ?",
                      (rows[0][2], rows[0][3], rows[1][0]))
        items = later(entries) + [
            Entry("twin-later", "twin", twins[0].title, "", "", NOW, "en"),
            Entry("link-later", "x", "Something else entirely", rows[0][2], "", NOW, "en")]
        ref = full(s)
        got_ref = decide(ref, proc, items)
        d = lazy(s, scan_budget=1e12)
        assert decide(d, proc, items) == got_ref
        assert d.lazy and d.stories._view is not None
        assert "edge0" in ref._guid and "edge2" not in ref._guid
        v = {x[0]: x for x in got_ref}
        assert v["twin-later"][1:3] == ("twin-en", "title")
        assert v["link-later"][1:3] == (rows[0][1], "url")
        same_state(d, ref, proc, items)


# --- the kept snapshot of the window (adapters/window_snap.py) -----------------------------------

def snap_view(s: Store, **kw) -> LazyDeduper:
    d = lazy(s, scan_budget=1e12, **kw)
    assert isinstance(d._view, SnapWindow)
    return d


def newer(entries: list[Entry], at) -> list[Entry]:
    """Items stored after a snapshot was made: new stories, copies of stored ones (so the
    newest postings of crowded features and headline keys mix old and new), a link seen before."""
    out = []
    for i, e in enumerate(entries[::5]):
        k = i % 4
        if k == 0:
            out.append(Entry(f"after{i}", "after", e.title + " - After", "", e.summary, at, e.lang))
        elif k == 1:
            out.append(Entry(f"afterurl{i}", "after", "Something else " + str(i), e.link or
                             f"https://after.example/{i}", "", at, e.lang))
        elif k == 2:        # published before the snapshot's items (sorted among them)
            out.append(Entry(f"afterold{i}", "after", " ".join(reversed(e.title.split())),
                             "", e.summary, (e.published or at) - timedelta(minutes=7), e.lang))
        else:
            out.append(Entry(f"afternew{i}", "after", f"Venezuela oil exports {i} fall in Caracas",
                             f"https://after.example/n{i}", "", at, "en"))
    return out


def test_a_kept_snapshot_brought_up_to_date_is_the_warmed_index(database, entries, monkeypatch):
    """A snapshot made 6 hours earlier (the window has moved: items left it), items stored since
    (merged in warm-up order), then the later items: the warmed index's verdicts and state."""
    proc = W.fill(database, entries)
    then = NOW - timedelta(hours=6)
    monkeypatch.setattr(app_mod, "utcnow", lambda: then)
    with Store.open(database) as s:
        d = snap_view(s)
        assert d._view.rebuilt                          # none kept yet: made and saved
        assert decide(d, proc, later(entries)[:30])     # (decides at `then`: a test of itself)
        extra = newer(entries, NOW - timedelta(hours=2))
        # stored since: decided, except the links seen before, stored as their own roots (as a
        # feed's backlog is): the window's first item with the link stays the one found
        s.save_processed([Processed(e, dedup_sig=proc.prepare(e).dedup.packed())
                          if e.id.startswith("afterurl") else
                          proc.decide(e, proc.prepare(e), NOW) for e in extra],
                         fetched_at=NOW - timedelta(hours=1))
        # a new link stored twice since (each its own root): the first in warm-up order counts
        shared = [Entry(f"shared-{k}", "after", f"Shared link story {k}", "https://after.example/s",
                        "", NOW - timedelta(hours=h), "en") for k, h in (("b", 3), ("a", 4))]
        s.save_processed([Processed(e, dedup_sig=proc.prepare(e).dedup.packed()) for e in shared],
                         fetched_at=NOW - timedelta(hours=1))
    monkeypatch.setattr(app_mod, "utcnow", lambda: NOW)
    items = later(entries) + newer(entries, NOW) + [
        Entry("shared-later", "x", "Something else entirely", "https://after.example/s", "", NOW,
              "en")]
    with Store.open(database) as s:
        ref = full(s)
        want = decide(ref, proc, items)
        assert want[-1][1:3] == ("shared-a", "url")
        d = snap_view(s)
        assert d._view.rebuilt == ""                    # the kept one, brought up to date
        view = d._view
        assert view._dead and view._d_ids                # items left, items came
        assert decide(d, proc, items) == want
        assert any(v[0].startswith("after") and v[1] and v[1].startswith("after")
                   for v in want)                       # found among the items stored since
        same_state(d, ref, proc, items)
        for batch in (1, 25):
            assert decide(snap_view(s), proc, items, batch) == want
        # materialised midway: the warmed index
        d = snap_view(s)
        d.scan_budget = 0
        assert decide(d, proc, items, 10) == want and not d.lazy
        a, b = W.structure(d), W.structure(ref)
        for k in a:
            assert a[k] == b[k], k


def test_a_snapshot_that_cannot_be_trusted_is_rebuilt(database, entries, monkeypatch):
    """Damaged, of another format, a window moved back, items of the window deleted or
    replaced (the same ids), an item that left it deleted, too much changed: rebuilt from the
    items, with the warmed index's verdicts."""
    proc = W.fill(database, entries)
    now = [NOW - timedelta(hours=3)]
    monkeypatch.setattr(app_mod, "utcnow", lambda: now[0])
    items = later(entries)[:120]

    def check(s, rebuilt: bool):
        d = snap_view(s)
        assert bool(d._view.rebuilt) == rebuilt, d._view.rebuilt
        assert decide(d, proc, items) == decide(full(s), proc, items)

    since = NOW - timedelta(seconds=WINDOW)
    with Store.open(database) as s:
        check(s, True)
        check(s, False)
        now[0] = NOW
        check(s, False)                                 # moved on: kept
        data = s.window_snapshot()
        for bad in (data[:-1] + bytes([data[-1] ^ 1]), data[:len(data) // 2],
                    b"sokuho window snapshot 0\n" + data[25:], b"", b"\x00" * 100):
            s.save_window_snapshot(bad)
            check(s, True)
        now[0] = NOW - timedelta(hours=1)               # the clock went back
        check(s, True)
        now[0] = NOW
        check(s, False)
        # an item of the window deleted
        (rowid,), = s._all("SELECT id FROM items WHERE fetched_at >= ? OR published_at >= ? "
                           "ORDER BY id LIMIT 1", (W.Q.to_ts(since), W.Q.to_ts(since)))
        with s.transaction() as c:
            c.execute("DELETE FROM matches WHERE item_id = ?", (rowid,))
            c.execute("DELETE FROM items WHERE id = ?", (rowid,))
        check(s, True)
        # the newest item replaced by another with its id
        last = s.max_item_id()
        row = s._all("SELECT guid, feed, title, link, canonical_link, summary, published_at, "
                     "fetched_at, lang, dedup_sig FROM items WHERE id = ?", (last,))[0]
        with s.transaction() as c:
            c.execute("DELETE FROM matches WHERE item_id = ?", (last,))
            c.execute("DELETE FROM items WHERE id = ?", (last,))
            c.execute("INSERT INTO items (id, guid, feed, title, link, canonical_link, summary, "
                      "published_at, fetched_at, lang, dedup_sig) VALUES (?, ?, ?, ?, ?, ?, ?, "
                      "?, ?, ?, ?)", (last, "replaced", *row[1:]))
        check(s, True)
        check(s, False)
    # an item that left the window since the snapshot was made, deleted
    now[0] = NOW - timedelta(hours=6)
    with Store.open(database) as s:
        check(s, True)
        now[0] = NOW
        gone = s._all("SELECT id FROM items WHERE fetched_at < ? AND published_at >= ? AND "
                      "published_at < ? AND published_at > fetched_at ORDER BY id LIMIT 1",
                      (W.Q.to_ts(since), W.Q.to_ts(since - timedelta(hours=6)),
                       W.Q.to_ts(since)))
        assert gone
        with s.transaction() as c:
            c.execute("DELETE FROM matches WHERE item_id = ?", (gone[0][0],))
            c.execute("DELETE FROM items WHERE id = ?", (gone[0][0],))
        check(s, True)
    # too much changed since: rebuilt rather than merged at every run
    monkeypatch.setattr(window_snap, "_STALE_MIN", 0)
    monkeypatch.setattr(window_snap, "_STALE", 0)
    with Store.open(database) as s:
        extra = newer(entries, NOW)[:5]
        s.save_processed([proc.decide(e, proc.prepare(e), NOW) for e in extra], fetched_at=NOW)
        check(s, True)
        check(s, False)


def test_a_store_made_before_the_snapshot_table(database, entries, monkeypatch):
    """A store of core v7 (signatures, no window_snapshot table): migrated on open (v8), its
    first lazy check makes and keeps a snapshot, the next uses it; the warmed index's verdicts."""
    try:
        from tests.oldschema import older_schema
    except ImportError:  # pragma: no cover
        from oldschema import older_schema
    with older_schema(7):
        proc = W.fill(database, entries)
        with Store.open(database) as s:
            assert not s.has_table("window_snapshot")
    monkeypatch.setattr(app_mod, "utcnow", lambda: NOW)
    items = later(entries)[:150]
    with Store.open(database) as s:
        assert s.has_table("window_snapshot") and s.window_snapshot() is None
        want = decide(full(s), proc, items)
        d = snap_view(s)
        assert d._view.rebuilt and s.window_snapshot() is not None
        assert decide(d, proc, items) == want
        d = snap_view(s)
        assert d._view.rebuilt == ""
        assert decide(d, proc, items) == want
    with Store.open(database, readonly=True) as s:      # read-only: no snapshot made or kept
        assert SnapWindow.open(s, NOW - timedelta(seconds=WINDOW), NOW) is None
        d = lazy(s, scan_budget=1e12)
        assert isinstance(d._view, StoreWindow) and not isinstance(d._view, SnapWindow)
        assert decide(d, proc, items) == want
