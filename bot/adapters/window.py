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
from itertools import accumulate
from operator import itemgetter

import ahocorasick

from bot.adapters.store_sql import from_ts
from bot.core.dedup import _EPOCH, SIG_FORMAT, Sig, _count_elements, signature, unpack_sig
from bot.core.model import Entry

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
        ids, urls, sigs = zip(*rows)
        if None in sigs:
            return False
        n = len(sigs)
        # every signature's 7 fields at once (a tab never occurs inside a field)
        joined = "\t".join(sigs)
        if "\n" in joined:
            return False
        fields = joined.split("\t")
        del joined
        if len(fields) != 7 * n or fields[0::7].count(SIG_FORMAT) != n:
            return False
        again = fields[6::7]
        if again.count("") + again.count("1") != n:
            return False
        kk, titles = fields[1::7], fields[2::7]
        if not set(map(len, kk)) <= {0, 32} or "".join(kk).translate(_HEX_DIGITS):
            return False
        check = "\n".join(titles)           # (no newline in any signature: checked above)
        if "  " in check or " \n" in check or "\n " in check or check[:1] == " " \
                or check[-1:] == " ":
            return False                    # features as unpack_sig would not split them
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

    def want(self, terms, keys=()) -> bool:
        """Scan the window for the features not looked up yet; True if it scanned. (Keys are
        looked up in the list of keys, in C, when asked.)"""
        known = self._df
        terms = [x for x in terms if x not in known]
        if not terms:
            return False
        auto = ahocorasick.Automaton()
        for i, x in enumerate(terms):
            if x and not (" " in x or "\n" in x):     # else never a stored feature
                auto.add_word(f" {x} ", i)
        found: list = []
        if len(auto) and self.ids:
            auto.make_automaton()
            found = list(auto.iter(self._text))      # (end offset, pattern), in text order
        counts: dict = {}
        _count_elements(counts, map(_second, found))
        found.sort(key=_second)                     # stable: each pattern's matches in order
        at, cap = 0, self.cap
        for i, x in enumerate(terms):
            n = counts.get(i, 0)
            known[x] = n
            self._ends[x] = [e for e, _ in found[max(at, at + n - cap): at + n]]
            at += n
        return True

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
        keys, h, found, at = self._keys, key.hex(), None, 0
        while True:
            at = keys.find(h, at)
            if at < 0:
                break
            if at % 32:                 # straddling two keys
                at += 1
                continue
            sig = self._decode([self.ids[at // 32]])[0]
            if sig.lang == lang:
                found = sig
                break
            at += 32
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

    def all_sigs(self):
        """Every item, in order: (sig, link, added_at) (the decoded ones are the same objects)."""
        sigs, now, nowts, summary_of = self._sigs, self.now, self.nowts, self.store.summary_of
        bad: list[str] = []
        for r in self.store.index_rows_of(list(self.ids)):
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
