"""The stored duplicate window, read on demand (core/lazydedup.WindowView over the store).

Read once: each item of the window (the warm-up's order) as one line "id TAB key TAB ␠features␠"
(Store.window_lines: the headline key and the title features of the stored signature), joined
into one text, with each item's canonical link beside it. A batch of headlines to decide is then
looked up in one Aho-Corasick pass over that text (pyahocorasick, in C): every feature as
" feature " (features hold no spaces, so one never matches inside another, and only the title
field of the line holds spaces), every headline key as "TAB key TAB". The matches give each
feature's df and its newest postings; only those items are decoded from the store.
"""
from __future__ import annotations

import logging
from datetime import datetime
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from itertools import accumulate, groupby, repeat
from sys import intern as _intern
from operator import itemgetter

import ahocorasick

from bot.adapters.store_sql import from_ts
from bot.core.dedup import _EPOCH, SIG_FORMAT, Sig, _count_elements, signature, unpack_sig
from bot.core.model import Entry
from bot.core.normalize import prep
from bot.core.stories import (STORY_FORMAT, Report, StoryIndex, _words, unpack_features)
from bot.core.stories import features as story_features

log = logging.getLogger("sokuho.window")

_second = itemgetter(1)
_EMPTY_HASH = hash("")


def stored_sig(r: tuple, now: datetime, nowts: float, summary_of, bad: list | None = None
               ) -> tuple[Sig, str, float, bool]:
    """A stored item's (Store.index_rows row) copy signature as warm-up indexes it: decoded
    from the stored one (recomputed from the headline when there is none or it cannot be read:
    then its message goes to `bad`), its summary read on first need. -> (sig, canonical link
    ("" without a link), added_at, recomputed)."""
    _, guid, title, link, published, lang, dup_of, url, packed, _ = r
    pub = from_ts(published)
    when = pub or now
    ts = (when - _EPOCH).total_seconds()        # the time signature() gives (Deduper._time)
    root = dup_of or guid
    sig = None
    if packed is not None:
        try:
            sig = unpack_sig(packed, guid, root, lang, ts)
        except ValueError as e:
            if bad is not None:
                bad.append(f"{guid}: {e}")
    redone = sig is None
    if redone:                          # none stored, or unreadable: from the headline
        sig = signature(Entry(guid, "", title, link, "", pub, lang), ts)
        sig.root = root
    sig.summary_from(summary_of)
    return sig, (url if link else ""), min(when.timestamp(), nowts), redone


_HEX_DIGITS = str.maketrans("", "", "0123456789abcdef")
_NO_KEY = " " * 32          # an item without a headline key, in the fixed-width key text


def parse_rows(rows: list[tuple]) -> tuple | None:
    """Rows (id, link, dedup_sig, ...) of the window -> (ids, links, headline keys (hex or ""),
    title features (space-joined)), or None when a signature is missing or is not one the scan
    reads exactly as unpack_sig does (checked on all of them at once)."""
    ids, urls, sigs = list(zip(*rows))[:3]
    if None in sigs:
        return None
    n = len(sigs)
    # every signature's 7 fields at once (a tab never occurs inside a field)
    joined = "\t".join(sigs)
    # no newline; no field starting or ending with a space, no two spaces: the title
    # features as unpack_sig splits them (the other fields never hold spaces either)
    if "\n" in joined or "  " in joined or "\t " in joined or " \t" in joined:
        return None
    fields = joined.split("\t")
    del joined
    if len(fields) != 7 * n or fields[0::7].count(SIG_FORMAT) != n:
        return None
    again = fields[6::7]
    if again.count("") + again.count("1") != n:
        return None
    kk, titles = fields[1::7], fields[2::7]
    if not set(map(len, kk)) <= {0, 32} or "".join(kk).translate(_HEX_DIGITS):
        return None
    if titles[0][:1] == " ":            # (the first row's title follows no tab)
        return None
    return ids, urls, kk, titles


class StoreWindow:
    """The window's items as stored when read(); WindowView for LazyDeduper.

    Held in memory: the scan text (~80 bytes an item), the items' ids, where each starts in the
    text, their headline keys as one fixed-width text, and the first item of each canonical
    link by the link's hash: ~15 MB at 100,000 items, no object per item."""

    def __init__(self, store, since: datetime, now: datetime):
        self.store, self.since, self.now, self.nowts = store, since, now, now.timestamp()
        self.ids = array("q")               # in warm-up order
        self._sorted = array("q")           # the same, sorted: is an id in the window
        self._starts = array("q", [0])      # where each item's " features " start in _text
        self._text = ""
        self._keys = ""                     # each item's key (hex), 32 characters each
        self._urls: dict[int, int] = {}     # hash of a canonical link -> index of its first item
        self._df: dict[str, int] = {}
        self._ends: dict[str, list[int]] = {}      # feature -> its newest matches (text offsets)
        self._post: dict[str, list[Sig]] = {}
        self._sigs: dict[int, Sig] = {}
        self._first: dict[tuple, Sig | None] = {}
        self._keyat: dict[bytes, list[int]] = {}   # key -> the items holding it, in order
        self.cap = 16

    @classmethod
    def read(cls, store, since: datetime, now: datetime) -> "StoreWindow | None":
        """None when an item of the window has no stored signature, or one that the scan
        would not read as unpack_sig does (written before store v6, or damaged): warm the index
        instead (which recomputes those)."""
        self = cls(store, since, now)
        texts, keys, hashes = [], [], array("q")
        chunks = store.window_sigs(since)
        try:
            for rows in chunks:
                if not self._add(rows, texts, keys, hashes):
                    return None
        finally:
            chunks.close()
        self._text = " " + " \n ".join(texts) + " " if texts else ""
        self._keys = "".join(keys)
        self._sorted = array("q", sorted(self.ids))
        n = len(hashes)
        self._urls = dict(zip(reversed(hashes), range(n - 1, -1, -1)))   # the first of each
        self._urls.pop(_EMPTY_HASH, None)
        return self

    def _add(self, rows: list[tuple], texts: list, keys: list, hashes: array) -> bool:
        parsed = parse_rows(rows)
        if parsed is None:
            return False
        ids, urls, kk, titles = parsed
        lines = " \n ".join(titles)
        self.ids.extend(ids)
        texts.append(lines)
        keys.append("".join([k or _NO_KEY for k in kk]))
        hashes.extend(map(hash, urls))
        ends = accumulate(map((3).__add__, map(len, titles)), initial=self._starts[-1])
        next(ends)                  # (the previous chunk's end: there already)
        self._starts.extend(ends)
        return True

    def __len__(self) -> int:
        return len(self.ids)

    # --- look-ups -------------------------------------------------------------------------------

    def want(self, terms, keys=()) -> int:
        """Scan the window for the features and headline keys not looked up yet; returns the
        cost: the postings matched, and the pass over the text as one per 300 characters."""
        known = self._df
        terms = [x for x in terms if x not in known]
        keys = [k for k in keys if k not in self._keyat]
        if keys:
            found = _scan(self._keys, [k.hex() for k in keys], "", "", " ")
            for k, (_, ends) in zip(keys, found):
                # an item's key: a match aligned on a 32-character slot
                self._keyat[k] = [e // 32 for e in ends if e % 32 == 31]
        if not terms:
            return 0
        newest, cost = self._ends, len(self._text) // 300
        for x, (n, ends) in zip(terms, _scan(self._text, terms, " ", " ", "\n", self.cap)):
            known[x] = n
            newest[x] = ends
            cost += n
        return cost

    def unknown(self, terms, keys=()) -> bool:
        known, kk = self._df, self._keyat
        return any(x not in known for x in terms) or any(k not in kk for k in keys)

    def release(self) -> None:
        self._text = self._keys = ""
        self._urls, self._df, self._ends, self._keyat, self._first = {}, {}, {}, {}, {}
        self._starts = array("q", [0])

    def df(self, term: str) -> int:
        n = self._df.get(term)
        if n is None:
            self.want((term,))
            n = self._df[term]
        return n

    def postings(self, term: str, cap: int) -> list[Sig]:
        out = self._post.get(term)
        if out is None:
            self.df(term)
            ids, starts = self.ids, self._starts
            out = self._post[term] = self._decode(
                [ids[bisect_right(starts, e) - 1] for e in self._ends[term][-cap:]])
        return out[-cap:]

    def key_first(self, lang, key: bytes) -> Sig | None:
        k = (lang, key)
        if k in self._first:
            return self._first[k]
        if key not in self._keyat:
            self.want((), (key,))
        found = None
        for i in self._keyat[key]:
            sig = self._decode([self.ids[i]])[0]
            if sig.lang == lang:
                found = sig
                break
        self._first[k] = found
        return found

    def _has(self, rowid: int) -> bool:
        ids = self._sorted
        i = bisect_left(ids, rowid)
        return i < len(ids) and ids[i] == rowid

    def guid_root(self, guid: str) -> str | None:
        row = self.store.guid_row(guid)
        if row is None or not self._has(row[0]):
            return None
        return row[1] or guid

    def __contains__(self, guid: str) -> bool:
        return self.guid_root(guid) is not None

    def url_root(self, url: str) -> str | None:
        i = self._urls.get(hash(url))
        if i is None:                   # no item of the window has this link
            return None
        sig = self._decode([self.ids[i]])[0]
        if sig.url != url:              # another link with the same hash: ask the store
            first = [r for r in self.store.with_link(url, self.since) if self._has(r)]
            if not first:
                return None
            sig = self._decode(first[:1])[0]
        return sig.root

    def _all_ids(self) -> list[int]:
        return list(self.ids)

    def all_sigs(self):
        """Every item, in order: (sig, link, added_at) (the decoded ones are the same objects)."""
        sigs, now, nowts, summary_of = self._sigs, self.now, self.nowts, self.store.summary_of
        bad: list[str] = []
        for r in self.store.index_rows_of(self._all_ids()):
            sig = sigs.get(r[0])
            if sig is None:
                sig, url, added, _ = stored_sig(r, now, nowts, summary_of, bad)
                sig.compact()
            else:
                url, added = sig.url, sig.added
            yield sig, url, added
        if bad:
            log.warning("duplicate index: %d stored signature(s) could not be read and were "
                        "recomputed from the headline (first: %s)", len(bad), bad[0])

    # --- decoding -------------------------------------------------------------------------------

    def _decode(self, rowids: list[int]) -> list[Sig]:
        sigs = self._sigs
        missing = [i for i in rowids if i not in sigs]
        if missing:
            now, nowts, summary_of = self.now, self.nowts, self.store.summary_of
            for r in self.store.index_rows_of(missing):
                sig, url, added, _ = stored_sig(r, now, nowts, summary_of)
                sig.compact()
                if url and url == sig.id:
                    url = sig.id
                sig.url = url
                sig.added = added if added != sig.t else sig.t
                sigs[r[0]] = sig
        return [sigs[i] for i in rowids]


_US = "\x1f"                # between story terms (stories.pack_features)
_SCANS = 3                  # StoryWindow: scans before the terms are indexed in memory


class StoryWindow:
    """The window's matched items as the story index would hold them (StoryWindowView for
    LazyStoryIndex): read once (the rows, a few percent of the window), scanned for just the
    terms a decision needs; a report is built only when it is a candidate, with the weights the
    story index gave it when warm-up added it (the rarity among the reports before it)."""

    def __init__(self, store, now: datetime, rows: list, hits: dict):
        self.store, self.now, self.nowts = store, now, now.timestamp()
        self._rows = rows               # index_rows of the matched items, in warm-up order
        self._hits = hits               # guid -> [(watchlist, matched text)]
        self._feats: dict[int, object] = {}     # row index -> Features (decoded or recomputed)
        self._reports: dict[int, Report] = {}
        self._pending: dict[int, int] = {}      # id(features) -> row, reports not weighed yet
        self.min_docs = 200                     # (the story index's: set by attach)
        self.spent = 0                          # what its scans cost (StoreWindow.want's units)
        self._by_guid = {r[1]: i for i, r in reversed(list(enumerate(rows)))}
        self._langs = []                # each row's language (as the index keys it)
        self._nbefore = array("q")      # same-language rows before each row
        seen: Counter = Counter()
        terms, gates = [], []
        for i, r in enumerate(rows):
            lang = _intern(r[5]) if r[5].__class__ is str else r[5]
            self._langs.append(lang)
            self._nbefore.append(seen[lang])
            seen[lang] += 1
            terms.append(self._terms(i, r))
            gates.append(r[8].split("\t", 3)[2])      # the copy signature's title features
        self._n = seen
        self._terms_text = _US + f"{_US}\n{_US}".join(terms) + _US
        self._terms_starts = array("q", accumulate(map((3).__add__, map(len, terms)),
                                                   initial=0))
        self._gate_text = " " + " \n ".join(gates) + " "
        self._terms, self._gate_rows = terms, gates
        self._scans = 0                         # look-ups by scanning the texts so far
        self._rows_of: dict | None = None       # then indexed in memory (index())
        self._df: dict[str, int] = {}
        self._ends: dict[str, list[int]] = {}   # term -> the rows holding it, in order
        self._gate: dict[str, int] = {}
        self._post: dict[str, list] = {}

    @classmethod
    def read(cls, store, since: datetime, now: datetime) -> "StoryWindow":
        hits = store.recent_hits(since)
        rows = store.index_rows_matched(since) if hits else []
        return cls(store, now, [r for r in rows if hits.get(r[1])], hits)

    def _terms(self, i: int, r: tuple) -> str:
        """The row's story terms as one string (features recomputed, as warm-up does, when
        none are stored or they cannot be read)."""
        packed = r[9]
        # what unpack_features accepts (no field starting or ending with U+001F, none holding
        # two in a row), and no newline (the scan text's)
        if packed is not None and not ("\n" in packed or "\t\x1f" in packed
                                       or "\x1f\t" in packed or "\x1f\x1f" in packed
                                       or packed[-1:] == _US):
            p = packed.split("\t")
            if (len(p) == 13 and p[0] == STORY_FORMAT and p[8] in ("", "1")
                    and p[9] in ("", "1") and not len(_words(p[10])) % 2):
                return p[2]
        f = self._features(i)
        joined = _US.join(f.terms)
        if joined.count(_US) != len(f.terms) - 1 or "\n" in joined or "" in f.terms:
            raise ValueError("a story term holding a separator")
        return joined

    def __len__(self) -> int:
        return len(self._rows)

    def _features(self, i: int):
        f = self._feats.get(i)
        if f is None:
            r = self._rows[i]
            f = None
            if r[9] is not None:
                try:
                    f = unpack_features(r[9])
                except ValueError:
                    pass
            if f is None:                   # as add() computes them at warm-up
                matched = self._hits.get(r[1], ())
                summary = self.store.summary_of(r[1])
                f = story_features(prep(r[2]), prep(summary[:400]) if summary else "",
                                   r[5], {t for _, t in matched})
            self._feats[i] = f
        return f

    # --- look-ups -------------------------------------------------------------------------------

    def want(self, terms=(), gates=()) -> bool:
        """Scan for the story terms and headline (gate) features not looked up yet."""
        terms = [x for x in terms if x not in self._df]
        gates = [x for x in gates if x not in self._gate]
        if not (terms or gates):
            return False
        if self._rows_of is None and self._scans < _SCANS:
            # a few batches (a feed or two with news): scanned, cheaper than indexing it all
            self._scans += 1
            starts, text = self._terms_starts, self._terms_text
            if terms:
                self.spent += len(text) // 300
            for x, (n, ends) in zip(terms, _scan(text, terms, _US, _US, "\n")):
                self._df[x] = n
                self._ends[x] = list(map((-1).__add__, map(bisect_right, repeat(starts), ends)))
                self.spent += n
            if gates:
                for x, (n, _) in zip(gates, _scan(self._gate_text, gates, " ", " ", " \n", 0)):
                    self._gate[x] = n
            return True
        if self._rows_of is None:
            self._index()
        rows_of, none = self._rows_of, []
        for x in terms:
            # (a term holding a separator of the stored terms is never one of them)
            rows = rows_of.get(x, none) if x and "\n" not in x else none
            self._df[x] = len(rows)
            self._ends[x] = rows
            self.spent += 1
        for x in gates:
            self._gate[x] = self._gates.get(x, 0) if x and "\n" not in x else 0
        return bool(terms or gates)

    def _index(self) -> None:
        """Each term's rows (in order) and each headline feature's number of rows, in memory."""
        rows_of: dict[str, list[int]] = {}
        for i, t in enumerate(self._terms):
            if t:
                for x in t.split(_US):
                    rows_of.setdefault(x, []).append(i)
        gate: dict = {}
        full = [g for g in self._gate_rows if g]
        if full:
            _count_elements(gate, " ".join(full).split(" "))
        self._rows_of, self._gates = rows_of, gate
        self._terms_text = self._gate_text = ""
        self.spent += len(rows_of)

    def df(self, term: str) -> int:
        if term not in self._df:
            self.want((term,))
        return self._df[term]

    def gate(self, x: str) -> int:
        if x not in self._gate:
            self.want((), (x,))
        return self._gate[x]

    def n(self, lang) -> int:
        return self._n[lang]

    def postings(self, term: str, cap: int) -> list:
        out = self._post.get(term)
        if out is None:
            self.df(term)
            out = self._post[term] = [self.report(i) for i in self._ends[term][-cap:]]
        return out[-cap:]

    def index_of(self, guid: str) -> int | None:
        return self._by_guid.get(guid)

    def report(self, i: int) -> Report:
        """Row i's report as the story index holds it. Its weights (the rarity among the
        reports before it, as when warm-up added it) are computed when first needed
        (weigh_base, or prefetch_reports for several in one scan)."""
        rep = self._reports.get(i)
        if rep is None:
            r = self._rows[i]
            f = self._features(i)
            sig, _, _, _ = stored_sig(r, self.now, self.nowts, self.store.summary_of)
            sig.compact()
            matched = self._hits.get(r[1], ())
            rep = self._reports[i] = Report(r[1], r[6] or r[1], self._langs[i], sig.t,
                                            frozenset(w for w, _ in matched), f, r[2],
                                            sig.title)
            if f.w is None:
                self._pending[id(f)] = i
        return rep

    def prefetch_reports(self, reports) -> None:
        rows = [self._pending[id(r.f)] for r in reports if id(r.f) in self._pending]
        if rows:
            self.want({t for i in rows for t in self._feats[i].terms})
            for i in rows:
                self._weigh(i)

    def weigh_base(self, f) -> bool:
        """Weigh `f` if it is a report of the window not weighed yet; False if it is not one."""
        i = self._pending.get(id(f))
        if i is None or self._feats.get(i) is not f:
            return False
        self._weigh(i)
        return True

    def _weigh(self, i: int) -> None:
        f = self._feats[i]
        self._pending.pop(id(f), None)
        if f.w is not None:
            return
        self.want(f.terms)
        at, ends = i, self._ends
        lang = self._langs[i]
        StoryIndex.weigh(_Rarity({t: bisect_left(ends[t], at) for t in f.terms},
                                 {lang: self._nbefore[i]}, self.min_docs), f, lang)
        f.terms, f.surface = f.w.keys(), None       # as StoryIndex.add keeps them

    def entries(self):
        """Every report's (added_at, id, root, lang, t, wls, features, title, gate), in
        order: the features weighed already or not (then weighed as they are added)."""
        now, nowts, summary_of = self.now, self.nowts, self.store.summary_of
        for i, r in enumerate(self._rows):
            rep = self._reports.get(i)
            if rep is not None:
                f = rep.f
                if id(f) in self._pending and f.w is None:
                    self._pending.pop(id(f))
                t, gate = rep.t, rep.gate
            else:
                f = self._features(i)
                sig, _, _, _ = stored_sig(r, now, nowts, summary_of)
                sig.compact()
                t, gate = sig.t, sig.title
            when = from_ts(r[4]) or now
            matched = self._hits.get(r[1], ())
            yield (min(when.timestamp(), nowts), r[1], r[6] or r[1], self._langs[i], t,
                   {w for w, _ in matched}, f, r[2], gate)


class _Rarity:
    """What StoryIndex.weigh reads (df, reports per language), for one report's add time."""

    __slots__ = ("_df", "_n", "min_docs")

    def __init__(self, df: dict, n: dict, min_docs: int):
        self._df, self._n, self.min_docs = df, n, min_docs


def _scan(text: str, terms: list, left: str, right: str, bad: str,
          keep: int | None = None) -> list[tuple[int, list[int]]]:
    """Each term's number of matches and their offsets (the end of `left term right`) in
    `text`, in text order (`keep`: the last so many only). A term holding a character of `bad`,
    `left` or `right` is never in the text as a term: none."""
    auto = ahocorasick.Automaton()
    for i, x in enumerate(terms):
        if x and not any(c in x for c in bad + left + right):
            auto.add_word(f"{left}{x}{right}", i)
    out: list[tuple[int, list[int]]] = [(0, [])] * len(terms)
    if len(auto):
        auto.make_automaton()
        found = list(auto.iter(text))           # (end offset, term), in text order: in C
        counts: dict = {}
        _count_elements(counts, map(_second, found))
        found.sort(key=_second)                 # stable: each term's matches stay in order
        at = 0
        for i in sorted(counts):
            n = counts[i]
            grp = found[at + n - keep if keep is not None and n > keep else at: at + n]
            out[i] = (n, [e for e, _ in grp])
            at += n
    return out
