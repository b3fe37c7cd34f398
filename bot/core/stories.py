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
import re
import sys
from collections import Counter, deque
from dataclasses import dataclass
from operator import itemgetter

import Stemmer

from bot.core import concepts as _concepts_mod
from bot.core.dedup import _MONTHS, add_postings, clean_title, drop_postings
from bot.core.normalize import _STOP_SETS, prep

_intern = sys.intern

_EXTRA_STOP = (
    # English function words and newsroom filler
    "a an about above across after again against all also amid among an any around because been "
    "before being between both but can could did do does during each even ever first former "
    "further get gets had he her here him his how if into just last least like made make makes "
    "many may might most much must near next no nor now off once one only or other our out own "
    "per set since so some still such their them then there these they those through thus too "
    "under until up upon very via was we were what when where which while whom why would year "
    "years yet you your week day days today tuesday monday wednesday thursday friday saturday "
    "sunday report reports reported according news update live latest official officials told "
    "tell tells say what's it's i "
    # Spanish
    "este esta estos estas ese esa eso hay han ha fue fueron ser son era eran muy mas menos "
    "cuando donde quien quienes cual cuales tambien segun desde hasta hacia durante contra bajo "
    "otro otra otros otras todo toda todos todas mismo misma dijo dice afirmo informo anuncio "
    "lunes martes miercoles jueves viernes sabado domingo hoy ayer anos ano semana dia dias "
    "e o u ni le les nos me mi tu sus si").split()
# titles, offices and reporting verbs: every political report has them, they say nothing of which
# event it is (Japanese has no spaces: these are cut out of kanji runs before the bigrams)
# "different people in the same role": an office and who holds it (デンマーク首相, Brazil's president,
# President Lula, la presidenta Sheinbaum); offices normalised across wordings
_OFFICE = {"premier": "pm", "prime minister": "pm", "primer ministro": "pm", "primera ministra": "pm",
           "首相": "pm", "president": "president", "presidente": "president",
           "presidenta": "president", "大統領": "president", "foreign minister": "fm",
           "canciller": "fm", "外相": "fm", "defense minister": "dm", "defence minister": "dm",
           "ministro de defensa": "dm", "国防相": "dm", "ambassador": "amb", "embajador": "amb",
           "大使": "amb", "secretary of state": "sos", "国務長官": "sos"}
_OFF = "|".join(sorted(map(re.escape, _OFFICE), key=len, reverse=True))
_HOLDER = re.compile(
    rf"([\u30a1-\u30fa]{{2,}})({_OFF})"                                   # デンマーク首相
    rf"|\b([A-Z][a-z]+)(?:'s)? ({_OFF})\b"                                 # Brazil's president
    rf"|\b(?i:({_OFF}))(?: (?:de|del|of))? ([A-Z][a-z]+)")                 # President Lula


_SEQ = re.compile(r"[a-z][a-z0-9]*|\d+(?:[.,]\d+)*|[\u30a1-\u30fa]{2,}|[\u4e00-\u9fff]+")


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


# every office word of _OFFICE holds one of these (lower-cased): a text without any has no holder
_OFFICE_HINTS = ("presiden", "minist", "premier", "canciller", "ambassador", "embajador",
                 "secretary of state", "首相", "大統領", "外相", "国防相", "大使", "国務長官")
# characters that (?i:) folds onto ASCII letters though lower() does not: such texts take the regex
_ODD_CASE = re.compile("[\u0130\u0131\u017f\u212a]")


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


_ROLES = ("president presidente presidenta presidency presidencia minister ministro ministra "
          "ministry ministerio government gobierno official officials oficial funcionario "
          "spokesman spokeswoman portavoz leader lider statement comunicado announced announces "
          "anuncia anuncio announcement")
STOP = frozenset().union(*_STOP_SETS.values()) | frozenset(_EXTRA_STOP) | frozenset(_ROLES.split())
_JA_STOP = re.compile("大統領|副大統領|首相|長官|大臣|政府|当局|報道官|発表|表明|明らか|会見|"
                      "述べ|語っ|強調|声明|関係者|氏|者|日|時|年|月|米国|同国|今回|現地|一方")

_WORD = re.compile(r"[a-z][a-z0-9]*|\d+(?:[.,]\d+)*")      # on lower-cased text; "x's" -> x, s
_UPPER, _LOWER = re.compile(r"[A-Z]"), re.compile(r"[a-z]")
_WORD_CASED = re.compile(r"[A-Za-z][A-Za-z0-9]*")
# a capitalised word that does not start a sentence, or an acronym; each branch begins with the
# capital and looks behind it, so the search only stops at capitals
_CAPS = re.compile(r"[A-Z](?:(?<=[^\s.!?:;\"'(\[]\s[A-Z])[A-Za-z0-9]*|(?<=\w-[A-Z])[A-Za-z0-9]*"
                   r"|(?<!\w[A-Z])[A-Z]+[0-9]*\b)")
_NUM = re.compile(r"\d+(?:[.,]\d+)*")
_KANJI = re.compile(r"[\u4e00-\u9fff]+")
_KATAKANA = re.compile(r"[\u30a1-\u30fa]{2,}")
# "new sanctions", "nuevas medidas", 新たな制裁: often a further step of a running story, so a
# report with it and one without are less likely one event (a discount, not a veto: outlets
# also say "new" of the very first report)
_NEW = re.compile(r"(?:^|(?<=\s))(?:new|New(?= [a-z])|nuev[oa]s?|Nuev[oa]s?|second|Second|another|"
                  r"renewed|fresh|more|segund[oa]|Segund[oa]|otr[oa]s?|m[aá]s)\b|新たな|新たに|改めて")
# a follow-up said outright ("again", 再び, "otra vez"): beside a report without it, another event
_FOLLOW_UP = re.compile(r"\b(?:again|anew|once more|for a second time|nuevamente|de nuevo|otra vez|"
                        r"por segunda vez|novamente|erneut|wieder|encore)\b|再び|再度|2度目|二度目")


_SNOWBALL = {"en": "english", "es": "spanish", "pt": "portuguese", "fr": "french",
             "de": "german", "it": "italian"}
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


_THOUSANDS = re.compile(r"\d{1,3}(?:[.,]\d{3})+")
_nums: dict[str, str] = {}


def _num(s: str) -> str:
    # 10.000 / 10,000 / 10000 are one figure; 14.6 stays 14.6
    out = _nums.get(s)
    if out is None:
        if _THOUSANDS.fullmatch(s):
            out = s.replace(".", "").replace(",", "")
        else:
            out = s.replace(",", ".")
        if len(_nums) < 100_000:
            _nums[s] = out
    return out


@dataclass(slots=True)
class Features:
    """What one report says, in comparable form (computed from the normalised title/summary)."""

    title_terms: frozenset        # stems / CJK bigrams / numbers (prefixed '#') in the title
    terms: frozenset              # the same over title + summary
    names: frozenset              # capitalised names, acronyms, katakana names, matched aliases
    title_names: frozenset        # names in the headline (none for an ALL-CAPS headline)
    title_nums: frozenset
    nums: frozenset
    months: frozenset
    again: bool
    new: bool = False
    holders: frozenset = frozenset()   # (office, who): デンマーク首相 -> ("pm", "@デンマク")
    title_seq: tuple = ()            # the headline's terms in order (its template)
    topic: frozenset = frozenset()   # terms of the matched watchlist aliases
    surface: dict | None = None   # term -> a word as written (only kept for the item being decided)
    w: dict | None = None         # term -> weight (rarity x place), set by the index
    wsum: float = 0.0

    def __reduce__(self):
        # made in a parser worker: the index keeps each term string once (interned on arrival)
        return _features_from, (self.title_terms, self.terms, self.names, self.title_names,
                                self.title_nums, self.nums, self.months, self.again, self.new,
                                self.holders, self.title_seq, self.topic, self.surface, self.w,
                                self.wsum)


def _fz(xs) -> frozenset:
    return frozenset(map(_intern, xs))


def _features_from(title_terms, terms, names, title_names, title_nums, nums, months, again, new,
                   holders, title_seq, topic, surface, w, wsum) -> "Features":
    if w is not None:
        w = {_intern(k): v for k, v in w.items()}
    return Features(_fz(title_terms), _fz(terms), _fz(names), _fz(title_names), title_nums, nums,
                    months, again, new, frozenset((o, _intern(q)) for o, q in holders),
                    tuple(map(_intern, title_seq)), _fz(topic), surface, w, wsum)


# --- the features stored with a matched item (the store's items.story_sig) --------------------
# Warm-up decodes them instead of recomputing features() from the stored headline and summary.
# Tab-separated fields: the format ("1"), then title_terms, terms, names, title_names,
# title_nums, nums, months (each joined by U+001F: concept terms hold spaces), again and new
# ("1" or ""), holders (office and holder alternately), title_seq (in order), topic.
# pack_features raises ValueError for features it cannot write so (a term holding a separator,
# or empty): the item then has none stored.
STORY_FORMAT = "1"
_SETS = ("title_terms", "terms", "names", "title_names", "title_nums", "nums", "months")
_US = "\x1f"


def _joined(xs) -> str:
    s = _US.join(xs)
    if xs and (s.count(_US) != len(xs) - 1 or "\t" in s or "" in xs):
        raise ValueError("a feature holding a separator, or empty")
    return s


def pack_features(f: Features) -> str:
    """Features as features() made them (before the index weighs them), as one string."""
    return "\t".join((STORY_FORMAT, *(_joined(getattr(f, k)) for k in _SETS),
                      "1" if f.again else "", "1" if f.new else "",
                      _joined([x for pair in sorted(f.holders) for x in pair]),
                      _joined(f.title_seq), _joined(f.topic)))


def _words(s: str) -> list:
    return s.split(_US) if s else []


def unpack_features(packed: str) -> Features:
    """pack_features' string -> Features (terms interned); ValueError when it is not one."""
    p = packed.split("\t")
    if len(p) != 13 or p[0] != STORY_FORMAT or p[8] not in ("", "1") or p[9] not in ("", "1"):
        raise ValueError(f"not stored story features (format {STORY_FORMAT}): {packed[:60]!r}")
    if any(s and (s[0] == _US or s[-1] == _US or _US + _US in s) for s in p[1:]):
        raise ValueError("stored story features: an empty term")
    held = _words(p[10])
    if len(held) % 2:
        raise ValueError("stored story features: an office without its holder")
    return Features(_fz(_words(p[1])), _fz(_words(p[2])), _fz(_words(p[3])), _fz(_words(p[4])),
                    frozenset(_words(p[5])), frozenset(_words(p[6])), _fz(_words(p[7])),
                    p[8] == "1", p[9] == "1",
                    frozenset(zip(held[::2], map(_intern, held[1::2]))),
                    tuple(map(_intern, _words(p[11]))), _fz(_words(p[12])))


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


CONCEPTS_ON = True
_concept_idx: dict = {}


def _concepts(lang) -> dict:
    idx = _concept_idx.get(lang)
    if idx is None:
        idx = _concept_idx[lang] = _concepts_mod.latin_index(_stemmer(lang))
    return idx


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
    only_a = {t for t in a.title_terms - b.terms if t[0] != "#"}
    only_b = {t for t in b.title_terms - a.terms if t[0] != "#"}
    na, nb = a.title_names - b.title_terms, b.title_names - a.title_terms
    if na and nb and (na - b.terms or nb - a.terms):
        # each headline names someone the other headline does not (トランプ氏と / カナダ首相と),
        # one of them never mentioned by the other report at all
        shared = len(a.title_terms & b.title_terms) / min(len(a.title_terms), len(b.title_terms))
        if shared >= NAMES_SHARED:
            return "different names"
    if only_a and only_b:
        shared = len(a.title_terms & b.title_terms) / min(len(a.title_terms), len(b.title_terms))
        # one slot filled differently (reliever / infielder), the rest of the headline the same
        # and in the same order (an outlet adding a detail or rewording is not a template)
        if shared >= 0.7 and len(only_a) <= 2 and len(only_b) <= 2 and \
                _template(a.title_seq, only_a) == _template(b.title_seq, only_b):
            return "same headline, another subject"
    return ""


_second = itemgetter(1)


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
        df, log = self._df, math.log
        w = {}
        title, topic, names = f.title_terms, f.topic, f.names
        for t in f.terms:
            x = log(1.0 + n / (df.get(t, 0) + 1))
            if t in title:
                x *= 2.0
            if t in topic:
                x *= 0.3
            elif t in names:
                x *= 1.5
            w[t] = x
        # fsum: correctly rounded, so the same whatever the order of the terms (a set's order
        # differs between processes and between a set built here and one decoded from the store)
        f.w, f.wsum = w, math.fsum(w.values())
        return f

    def score(self, a: Features, b: Features, dt: float, lang=None) -> tuple[float, list[str]]:
        """Weighted Dice of the two reports' terms, discounted by the time between them."""
        wa, wb = self.weigh(a, lang).w, self.weigh(b, lang).w
        shared = wa.keys() & wb.keys()
        if len(shared - a.topic - b.topic) < 2:
            return 0.0, []            # one word beside the watched subject is not an event
        inter = math.fsum(min(wa[t], wb[t]) for t in shared)       # (order-free, as wsum)
        s = 2 * inter / (a.wsum + b.wsum)
        # closeness in time: outlets report an event within hours of each other; full weight
        # within 6 hours, 0.7 at 36 hours, 0.6 beyond
        s *= 1.0 - 0.3 * min(max(0.0, dt - 6 * 3600) / (30 * 3600), 1.0) - (0.1 if dt > 36 * 3600 else 0.0)
        # strongest first; ties by the term itself (not by set order, which varies per process)
        top = sorted(shared, key=lambda t: (-min(wa[t], wb[t]), t))
        return s, top

    def gate(self, headline_features, df_all: dict) -> bool:
        """Could an unwatched item belong to a watched story? Its headline (the copy detector's
        features) shares `gate_words` words with headlines of the index that are mostly said of
        watched stories (`df_all`: in how many recent headlines of any kind each word is).
        O(headline); in a feed mix most unwatched items stop here."""
        g = self._gate
        n = 0
        for x in g.keys() & headline_features:
            k = g[x]
            if k and 2 * k >= df_all.get(x, 0):
                n += 1
                if n >= self.gate_words:
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
        counts: Counter[Report] = Counter()
        cap = self.max_postings
        for term in probes[: self.probe]:
            counts.update(self._post[term][-cap:])      # counted in C
        need = 2 if len(probes) >= 4 else 1              # one shared rare term is not a story
        self.weigh(f, lang)
        best: tuple[float, Report | None, list[str]] = (0.0, None, [])
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
            s, top = self.score(cand.f, f, abs(cand.t - t), lang)
            if wls != cand.wls:
                s *= 0.85         # one names a watched subject the other does not
            if f.new != cand.f.new:
                s *= 0.85         # "new measures", "second" beside a report without: maybe a further step
            if s > best[0]:
                best = (s, cand, top)
        s, cand, top = best
        if cand is None or s < self.threshold:
            return None
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
