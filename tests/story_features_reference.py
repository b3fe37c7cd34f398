"""The story features as stories.py computed them before issue 9's speed work (one Python step
per token): the reference the fast features() of bot/core/story_features.py must equal, field by
field (tests/test_story_features.py). Regexes and word lists are shared with the module."""
from __future__ import annotations

import re

import Stemmer

from bot.core import concepts as _concepts_mod
from bot.core.dedup import _MONTHS, clean_title
from bot.core.normalize import prep
from bot.core.story_features import (_CAPS, _FOLLOW_UP, _JA_STOP, _KANJI, _KATAKANA, _NEW, _NUM,
                                     _THOUSANDS, _WORD, _WORD_CASED, STOP, Features,
                                     _ODD_CASE, _OFF, _OFFICE, _OFFICE_HINTS, _SNOWBALL,
                                     _intern)

_SEQ = re.compile(r"[a-z][a-z0-9]*|\d+(?:[.,]\d+)*|[\u30a1-\u30fa]{2,}|[\u4e00-\u9fff]+")
_UPPER, _LOWER = re.compile(r"[A-Z]"), re.compile(r"[a-z]")
CONCEPTS_ON = True
_concept_idx: dict = {}


def _concepts(lang) -> dict:
    idx = _concept_idx.get(lang)
    if idx is None:
        idx = _concept_idx[lang] = _concepts_mod.latin_index(_stemmer(lang))
    return idx


_stemmers: dict = {}


def _stemmer(lang):
    """words -> stems, in one call: Snowball (PyStemmer, C) for the language; other languages:
    the first six letters."""
    st = _stemmers.get(lang)
    if st is None:
        name = _SNOWBALL.get(lang or "")
        if name:
            sb = Stemmer.Stemmer(name)
            sb.maxCacheSize = 50000
            st = lambda ws, _s=sb.stemWords: list(map(_intern, _s(ws)))   # noqa: E731
        else:
            st = lambda ws: [_intern(w[:6]) for w in ws]                   # noqa: E731
        _stemmers[lang] = st
    return st
_HOLDER = re.compile(
    rf"([\u30a1-\u30fa]{{2,}})({_OFF})"                                   # デンマーク首相
    rf"|\b([A-Z][a-z]+)(?:'s)? ({_OFF})\b"                                 # Brazil's president
    rf"|\b(?i:({_OFF}))(?: (?:de|del|of))? ([A-Z][a-z]+)")                 # President Lula



def _holders(text: str, lang, low: str | None = None) -> set:
    out = set()
    if low is None:
        low = text.lower()
    for hint in _OFFICE_HINTS:
        if hint in low:
            break
    else:
        if text.isascii() or not _ODD_CASE.search(text):
            return out
    for m in _HOLDER.finditer(text):
        q, office = (m.group(1), m.group(2)) if m.group(1) else \
            (m.group(3), m.group(4)) if m.group(3) else (m.group(6), m.group(5))
        office = _OFFICE.get(office.lower(), _OFFICE.get(office))
        if office and q:
            key = "@" + q if not q.isascii() else _stemmer(lang)([q.lower()])[0]
            out.add((office, _intern(key)))
    return out



def _num(s: str) -> str:
    if _THOUSANDS.fullmatch(s):
        return s.replace(".", "").replace(",", "")
    return s.replace(",", ".")


def _title_seq(title: str, lang) -> tuple:
    """The headline's terms in reading order (stems, '#figures', katakana names, kanji pairs)."""
    out: list[str] = []
    words: list[tuple[int, str]] = []
    low = title.lower()
    for tok in _SEQ.findall(low if low.isascii() else _JA_STOP.sub(" ", low)):
        c = tok[0]
        if c.isdigit():
            out.append("#" + _num(tok))
        elif c.isascii():
            if len(tok) > 1 and tok not in STOP:
                words.append((len(out), tok))
                out.append("")
        elif "\u30a1" <= c <= "\u30fa":
            out.append("@" + tok)
        elif len(tok) > 1:
            out.extend(a + b for a, b in zip(tok, tok[1:]))
        else:
            out.append(tok)
    if words:
        for (i, _), st in zip(words, _stemmer(lang)([w for _, w in words])):
            out[i] = st
    return tuple(out)


def _latin(text: str, terms: set, names: set, nums: set, months: set, surface: dict | None,
           caps_ok: bool, lang=None) -> None:
    """Latin-script words of `text` (normalised, case kept): stems (stop words dropped) into
    terms, figures into nums (and terms as '#n'), capitalised names into names. Regexes, set
    operations and one stemmer call per text: no per-character Python."""
    low = text.lower()
    toks = _WORD.findall(low)
    if not toks:
        return
    figures = [t for t in toks if t[0].isdigit()]
    if figures:
        fs = [_num(t) for t in figures]
        nums.update(fs)
        terms.update(_intern("#" + n) for n in fs)
    words = [t for t in toks if t[0].isalpha() and len(t) > 1 and t not in STOP]
    if not words:
        return
    months.update(_MONTHS.intersection(words))
    stem = _stemmer(lang)
    stems = stem(words)
    terms.update(stems)
    if CONCEPTS_ON:
        cidx = _concepts(lang)
        terms.update(cidx[x] for x in stems if x in cidx)
    if surface is not None:
        found = _WORD_CASED.findall(text)
        cased = dict(zip(map(str.lower, found), found))
        # each stem's first word as written; what surface already has stays
        _keep_first(surface, zip(reversed(stems), map(cased.get, reversed(words), reversed(words))))
    if caps_ok:
        # capitalised words that do not just start a sentence, and acronyms (US, EU, NATO)
        caps = [c.lower() for c in _CAPS.findall(text)]
        caps = [c for c in caps if c not in STOP and len(c) > 1]
        if caps:
            names.update(stem(caps))


def _keep_first(surface: dict, pairs) -> None:
    """surface.setdefault(k, v) for each pair, the earliest pair of a key winning (the pairs
    come last-first: a later dict entry overwrites): in C."""
    new = dict(pairs)
    new.update(surface)
    surface.update(new)


def _cjk(text: str, terms: set, names: set, surface: dict | None) -> None:
    if CONCEPTS_ON:
        terms.update(_concepts_mod.JA_CONCEPT[w] for w in _concepts_mod.JA.findall(text))
    # kanji runs by character bigrams (Japanese has no spaces: 送電網 ~ 送電, 電網); a katakana
    # run is one word, usually a name (マドゥロ, フェンタニル): kept whole
    runs = _KANJI.findall(_JA_STOP.sub("　", text) if text else text)
    if runs:
        bigrams: dict = {}
        for run in reversed(runs):      # each bigram -> the first run that has it
            if len(run) == 1:
                terms.add(_intern(run))
            else:
                bigrams.update(dict.fromkeys(map(_intern, map(str.__add__, run, run[1:])), run))
        terms.update(bigrams)
        if surface is not None:
            _keep_first(surface, bigrams.items())
    for k in _KATAKANA.findall(text):
        kk = _intern("@" + k)
        names.add(kk)
        terms.add(kk)
        if surface is not None:
            surface[kk] = k


def features(title: str, summary: str, lang=None, topic=(), *,
             keep_surface: bool = False) -> Features:
    """Features of a report. `title`/`summary`: normalised text with case kept (normalize.prep);
    `topic`: the texts that matched a watchlist alias: every item of the watchlist shares the
    topic, so those words say little about the event."""
    title = clean_title(title)
    summary = summary[:400]
    surface: dict | None = {} if keep_surface else None
    upper, lower = len(_UPPER.findall(title)), len(_LOWER.findall(title))
    shouting = upper + lower >= 8 and upper > 0.8 * (upper + lower)
    tt, tn, tnum, months = set(), set(), set(), set()
    _latin(title, tt, tn, tnum, months, surface, not shouting, lang)
    if not title.isascii():
        _cjk(title, tt, tn, surface)
    tnum.update(n for n in _NUM.findall(title))
    tnum = {_num(n) for n in tnum}
    at, an, anum = set(tt), set(tn), set(tnum)
    smonths: set = set()
    if summary:
        _latin(summary, at, an, anum, smonths, surface, True, lang)
        if not summary.isascii():
            _cjk(summary, at, an, surface)
        anum.update(_num(n) for n in _NUM.findall(summary))
    top: set = set()
    for text in topic:
        text = prep(text)
        _latin(text, top, set(), set(), set(), None, False, lang)
        if not text.isascii():
            _cjk(text, top, set(), None)
    low = title.lower()
    return Features(frozenset(tt), frozenset(at), frozenset(an), frozenset(tn), frozenset(tnum),
                    frozenset(anum), frozenset(months), bool(_FOLLOW_UP.search(low)),
                    bool(_NEW.search(title)),
                    frozenset(_holders(title, lang) | _holders(summary, lang)),
                    _title_seq(title, lang),
                    frozenset(top & at), surface)

