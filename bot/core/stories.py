"""Story clustering (pure): the same event from several outlets counts once, even in their own words.

Copy detection (dedup.py) folds the same guid, URL or a lightly edited headline. This module folds
*independently worded* reports of one event: each new item (the same language, within the window,
sharing a watchlist, or both matching none) is compared with the recent reports of the index by the
evidence that makes two reports one event:

- the words they share, title and summary, each weighted by its rarity among the recent items
  (inverse document frequency over the index: "Venezuela" in a Venezuela feed says little,
  "arraigned" or "Guiteras" says a lot); Japanese by kanji/katakana bigrams and katakana names;
- the names they share (capitalised names, acronyms, katakana names, the watchlist aliases that
  matched), counted again on top of the words;
- the figures they share ("553 prisoners");
- the kind of event, in whatever words (concepts.py: "raid" / "bombardea" / 空爆);
- how close in time they were published.

Guards keep different events apart whatever the score: other figures or months in the headlines,
a follow-up ("again", 再び, nuevamente) beside a first report, different people in the same office
(デンマーク首相 / ニールセン首相), and the same headline template about someone or somewhere else
("premier meets X in Copenhagen" / "... Y in Brussels").

Only items a watchlist matched are indexed (the others are never delivered); an unmatched item is
checked against the index only when its headline passes a cheap gate (gate()).

Incremental (decided when the item arrives), explainable (`StoryVerdict.evidence`), bounded: the
candidates come from an inverted index over the item's rarest terms with capped postings, so the
cost per item does not grow with the window.
"""
from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass
from itertools import chain, repeat
from operator import itemgetter

from bot.core.dedup import add_postings, drop_postings
# the features (story_features.py), here too for the modules that read them with the index
from bot.core.story_features import (CONCEPTS_ON, STORY_FORMAT, Features, features,  # noqa: F401
                                     pack_features, unpack_features, _words)


NAMES_SHARED = 0.4     # headline overlap from which other names mean another event


def _unmatched(figures, other) -> bool:
    """A figure of `figures` that `other` neither gives nor rounds (500 rounds 553)."""
    for x in figures:
        if x in other:
            continue
        try:
            v = float(x)
        except ValueError:
            return True
        if not any(_rounds(v, y) for y in other):
            return True
    return False


def _rounds(v: float, y: str) -> bool:
    try:
        w = float(y)
    except ValueError:
        return False
    return v >= 10 and v % 10 == 0 and w > 0 and abs(v - w) <= 0.25 * w


def _template(seq: tuple, slot: set) -> list:
    """The headline with its `slot` words replaced by one placeholder per run."""
    out: list = []
    for t in seq:
        if t in slot:
            if not out or out[-1] is not None:
                out.append(None)
        else:
            out.append(t)
    return out



class Report:
    """One report in the index: its story (root id), language, time, watchlists and features."""

    __slots__ = ("id", "root", "lang", "t", "wls", "f", "title", "gate")

    def __init__(self, id: str, root: str, lang, t: float, wls: frozenset, f: Features,
                 title: str, gate=()):
        self.id, self.root, self.lang, self.t, self.wls, self.f = id, root, lang, t, wls, f
        self.title, self.gate = title, gate


@dataclass(frozen=True, slots=True)
class StoryVerdict:
    root: str                      # the story's first report
    via: str                       # the report it was closest to
    score: float
    evidence: tuple[str, ...]


def conflict(a: Features, b: Features) -> str:
    """Why two reports cannot be one event, or "" (general rules, no word lists per story)."""
    if a.again != b.again:
        return "follow-up event"
    if a.months and b.months and not a.months & b.months:
        return "different months"
    # headline figures that disagree: 4 killed / 6 killed, 553 freed / 120 more freed (a figure
    # the other report gives too, or rounds: "more than 500" beside 553, is no disagreement)
    if a.title_nums and b.title_nums and (_unmatched(a.title_nums, b.nums) or
                                          _unmatched(b.title_nums, a.nums)):
        return "different figures"
    # the same office, held by someone else: each report names a holder the other never mentions
    if a.holders and b.holders:
        for office in {o for o, _ in a.holders} & {o for o, _ in b.holders}:
            qa = {q for o, q in a.holders if o == office}
            qb = {q for o, q in b.holders if o == office}
            if not qa & qb and qa - b.terms and qb - a.terms:
                return "different people in the same role"
    # the same headline template about someone/something else: most of the headlines agree, and
    # each has a word the other report never mentions (Copenhagen / Brussels, reliever / infielder)
    na, nb = a.title_names - b.title_terms, b.title_names - a.title_terms
    if na and nb and (na - b.terms or nb - a.terms):
        # each headline names someone the other headline does not (トランプ氏と / カナダ首相と),
        # one of them never mentioned by the other report at all
        shared = len(a.title_terms & b.title_terms) / min(len(a.title_terms), len(b.title_terms))
        if shared >= NAMES_SHARED:
            return "different names"
    only_a = a.title_terms - b.terms
    if not only_a:
        return ""
    only_b = b.title_terms - a.terms
    if not only_b:
        return ""
    only_a = {t for t in only_a if t[0] != "#"}
    only_b = {t for t in only_b if t[0] != "#"}
    if only_a and only_b:
        shared = len(a.title_terms & b.title_terms) / min(len(a.title_terms), len(b.title_terms))
        # one slot filled differently (reliever / infielder), the rest of the headline the same
        # and in the same order (an outlet adding a detail or rewording is not a template)
        if shared >= 0.7 and len(only_a) <= 2 and len(only_b) <= 2 and \
                _template(a.title_seq, only_a) == _template(b.title_seq, only_b):
            return "same headline, another subject"
    return ""


_second = itemgetter(1)


class _Idf(dict):
    """df -> the idf of a term seen in df reports, log(1 + n / (df + 1)), for one n: a cache
    read in C, worked out on a miss."""

    __slots__ = ("n",)

    def __init__(self, n: int):
        super().__init__()
        self.n = n

    def __missing__(self, df: int) -> float:
        x = self[df] = math.log(1.0 + self.n / (df + 1))
        return x


_IDF: dict[int, _Idf] = {}      # weigh()'s idf tables, by report count (n)


def _strongest(wa: dict, wb: dict, shared) -> list:
    """The shared terms, strongest first; ties by the term itself (not by set order, which
    varies per process)."""
    return sorted(shared, key=lambda t: (-min(wa[t], wb[t]), t))


class StoryIndex:
    """Recent reports, searchable by term. `check` decides, `add` remembers."""

    def __init__(self, window: float = 48 * 3600, *, threshold: float = 0.22,
                 max_postings: int = 16, probe: int = 8, candidates: int = 8,
                 min_docs: int = 200):
        self.window = window
        self.threshold = threshold
        self.max_postings = max_postings
        self.probe = probe
        self.candidates = candidates
        self.min_docs = min_docs          # rarity is judged as if at least this many were seen
        self.gate_words = 2               # headline words an unwatched item must share (gate())
        self._post: dict[str, list[Report]] = {}
        self._df: dict[str, int] = {}
        self._by_id: dict[str, Report] = {}
        self._n: Counter = Counter()        # reports per language (rarity is per language)
        self._gate: dict[str, int] = {}     # headline words of the reports (see gate())
        self._order: deque[tuple[float, Report]] = deque()

    def __len__(self) -> int:
        return len(self._order)

    def idf(self, term: str, lang=None) -> float:
        n = max(self._n[lang], self.min_docs)
        return math.log(1.0 + n / (self._df.get(term, 0) + 1))

    def weigh(self, f: Features, lang) -> Features:
        """Each term's weight: its rarity among the recent reports in the language (idf), twice
        in the headline, x1.5 for a name, x0.3 for the watchlist's own alias words. Computed once
        per report, when it arrives (the rarity of that moment)."""
        if f.w is not None:
            return f
        n = max(self._n[lang], self.min_docs)
        idf = _IDF.get(n)
        if idf is None:
            if len(_IDF) >= 64:
                _IDF.clear()
            idf = _IDF[n] = _Idf(n)
        terms = f.terms
        # each term's rarity, in C (the idf of each df worked out once per n), in term order;
        # then the same multiplications as term by term: x2 in the headline, then x0.3 for
        # the watched subject's words or else x1.5 for a name
        w = dict(zip(terms, map(idf.__getitem__, map(self._df.get, terms, repeat(0)))))
        topic = f.topic
        for t in f.title_terms:
            if t in w:
                w[t] *= 2.0
        for t in topic:
            if t in w:
                w[t] *= 0.3
        for t in f.names:
            if t in w and t not in topic:
                w[t] *= 1.5
        # fsum: correctly rounded, so the same whatever the order of the terms (a set's order
        # differs between processes and between a set built here and one decoded from the store)
        f.w, f.wsum = w, math.fsum(w.values())
        return f

    def score(self, a: Features, b: Features, dt: float, lang=None) -> tuple[float, list[str]]:
        """Weighted Dice of the two reports' terms, discounted by the time between them, and
        the shared terms, strongest first."""
        s, shared = self._dice(a, b, dt, lang)
        if s is None:
            return 0.0, []
        return s, _strongest(a.w, b.w, shared)

    def _dice(self, a: Features, b: Features, dt: float, lang) -> tuple[float | None, set]:
        """score() without the ranking of the shared terms (only the verdict's evidence reads
        it): None when they share one word beside the watched subject, or none."""
        wa, wb = self.weigh(a, lang).w, self.weigh(b, lang).w
        shared = wa.keys() & wb.keys()
        if len(shared - a.topic - b.topic) < 2:
            return None, shared       # one word beside the watched subject is not an event
        # (fsum: order-free, as wsum)
        inter = math.fsum(map(min, map(wa.__getitem__, shared), map(wb.__getitem__, shared)))
        s = 2 * inter / (a.wsum + b.wsum)
        # closeness in time: outlets report an event within hours of each other; full weight
        # within 6 hours, 0.7 at 36 hours, 0.6 beyond
        s *= 1.0 - 0.3 * min(max(0.0, dt - 6 * 3600) / (30 * 3600), 1.0) - (0.1 if dt > 36 * 3600 else 0.0)
        return s, shared

    def gate(self, headline_features, df_all: dict) -> bool:
        """Could an unwatched item belong to a watched story? Its headline (the copy detector's
        features) shares `gate_words` words with headlines of the index that are mostly said of
        watched stories (`df_all`: in how many recent headlines of any kind each word is).
        O(headline); in a feed mix most unwatched items stop here."""
        get, dget, need = self._gate.get, df_all.get, self.gate_words
        n = 0
        for x in headline_features:
            k = get(x)
            if k and 2 * k >= dget(x, 0):
                n += 1
                if n >= need:
                    return True
        return False

    def check(self, id: str, lang, t: float, wls, f: Features, *,
              any_watchlist: bool = False) -> StoryVerdict | None:
        """The story `f` belongs to, or None. `any_watchlist`: an item no watchlist matched may
        join a story of any watchlist (it is never delivered itself)."""
        wls = frozenset(wls)
        df = self._df
        # equally rare terms: in a fixed order (not set order)
        probes = sorted(df.keys() & f.terms)
        if not probes:
            return None
        probes.sort(key=df.__getitem__)
        cap, post = -self.max_postings, self._post
        # counted in C, in the order the postings come (one Counter: one Mapping check)
        counts: Counter[Report] = Counter(chain.from_iterable(
            [post[term][cap:] for term in probes[: self.probe]]))
        need = 2 if len(probes) >= 4 else 1              # one shared rare term is not a story
        self.weigh(f, lang)
        best: tuple[float, Report | None, set] = (0.0, None, set())
        # most_common(k) without heapq's Python loop: the same list (sorted() is stable, as
        # nlargest is documented to be: the first counted comes first among equal counts)
        ranked = sorted(counts.items(), key=_second, reverse=True)[: self.candidates]
        for cand, n in ranked:
            if n < need:
                break
            if cand.id == id or cand.lang != lang or abs(cand.t - t) > self.window:
                continue
            if not any_watchlist and not wls & cand.wls:
                continue
            if conflict(cand.f, f):
                continue
            s, shared = self._dice(cand.f, f, abs(cand.t - t), lang)
            if s is None:
                continue
            if wls != cand.wls:
                s *= 0.85         # one names a watched subject the other does not
            if f.new != cand.f.new:
                s *= 0.85         # "new measures", "second" beside a report without: maybe a further step
            if s > best[0]:
                best = (s, cand, shared)
        s, cand, shared = best
        if cand is None or s < self.threshold:
            return None
        top = _strongest(cand.f.w, f.w, shared)
        root = self._by_id.get(cand.root)
        if root is not None and root is not cand and conflict(root.f, f):
            return None           # close to one report, but not the same event as the story's first
        return StoryVerdict(cand.root, cand.id, round(s, 3),
                            self._evidence(f, cand, top, abs(cand.t - t), wls))

    def _evidence(self, f: Features, cand: Report, top: list[str], dt: float,
                  wls: frozenset) -> tuple[str, ...]:
        sf = f.surface or {}
        def show(ts):
            return ", ".join(dict.fromkeys(sf.get(t, t.lstrip("#=@")) for t in ts))
        names = [t for t in top if t in f.names and t in cand.f.names][:5]
        nums = [t for t in top if t.startswith("#")][:3]
        words = [t for t in top if t not in names and not t.startswith("#")][:6]
        out = [f"closest report: {cand.title[:80]!r} ({cand.id})"]
        if names:
            out.append("shared names: " + show(names))
        if words:
            out.append("shared words: " + show(words))
        if nums:
            out.append("shared figures: " + show(nums))
        hours = dt / 3600
        out.append(f"published {hours:.1f}h apart" if hours >= 0.05 else "published together")
        shared_wl = sorted(wls & cand.wls)
        if shared_wl:
            out.append("watchlists: " + ", ".join(shared_wl))
        return tuple(out)

    def add(self, id: str, root: str, lang, t: float, wls, f: Features, title: str = "",
            added_at: float | None = None, gate=()) -> None:
        if id in self._by_id:
            return
        self.weigh(f, lang)
        # what stays in memory: the weights (their keys are the terms), headline sets, figures
        f.terms, f.surface = f.w.keys(), None
        r = Report(id, root, lang, t, frozenset(wls), f, title, gate)
        self._by_id[id] = r
        g = self._gate
        for x in gate:
            g[x] = g.get(x, 0) + 1
        self._n[lang] += 1
        add_postings(self._post, self._df, f.terms, r, self.max_postings)
        self._order.append((added_at if added_at is not None else t, r))

    def conflicts(self, id: str, f: Features) -> str:
        """Why the report `id` (when indexed) and `f` cannot be one event, or ""."""
        r = self._by_id.get(id)
        return conflict(r.f, f) if r is not None else ""

    def root_of(self, id: str) -> str | None:
        r = self._by_id.get(id)
        return r.root if r is not None else None

    def expire(self, before: float) -> int:
        n = 0
        post, df = self._post, self._df
        while self._order and self._order[0][0] < before:
            _, r = self._order.popleft()
            n += 1
            if self._by_id.get(r.id) is r:
                del self._by_id[r.id]
            self._n[r.lang] -= 1
            g = self._gate
            for x in r.gate:
                left = g.get(x, 0) - 1
                if left <= 0:
                    g.pop(x, None)
                else:
                    g[x] = left
            drop_postings(post, df, r.f.terms, r)
        return n
