"""Deduper._near's fast path (probes intersected in C, similar()'s first test inlined in the
candidate loop) decides exactly as the plain form it replaced, kept here as the reference."""
from datetime import datetime, timedelta, timezone
from itertools import compress

from hypothesis import given, settings, strategies as st

from bot.core import dedup
from bot.core.dedup import Deduper, DupVerdict, similar
from bot.core.model import Entry

T0 = datetime(2026, 1, 3, 8, 0, tzinfo=timezone.utc)


class Reference(Deduper):
    """_near as it was before the fast path (0bc7c6e)."""

    def _near(self, sig):
        keys = self._key.get(sig.lang) if len(sig.key) >= 10 else None
        same = keys.get(sig.key) if keys is not None else None
        if same is not None and abs(same.t - sig.t) <= self.window:
            return DupVerdict(same.root, "title", 1.0)
        df, post = self._df, self._post
        probes = [f for f in sig.title if f in df]
        if not probes:
            return DupVerdict(None)
        probes.sort()
        if len(probes) > self.probe:
            probes = sorted(probes, key=df.__getitem__)[: self.probe]
        counts = {}
        cap = self.max_postings
        for f in probes:
            lst = post.get(f)
            if lst is None:
                continue
            if lst.__class__ is list:
                for s in (lst[-cap:] if len(lst) > cap else lst):
                    counts[s] = counts.get(s, 0) + 1
            else:
                counts[lst] = counts.get(lst, 0) + 1
        if not counts:
            return DupVerdict(None)
        lang, t, window = sig.lang, sig.t, self.window
        if len(probes) > 2:
            cands = list(compress(counts.keys(), (v > 1 for v in counts.values())))
        else:
            cands = counts
        best = (0.0, None, "")
        for cand in cands:
            if cand.lang != lang or abs(cand.t - t) > window:
                continue
            ok, score, reason = similar(cand, sig)
            if ok and score > best[0]:
                best = (score, cand, reason)
        if best[1] is not None:
            return DupVerdict(best[1].root, best[2], round(best[0], 3))
        return DupVerdict(None)


# a small vocabulary, so that headlines share words often (near copies, rewordings, templates);
# figures, months and capitalised names exercise similar()'s later rules
WORDS = ("maduro court manhattan charges pleads guilty sheinbaum rejects military mexico cuba "
         "blackout grid collapses havana peru congress votes remove president lima oust vote "
         "again second 12 101 2026 january March Alvarado Ricardo Lopez Trump").split()
SUMMARY = ("the court heard charges against maduro in manhattan while mexico rejected military "
           "action and cuba's grid collapsed again").split()

items = st.lists(st.tuples(st.lists(st.sampled_from(WORDS), min_size=1, max_size=12),
                           st.lists(st.sampled_from(SUMMARY), max_size=12),
                           st.integers(0, 80), st.sampled_from(["en", "es"])),
                 min_size=1, max_size=60)


def _stream(spec):
    out = []
    for i, (title, summary, hours, lang) in enumerate(spec):
        out.append(Entry(f"id{i}", f"feed{i % 3}", " ".join(title), f"https://x.example/{i}",
                         " ".join(summary), T0 + timedelta(hours=hours), lang))
    return out


def _decide(cls, entries, **kw):
    d = cls(window=48 * 3600, stories=False, **kw)
    return [d.process(e, T0) for e in entries]


@settings(max_examples=300, deadline=None)
@given(items, st.sampled_from([2, 3, 8]), st.sampled_from([2, 16]))
def test_near_decides_as_the_reference(spec, probe, cap):
    entries = _stream(spec)
    kw = dict(probe=probe, max_postings=cap)
    assert _decide(Deduper, entries, **kw) == _decide(Reference, entries, **kw)


def test_the_reference_comparison_sees_copies_and_rewordings():
    """The stream above really reaches the candidate loop: copies, rewordings, rejections."""
    entries = _stream([
        ("maduro pleads guilty manhattan court charges".split(), [], 0, "en"),
        ("maduro pleads guilty manhattan court charges again".split(), [], 1, "en"),
        ("maduro court manhattan charges 12".split(), SUMMARY, 2, "en"),
        ("maduro court manhattan charges 101".split(), SUMMARY, 3, "en"),
        ("cuba blackout grid collapses havana".split(), SUMMARY, 4, "en"),
        ("cuba blackout grid collapses havana".split(), SUMMARY, 5, "en"),
        ("cuba grid collapses havana blackout second".split(), SUMMARY, 6, "en"),
    ])
    got = _decide(Deduper, entries)
    assert got == _decide(Reference, entries)
    assert {v.reason for v in got} >= {"title", ""} and any(v.duplicate_of for v in got)


def test_probes_tied_on_rarity_are_taken_in_term_order():
    """More shared features than probes, all equally rare: the probes are the first in term
    order (as the recorded decisions were made), whatever the set order. Here the first two
    lead to the headline this one contains (a copy); the last two to one it only half shares."""
    copy_of = Entry("a", "feed0", "alpha bravo charlie delta", "https://x.example/a", "",
                    T0, "en")
    other = Entry("z", "feed1", "xray yankee zulu whisky", "https://x.example/z", "",
                  T0, "en")
    new = Entry("n", "feed2", "alpha bravo charlie delta xray zulu", "https://x.example/n", "",
                T0 + timedelta(hours=1), "en")
    for cls in (Deduper, Reference):
        got = _decide(cls, [copy_of, other, new], probe=2)
        assert got[2].duplicate_of == "a" and got[2].reason == "similar", (cls, got[2])


def _probes_reference(df, title, k):
    """The probe choice as _near made it before (sorted set intersection, then a stable sort by
    df, cut at k)."""
    probes = sorted(df.keys() & set(title))
    if len(probes) > k:
        probes = sorted(probes, key=df.__getitem__)[:k]
    return probes


# CJK bigrams and Latin stems alike; few df values, so that rarity ties are the rule
_FEATS = st.sampled_from(["政府", "首相", "日本", "会談", "ベネ", "ネズ", "maduro", "court", "cuba",
                          "havana", "a", "b", "ab", "z9", "12", "ß", "é"])


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(_FEATS, st.integers(1, 3)), st.lists(_FEATS, unique=True),
       st.sampled_from([frozenset, tuple]), st.integers(1, 9))
def test_probes_are_the_k_rarest_in_term_order(df, feats, kind, k):
    """dedup._probes (filtered and sorted in place) picks the same probes in the same order as
    the sorted-intersection form, whatever order the headline's features come in (a frozenset
    here, a tuple in an indexed Sig), with ties on rarity everywhere."""
    title = kind(feats)
    assert dedup._probes(df, title, k) == _probes_reference(df, title, k)
    assert dedup._probes(df, title[::-1] if kind is tuple else title, k) == \
        _probes_reference(df, title, k)


def _candidates_reference(post, probes, cap):
    """The candidates as _near found them before: every probe's newest postings in one list,
    counted, first seen first; with more than two probes those counted twice or more."""
    flat = []
    for lst in map(post.get, probes):
        if lst.__class__ is list:
            flat.extend(lst[-cap:])
        elif lst is not None:
            flat.append(lst)
    counts = {}
    for s in flat:
        counts[s] = counts.get(s, 0) + 1
    return [s for s, n in counts.items() if n > 1] if len(probes) > 2 else list(counts)


class _Posted:
    """A posted item (hashed by identity, as a Sig)."""

    def __init__(self, n):
        self.n = n

    def __repr__(self):
        return f"S{self.n}"


_POOL = [_Posted(i) for i in range(14)]
# a term's postings: a list of distinct items (a Sig is posted once under each feature), or
# one item alone (as _add_sig keeps the first)
_postings = st.one_of(st.sampled_from(_POOL),
                      st.lists(st.sampled_from(_POOL), min_size=1, max_size=40, unique=True))


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.integers(0, 11), _postings),
       st.lists(st.integers(0, 13), max_size=9, unique=True), st.sampled_from([1, 2, 3, 16]))
def test_candidates_are_the_counted_ones_in_first_seen_order(post, probes, cap):
    """dedup._candidates (the last probe's postings only added to Sigs already counted) gives
    the same candidates in the same order as counting every probe's postings, with probes
    missing from the postings, single items, long and short lists, any cap."""
    got = dedup._candidates(post, probes, cap)
    assert list(got) == _candidates_reference(post, probes, cap)
