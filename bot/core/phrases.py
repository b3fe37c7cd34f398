"""Finding many phrases in a text at once (pure): the engine under the matcher.

Latin-script phrases are matched on whole tokens (so "Cuba" never matches inside "incubator" or
"Cubase", and "Diaz Canel" equals "Díaz-Canel"); other scripts (Japanese has no spaces) by substring.
Typo tolerance: Latin tokens by OSA distance (grows with length), katakana runs by one edit from
aliases of five or more kana. Every occurrence carries its span so callers can mask and measure
distances.

How (one pass in C per text, Python only for what was found):
* Latin phrases: an Aho-Corasick automaton (pyahocorasick) over a byte image of the folded text in
  which letters and digits stay, the gap characters " -',/&" become a space and everything else
  "|"; a gap of 2-3 spaces is squeezed to one, so a phrase is found as "<b>tok tok<b>" with <b> a
  space or "|" (whole tokens, gaps of at most 3 gap characters).
* other scripts: a second automaton over the folded text; of overlapping hits the leftmost-longest
  ones are kept (as a regex alternation would), with the phrases nested inside them.
* typos: each distinct token of 5+ characters that no phrase starts with is looked up once (OSA
  against the aliases with its first letter and a near length) and remembered, hit or not.
"""
from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass

import ahocorasick

from rapidfuzz.distance import OSA

from bot.core.normalize import ascii_words, fold, prep

TOKEN = re.compile(r"[a-z0-9]+")
_KATAKANA_RUN = re.compile(r"[ァ-ヺ]{4,}")
_GAP_OK = frozenset(" -',/&")


@dataclass(frozen=True, slots=True)
class Phrase:
    """Something to look for. `ref` is opaque to this module (the matcher's bookkeeping)."""

    text: str              # as written by the user
    ref: object
    case_sensitive: bool = False
    fuzzy: str = "off"     # "off", "auto" (long aliases only), "on"


@dataclass(frozen=True, slots=True)
class Occurrence:
    phrase: Phrase
    start: int
    end: int
    text: str              # the matched text, in normalised (prepped) form
    kind: str              # "exact" or "fuzzy"
    score: float = 100.0


def _max_edits(n: int, mode: str) -> int:
    if mode == "off":
        return 0
    if mode == "on":
        return 0 if n < 5 else 1 if n < 11 else 2
    return 0 if n < 7 else 1 if n < 12 else 2      # auto: short aliases stay exact


# the Latin haystack: ASCII letters/digits kept, gap characters -> " ", anything else -> "|"
_GAP_OK_BYTES = frozenset(ord(c) for c in _GAP_OK)
_HAY = bytes(c if (0x30 <= c <= 0x39 or 0x61 <= c <= 0x7A) else 0x20 if c in _GAP_OK_BYTES else 0x7C
             for c in range(256))
_SQUEEZE = re.compile(rb"(?<! ) {2,3}(?! )")      # a 2-3 character gap -> one space
_BOUNDS = ((" ", " "), (" ", "|"), ("|", " "), ("|", "|"))
_FUZZY_CACHE_MAX = 200_000
_KANA_CACHE_MAX = 100_000


def _automaton(keys: dict[str, object]):
    if not keys:
        return None
    a = ahocorasick.Automaton()
    for k, v in keys.items():
        a.add_word(k, v)
    a.make_automaton()
    return a


class PhraseIndex:
    def __init__(self, phrases: list[Phrase], primary: Callable[[Phrase], bool] | None = None):
        """`primary`: the phrases `may_find` answers for (all of them when None)."""
        # Latin: token sequence -> [(order, cased tokens, phrase)]; order = position in `phrases`
        self._seqs: dict[tuple[str, ...], list[tuple[int, tuple[str, ...], Phrase]]] = {}
        first: set[str] = set()
        fuzzy_tokens: dict[tuple[str, int], list[tuple[str, int, Phrase]]] = {}
        self._cjk: dict[str, list[Phrase]] = {}
        self._kana_fuzzy: dict[int, list[tuple[str, Phrase]]] = {}     # by length
        for order, p in enumerate(phrases):
            folded = fold(p.text).strip()
            if not folded:
                continue
            if folded.isascii():
                toks = tuple(TOKEN.findall(folded))
                if not toks:
                    continue
                cased = tuple(re.findall(r"[A-Za-z0-9]+", prep(p.text))) if p.case_sensitive else ()
                self._seqs.setdefault(toks, []).append((order, cased, p))
                first.add(toks[0])
                edits = _max_edits(len(toks[0]), p.fuzzy)
                if len(toks) == 1 and edits:
                    fuzzy_tokens.setdefault((toks[0][0], len(toks[0])), []).append((toks[0], edits, p))
            else:
                self._cjk.setdefault(folded, []).append(p)
                if p.fuzzy != "off" and re.fullmatch(r"[ァ-ヺ]+", folded) and len(folded) >= 5:
                    self._kana_fuzzy.setdefault(len(folded), []).append((folded, p))
        keys = {}
        for toks in self._seqs:
            core = " ".join(toks)
            for b, a in _BOUNDS:
                keys[b + core + a] = (len(core), toks)
        self._latin_ac = _automaton(keys)
        # primary phrases by their longest token (may_find): each of a phrase's tokens is a word
        # of a text it occurs in
        self._primary_words: dict[bytes, list[frozenset[bytes]]] = {}
        for toks, lst in self._seqs.items():
            if any(primary is None or primary(p) for _o, _c, p in lst):
                self._primary_words.setdefault(max(toks, key=len).encode(), []).append(
                    frozenset(t.encode() for t in toks))
        self._first = frozenset(t.encode() for t in first)
        # typo candidates of a word with first letter c and length n: aliases of length n-2..n+2
        # within their edit budget (in that order, as they are tried)
        self._fuzzy_by: dict[tuple[str, int], list[tuple[str, int, Phrase]]] = {}
        for c, n in {(c, n + d) for c, n in fuzzy_tokens for d in range(-2, 3)}:
            lst = [(t, e, p) for length in range(n - 2, n + 3)
                   for t, e, p in fuzzy_tokens.get((c, length), ()) if abs(length - n) <= e]
            if lst:
                self._fuzzy_by[(c, n)] = lst
        # the same by (first byte, length), for words of 5+ characters (shorter ones have none)
        self._typo_buckets = {(ord(c), n): lst for (c, n), lst in self._fuzzy_by.items() if n >= 5}
        self._fuzzy_seen: set[bytes] = set()       # words looked up (hit or not)
        self._quiet: set[bytes] = set()     # ... with no typo hit, and no primary phrase's word
        self._fuzzy_cache: dict[bytes, list[tuple[Phrase, str, float]]] = {}   # ... the hits
        # katakana runs looked up: run -> [(alias phrase, score)], and the runs with any
        self._kana: tuple[dict[str, list[tuple[Phrase, float]]], set[str]] = ({}, set())
        cjk = list(self._cjk)
        self._cjk_ac = _automaton({s: s for s in cjk})
        # may_find's automaton: primary phrases (True; one nested in another is a key of its
        # own, a substring of the text too), and (False) what every katakana run within one
        # edit of a typo-tolerant alias (5+ kana) holds: the alias's first or last two kana
        # (three for 7+ kana: one edit leaves the first three or the last three in place)
        keys: dict[str, bool] = {}
        for alias in (a for lst in self._kana_fuzzy.values() for a, _p in lst):
            k = 3 if len(alias) >= 7 else 2
            keys[alias[:k]] = keys[alias[-k:]] = False
        keys.update((s, True) for s in cjk if any(primary is None or primary(p)
                                                   for p in self._cjk[s]))
        # (one automaton: the value of a primary phrase is True, of an edge-kana key the key)
        self._may_kana_keys = [k for k, v in keys.items() if v is False]
        self._may_ac = _automaton({k: True if v else k for k, v in keys.items()})
        # phrases inside a longer phrase, which the leftmost-longest scan finds instead
        # (キューバ in キューバリブレ)
        self._nested = {outer: [(outer.find(inner, i), inner)
                                for inner in sorted(cjk, key=len, reverse=True) if inner != outer
                                for i in range(len(outer)) if outer.startswith(inner, i)]
                        for outer in cjk}

    # ------------------------------------------------------------------ search
    def may_find(self, prepped: tuple[str, ...], words: set[bytes] | None = None,
                 folded: str | None = None) -> bool:
        """False only when `find` gives no occurrence of a primary phrase, exact or typo, in any
        of the prepped texts: the common case (no candidate at all) costs a few C calls over the
        texts joined (a line feed between them is a boundary for every kind of phrase: no
        phrase is found across it that `find` would not find in one text). `words`: the Latin
        words of all the texts (set(ascii_words(...)) of them lower-cased), when known;
        `folded`: the texts lower-cased and joined by " " or a line feed, when known (a phrase
        found across that boundary only makes the answer "maybe", never a wrong "no")."""
        if folded is None and (words is None or not all(map(str.isascii, prepped))):
            folded = "\n".join([p.lower() for p in prepped])     # (ASCII text: the words say all)
        if words is None:
            words = set(ascii_words(folded))
        rest = words.difference(self._quiet)     # new words, typos, primary phrases' words
        if rest:
            cache = self._typo_cache(rest, quiet=True)
            if cache and not cache.keys().isdisjoint(rest):
                return True
            for w in self._primary_words.keys() & rest:
                for toks in self._primary_words[w]:
                    if toks <= words:
                        return True
        if folded is not None and self._may_ac is not None and not folded.isascii():
            # a katakana alias's first or last kana: only a katakana run holding one (every
            # key found, overlapping ones too) can be within one edit of an alias
            found = None
            for _end, key in self._may_ac.iter(folded):
                if key is True:
                    return True
                if found is None:
                    found = {key}
                else:
                    found.add(key)
            if found:
                runs = {r for r in _KATAKANA_RUN.findall(folded) if any(k in r for k in found)}
                if runs and not self._kana_cache(runs)[1].isdisjoint(runs):
                    return True
        return False

    def find(self, text: str, prepped: str | None = None) -> list[Occurrence]:
        """Occurrences of every phrase in `text` (pass `prepped` = prep(text) if already known)."""
        if prepped is None:
            prepped = prep(text)
        folded = prepped.lower()
        out: list[Occurrence] = []
        # an occurrence shows what the item says ("Díaz", "キューバ"), not its folded form, when
        # the spans agree (the same length): its text is cut from `shown`
        shown = text if len(text) == len(prepped) else prepped
        self._find_latin(folded, prepped, out, shown)
        if self._cjk_ac is not None and not folded.isascii():
            self._find_cjk(folded, prepped, out, shown)
        if out and shown is not text:
            out = [o if o.kind == "fuzzy" or fold(o.text) != fold(o.phrase.text) else
                   Occurrence(o.phrase, o.start, o.end, o.phrase.text, o.kind, o.score)
                   for o in out]
        return out

    def _find_latin(self, folded: str, prepped: str, out: list[Occurrence],
                    shown: str | None = None) -> None:
        if shown is None:
            shown = prepped
        found: list[tuple[int, int, int, Occurrence]] = []     # (start, order, -, occurrence)
        same_len = len(folded) == len(prepped)
        # the haystack's tokens (a phrase's tokens are whole ones of them, its first included)
        words = ascii_words(folded)
        if self._latin_ac is not None and not self._first.isdisjoint(words):
            hay = folded.encode("ascii", "replace").translate(_HAY)
            squeezed = _SQUEEZE.sub(b" ", hay) if b"  " in hay else hay
            hits = list(self._latin_ac.iter("|" + squeezed.decode("ascii") + "|"))
            if hits:
                shift = self._shifts(hay) if squeezed is not hay else None
                for end, (n, toks) in hits:     # end: last index of the key (a boundary)
                    start = end - n - 1          # in `squeezed` (the "|" pad is index 0)
                    stop = end - 1
                    if shift is not None:
                        start, stop = shift(start), shift(stop)
                    for order, cased, p in self._seqs[toks]:
                        if p.case_sensitive and same_len and not self._case_ok(prepped[start:stop],
                                                                               cased):
                            continue
                        found.append((start, order, 0, Occurrence(p, start, stop,
                                                                  shown[start:stop], "exact")))
        if self._fuzzy_by:
            # this text's own references: parser threads may share the index, and a full cache
            # is replaced, not cleared, so a text never sees it emptied half-way
            cache = self._typo_cache(words)        # cache: the words near an alias
            if not cache.keys().isdisjoint(words):
                for m in TOKEN.finditer(folded):
                    hit = cache.get(m.group().encode())
                    if not hit:
                        continue
                    start, end = m.span()
                    for j, (p, _alias, score) in enumerate(hit):
                        if p.case_sensitive and same_len and not prepped[start].isupper():
                            continue
                        found.append((start, j, 0, Occurrence(p, start, end, shown[start:end],
                                                              "fuzzy", score)))
        if found:
            found.sort(key=lambda f: (f[0], f[1]))
            out.extend(f[3] for f in found)

    def _typo_cache(self, words, quiet: bool = False
                    ) -> dict[bytes, list[tuple[Phrase, str, float]]]:
        """The typo cache, every one of `words` looked up (new words once each). `quiet`
        (may_find): the words this call looked up that have no typo hit and are no primary
        phrase's word join the quiet set (only once looked up: a word another thread is
        still looking up is in the seen set but not yet in the cache)."""
        seen, cache = self._fuzzy_seen, self._fuzzy_cache
        if not seen.issuperset(words):
            if len(seen) > _FUZZY_CACHE_MAX:
                seen, cache = self._fuzzy_seen, self._fuzzy_cache = set(), {}
            new = set(words).difference(seen)
            seen.update(new)
            buckets, first = self._typo_buckets, self._first
            for w in new:      # only a word with a bucket and no phrase starting with it
                lst = buckets.get((w[0], len(w)))
                if lst is not None and w not in first and not w.isdigit():
                    self._fuzzy(w, lst, cache)
            if quiet:
                q = self._quiet
                if len(q) > _FUZZY_CACHE_MAX:
                    q = self._quiet = set()
                new = new.difference(self._primary_words)      # (set - dict: a loop over new)
                q.update(new.difference(cache) if cache else new)
        return cache

    @staticmethod
    def _shifts(hay: bytes):
        """Maps a position in the squeezed haystack back to the text (squeezed gaps before it)."""
        at: list[int] = []        # squeezed position of each squeezed gap's space
        removed: list[int] = []   # characters removed up to and including that gap
        total = 0
        for m in _SQUEEZE.finditer(hay):
            at.append(m.start() - total)
            total += m.end() - m.start() - 1
            removed.append(total)

        def shift(pos: int) -> int:
            i = bisect_left(at, pos)        # gaps strictly before pos
            return pos + (removed[i - 1] if i else 0)
        return shift

    @staticmethod
    def _case_ok(found: str, cased: tuple[str, ...]) -> bool:
        words = re.findall(r"[A-Za-z0-9]+", found)
        return words == list(cased) or found.isupper()

    @staticmethod
    def _fuzzy(word: bytes, lst: list[tuple[str, int, Phrase]], cache: dict) -> None:
        """Aliases within their typo budget of `word` (a token of 5+ characters no phrase starts
        with; `lst`: its bucket), into the cache when there are any."""
        n = len(word)
        res = []
        tok = word.decode("ascii")
        for alias_tok, edits, p in lst:
            d = OSA.distance(tok, alias_tok, score_cutoff=edits)
            if d <= edits:
                res.append((p, alias_tok, 100.0 * (1 - d / max(n, len(alias_tok)))))
        if res:
            cache[word] = res

    def _find_cjk(self, folded: str, prepped: str, out: list[Occurrence],
                  shown: str | None = None) -> None:
        if shown is None:
            shown = prepped
        found_spans = []
        hits = list(self._cjk_ac.iter(folded))
        if hits:
            # leftmost-longest, non-overlapping (as a regex alternation, longest first, scans)
            cands = sorted((end + 1 - len(s), -len(s), s) for end, s in hits)
            pos = 0
            for a, _neg, s in cands:
                if a < pos:
                    continue
                b = a + len(s)
                for p in self._cjk[s]:
                    out.append(Occurrence(p, a, b, shown[a:b], "exact"))
                for off, inner in self._nested.get(s, ()):
                    i = a + off
                    for p in self._cjk[inner]:
                        out.append(Occurrence(p, i, i + len(inner), shown[i:i + len(inner)],
                                              "exact"))
                found_spans.append((a, b))
                pos = b
        if not self._kana_fuzzy:
            return
        runs = _KATAKANA_RUN.findall(folded)
        if not runs:
            return
        runs = set(runs)
        cache, near = self._kana_cache(runs)
        if runs.isdisjoint(near):
            return
        for m in _KATAKANA_RUN.finditer(folded):
            run, a, b = m.group(), m.start(), m.end()
            if any(s < b and a < e for s, e in found_spans):
                continue
            for p, score in cache[run]:
                out.append(Occurrence(p, a, b, shown[a:b], "fuzzy", score))

    def _kana_cache(self, runs: set[str]):
        """(run -> near aliases, the runs with any), every one of `runs` looked up."""
        cache, near = self._kana                 # this text's references (see _find_latin)
        if len(cache) > _KANA_CACHE_MAX:
            cache, near = self._kana = ({}, set())
        for run in runs.difference(cache):
            cache[run] = found = self._kana_near(run)
            if found:
                near.add(run)
        return cache, near

    def _kana_near(self, run: str) -> list[tuple[Phrase, float]]:
        res = []
        n = len(run)
        for length in (n - 1, n, n + 1):
            for alias, p in self._kana_fuzzy.get(length, ()):
                d = OSA.distance(run, alias, score_cutoff=1)
                if d <= 1:
                    res.append((p, 100.0 * (1 - d / max(n, length))))
        return res
