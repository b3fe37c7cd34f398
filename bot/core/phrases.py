"""Finding many phrases in a text at once (pure): the engine under the matcher.

Latin-script phrases are matched on whole tokens (so "Cuba" never matches inside "incubator" or
"Cubase", and "Diaz Canel" equals "Díaz-Canel"); other scripts (Japanese has no spaces) by substring.
Typo tolerance: Latin tokens by OSA distance (grows with length), katakana runs by one edit from
aliases of five or more kana. Every occurrence carries its span so callers can mask and measure
distances.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz.distance import OSA

from bot.core.normalize import fold, prep

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


class PhraseIndex:
    def __init__(self, phrases: list[Phrase]):
        self._latin: dict[str, list[tuple[tuple[str, ...], tuple[str, ...], Phrase]]] = {}
        self._fuzzy_tokens: dict[tuple[str, int], list[tuple[str, int, Phrase]]] = {}
        self._cjk: dict[str, list[Phrase]] = {}
        self._kana_fuzzy: dict[int, list[tuple[str, Phrase]]] = {}     # by length
        self._kana_cache: dict[str, list[tuple[Phrase, float]]] = {}
        self._fuzzy_cache: dict[str, list[tuple[Phrase, str, float]]] = {}
        self._fuzzy_seen: set[str] = set()         # words already looked up (hit or not)
        self._fuzzy_hit_words: set[str] = set()    # ... of which these are near an alias
        for p in phrases:
            self._add(p)
        self._exact_tokens = frozenset(self._latin)
        cjk = sorted(self._cjk, key=len, reverse=True)
        self._cjk_re = re.compile("|".join(map(re.escape, cjk))) if cjk else None
        # phrases hidden inside a longer phrase that the regex finds instead (キューバ in キューバリブレ)
        self._nested = {outer: [(outer.find(inner, i), inner)
                                for inner in cjk if inner != outer
                                for i in range(len(outer)) if outer.startswith(inner, i)]
                        for outer in cjk}

    def _add(self, p: Phrase) -> None:
        folded = fold(p.text).strip()
        if not folded:
            return
        if folded.isascii():
            toks = tuple(TOKEN.findall(folded))
            if not toks:
                return
            cased = tuple(re.findall(r"[A-Za-z0-9]+", prep(p.text))) if p.case_sensitive else ()
            self._latin.setdefault(toks[0], []).append((toks, cased, p))
            edits = _max_edits(len(toks[0]), p.fuzzy)
            if len(toks) == 1 and edits:
                self._fuzzy_tokens.setdefault((toks[0][0], len(toks[0])), []).append(
                    (toks[0], edits, p))
        else:
            self._cjk.setdefault(folded, []).append(p)
            if p.fuzzy != "off" and re.fullmatch(r"[ァ-ヺ]+", folded) and len(folded) >= 5:
                self._kana_fuzzy.setdefault(len(folded), []).append((folded, p))

    # ------------------------------------------------------------------ search
    def find(self, text: str, prepped: str | None = None) -> list[Occurrence]:
        """Occurrences of every phrase in `text` (pass `prepped` = prep(text) if already known)."""
        if prepped is None:
            prepped = prep(text)
        folded = prepped.lower()
        out: list[Occurrence] = []
        if self._any_latin(TOKEN.findall(folded)):
            self._find_latin(folded, prepped, out)
        if self._cjk_re is not None and not folded.isascii():
            self._find_cjk(folded, prepped, out)
        if out and len(text) == len(prepped) and text != prepped:
            # show what the item says ("Díaz", "キューバ"), not its folded form, when spans agree
            out = [Occurrence(o.phrase, o.start, o.end, text[o.start:o.end], o.kind, o.score)
                   for o in out]
        elif out and text != prepped:
            out = [o if o.kind == "fuzzy" or fold(o.text) != fold(o.phrase.text) else
                   Occurrence(o.phrase, o.start, o.end, o.phrase.text, o.kind, o.score)
                   for o in out]
        return out

    def _any_latin(self, words: list[str]) -> bool:
        """Cheap first pass (most items mention no alias): could any token start a match?
        Set operations run in C; only words never seen before get a fuzzy lookup."""
        ws = set(words)
        if not ws.isdisjoint(self._exact_tokens):
            return True
        if not self._fuzzy_tokens:
            return False
        if not ws.isdisjoint(self._fuzzy_hit_words):
            return True
        for w in ws - self._fuzzy_seen:
            if len(w) >= 5 and not w.isdigit() and self._fuzzy(w):
                return True
        return False

    def _find_latin(self, folded: str, prepped: str, out: list[Occurrence]) -> None:
        same_len = len(folded) == len(prepped)
        tokens = [(m.group(), m.start(), m.end()) for m in TOKEN.finditer(folded)]
        latin = self._latin
        for i, (tok, start, _end) in enumerate(tokens):
            cands = latin.get(tok)
            if cands:
                for toks, cased, p in cands:
                    end = self._seq_end(tokens, i, toks, folded)
                    if end < 0:
                        continue
                    if p.case_sensitive and same_len and not self._case_ok(prepped[start:end], cased):
                        continue
                    out.append(Occurrence(p, start, end, prepped[start:end], "exact"))
            elif len(tok) >= 5 and not tok.isdigit() and self._fuzzy_tokens:
                for p, matched_alias, score in self._fuzzy(tok):
                    if p.case_sensitive and same_len and not prepped[start].isupper():
                        continue
                    out.append(Occurrence(p, start, _end, prepped[start:_end], "fuzzy", score))

    @staticmethod
    def _seq_end(tokens, i: int, toks: tuple[str, ...], folded: str) -> int:
        k = len(toks)
        if i + k > len(tokens):
            return -1
        for j in range(1, k):
            tok, start, _ = tokens[i + j]
            if tok != toks[j]:
                return -1
            gap = folded[tokens[i + j - 1][2]:start]
            if len(gap) > 3 or not set(gap) <= _GAP_OK:
                return -1
        return tokens[i + k - 1][2]

    @staticmethod
    def _case_ok(found: str, cased: tuple[str, ...]) -> bool:
        words = re.findall(r"[A-Za-z0-9]+", found)
        return words == list(cased) or found.isupper()

    def _fuzzy(self, tok: str) -> list[tuple[Phrase, str, float]]:
        hit = self._fuzzy_cache.get(tok)
        if hit is not None:
            return hit
        res = []
        n = len(tok)
        for length in (n - 2, n - 1, n, n + 1, n + 2):
            for alias_tok, edits, p in self._fuzzy_tokens.get((tok[0], length), ()):
                if abs(length - n) > edits:
                    continue
                d = OSA.distance(tok, alias_tok, score_cutoff=edits)
                if d <= edits:
                    res.append((p, alias_tok, 100.0 * (1 - d / max(n, len(alias_tok)))))
        if len(self._fuzzy_cache) > 200_000:
            self._fuzzy_cache.clear()
            self._fuzzy_seen.clear()
            self._fuzzy_hit_words.clear()
        self._fuzzy_cache[tok] = res
        self._fuzzy_seen.add(tok)
        if res:
            self._fuzzy_hit_words.add(tok)
        return res

    def _find_cjk(self, folded: str, prepped: str, out: list[Occurrence]) -> None:
        found_spans = []
        for m in self._cjk_re.finditer(folded):
            s = m.group()
            for p in self._cjk[s]:
                out.append(Occurrence(p, m.start(), m.end(), prepped[m.start():m.end()], "exact"))
            for off, inner in self._nested.get(s, ()):
                a = m.start() + off
                for p in self._cjk[inner]:
                    out.append(Occurrence(p, a, a + len(inner), prepped[a:a + len(inner)], "exact"))
            found_spans.append((m.start(), m.end()))
        if not self._kana_fuzzy:
            return
        for m in _KATAKANA_RUN.finditer(folded):
            run, a, b = m.group(), m.start(), m.end()
            if any(s < b and a < e for s, e in found_spans):
                continue
            for p, score in self._kana_near(run):
                out.append(Occurrence(p, a, b, prepped[a:b], "fuzzy", score))

    def _kana_near(self, run: str) -> list[tuple[Phrase, float]]:
        hit = self._kana_cache.get(run)
        if hit is not None:
            return hit
        res = []
        n = len(run)
        for length in (n - 1, n, n + 1):
            for alias, p in self._kana_fuzzy.get(length, ()):
                d = OSA.distance(run, alias, score_cutoff=1)
                if d <= 1:
                    res.append((p, 100.0 * (1 - d / max(n, length))))
        if len(self._kana_cache) > 100_000:
            self._kana_cache.clear()
        self._kana_cache[run] = res
        return res
