"""What one report says, in comparable form: the story features (pure; see stories.py).

`features(title, summary, lang, topic)` reads a report's normalised headline and summary into
sets of terms (Snowball stems, '#figures', Japanese kanji bigrams and '@katakana' names, concept
terms), names, figures and months, the headline's terms in reading order (its template), the
office holders it names and whether it reads as a follow-up or a further step. Each step is a few
C calls (re.findall, set operations, one stemmer call per text): no per-character or per-word
Python loop. The words as written (`Features.surface`, shown in a verdict's evidence) are worked
out only when a verdict asks for them.

`pack_features` / `unpack_features`: the features as the store keeps them with a matched item
(items.story_sig), decoded at warm-up instead of recomputed.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import partial
from itertools import chain
from operator import add, is_not

import Stemmer

from bot.core import concepts as _concepts_mod
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
    # (an office word starts with no katakana: a katakana run is tried whole, from its start)
    rf"(?<![\u30a1-\u30fa])([\u30a1-\u30fa]{{2,}}+)({_OFF})"               # デンマーク首相
    rf"|\b([A-Z][a-z]+)(?:'s)? ({_OFF})\b"                                 # Brazil's president
    rf"|\b(?i:({_OFF}))(?: (?:de|del|of))? ([A-Z][a-z]+)")                 # President Lula



# every office word of _OFFICE holds one of these (lower-cased): a text without any has no holder;
# an office word starts at most _HINT_AT characters before the first hint in it
_OFFICE_HINTS = ("presiden", "minist", "premier", "canciller", "ambassador", "embajador",
                 "secretary of state", "首相", "大統領", "外相", "国防相", "大使", "国務長官")
_HINT_AT = max(min(o.find(h) for h in _OFFICE_HINTS if h in o) for o in _OFFICE)
_HINT_FIRST = re.compile("|".join(map(re.escape, _OFFICE_HINTS)))
# what a holder's words before its office word are made of (_HOLDER's first two branches)
_HOLDER_CHARS = ("'" + "".join(map(chr, range(0x41, 0x5B))) + "".join(map(chr, range(0x61, 0x7B)))
                 + "".join(map(chr, range(0x30A1, 0x30FB))))
_OFFICE_AT = re.compile(_OFF)
# characters that (?i:) folds onto ASCII letters though lower() does not (and the one whose
# lower() is longer): in a text holding one, positions in the lower-cased text are not the text's
_ODD_CASE = re.compile("[\u0130\u0131\u017f\u212a]")


def _holders(text: str, lang, low: str | None = None) -> set:
    """The (office, holder) pairs a text names: デンマーク首相, Brazil's president, President Lula."""
    out = set()
    if low is None:
        low = text.lower()
    if text.isascii() or not _ODD_CASE.search(text):
        # every holder holds an office word, at the same place in `low` (one char per char, each
        # letter (?i:)-equal to its lower-case), not before the first hint less _HINT_AT; a
        # holder's words before the office hold no " " but the last (\b([A-Z][a-z]+)(?:'s)?
        # office, katakana+office): the search starts past the space before them
        hint = _HINT_FIRST.search(low)        # (the first hint: one pass, not one per hint)
        if hint is None:
            return out
        m = _OFFICE_AT.search(low, max(hint.start() - _HINT_AT, 0))
        if m is None:
            return out
        # a holder's words before the office word: Latin letters and "'" then one space
        # (Brazil's president), or katakana (デンマーク首相): the search starts where the run of
        # such characters before the first office word begins
        k = m.start()
        if k and text[k - 1] == " ":
            k -= 1
        start = len(text[:k].rstrip(_HOLDER_CHARS))
    else:
        start = 0
    get = _OFFICE.get
    for q1, o1, q2, o2, o3, q3 in _HOLDER.findall(text, start):
        q, office = (q1, o1) if q1 else (q2, o2) if q2 else (q3, o3)
        office = get(office.lower(), get(office))
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


class _Stems(dict):
    """word -> stem (interned) for one language, read in C (`map(stems.__getitem__, words)`);
    a miss asks the stemmer (Snowball via PyStemmer, C; other languages: the first six
    letters). Bounded: emptied when full."""

    def __init__(self, stem_word):
        super().__init__()
        self._stem_word = stem_word

    def __missing__(self, word: str) -> str:
        out = _intern(self._stem_word(word))
        if len(self) >= 50_000:
            self.clear()
        self[word] = out
        return out


def _first_six(word: str) -> str:
    return word[:6]


def _stemmer(lang):
    """words -> stems, in one call: Snowball (PyStemmer, C) for the language; other languages:
    the first six letters."""
    st = _stemmers.get(lang)
    if st is None:
        name = _SNOWBALL.get(lang or "")
        stems = _Stems(Stemmer.Stemmer(name).stemWord if name else _first_six)
        st = _stemmers[lang] = lambda ws, _get=stems.__getitem__: list(map(_get, ws))  # noqa: E731
    return st


_THOUSANDS = re.compile(r"\d{1,3}(?:[.,]\d{3})+")


class _Figures(dict):
    """A figure as written -> as compared (10.000 / 10,000 / 10000 are one figure; 14.6 stays
    14.6): a cache read in C (`map(_num, figures)`), worked out on a miss."""

    def __missing__(self, s: str) -> str:
        if _THOUSANDS.fullmatch(s):
            out = s.replace(".", "").replace(",", "")
        else:
            out = s.replace(",", ".")
        if len(self) < 100_000:
            self[s] = out
        return out


_nums = _Figures()
_num = _nums.__getitem__


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



# --- extraction -------------------------------------------------------------------------------
# _WORD's tokens (on lower-cased text), the words and the figures apart: findall gives (word, "")
# or ("", figure) pairs, zip(*pairs) the two columns
_TOK = re.compile(r"([a-z][a-z0-9]*)|(\d+(?:[.,]\d+)*)")
# a lower-cased Latin token that is no term: stop words, single letters ('' fills zip's columns)
_DROP = STOP | frozenset("abcdefghijklmnopqrstuvwxyz") | {""}
# the headline's tokens in reading order: words, figures, katakana names, kanji runs
_SEQ = re.compile(r"[a-z][a-z0-9]*|\d+(?:[.,]\d+)*|[\u30a1-\u30fa]{2,}|[\u4e00-\u9fff]+")


class _Pairs(dict):
    """A headline token's terms in its sequence: a kanji run -> its character pairs (a run of
    one: itself), None (a word dropped) -> none, any other term -> itself. Read in C, cached."""

    def __missing__(self, tok):
        if tok is None:
            out = ()
        elif len(tok) > 1 and "\u4e00" <= tok[0] <= "\u9fff":
            out = tuple(map(str.__add__, tok, tok[1:]))
        else:
            out = (tok,)
        if len(self) >= 100_000:
            self.clear()
        self[tok] = out
        return out


_PAIRS = _Pairs()
# kanji terms in one pass: each pair inside a run (overlapping), a run of one kanji itself
_KANJI_TERM = re.compile(r"(?=([\u4e00-\u9fff]{2}|(?<![\u4e00-\u9fff])[\u4e00-\u9fff]))")
_NOT_UPPER = bytes(b for b in range(256) if not 65 <= b <= 90)
_NOT_LOWER = bytes(b for b in range(256) if not 97 <= b <= 122)
_not_none = partial(is_not, None)
_JA_CONCEPT_GET = _concepts_mod.JA_CONCEPT.__getitem__


def _latin(text: str, low: str, lang, terms: set, names: set, nums: set, months: set | None,
           caps_ok: bool, seq: dict | None = None) -> tuple:
    """Latin-script words of `text` (normalised, case kept; `low` = text.lower()): stems (stop
    words dropped) into terms, figures into nums (and terms as '#n'), capitalised names into
    names. `seq`, when given, gets each token -> its term in the headline's sequence (None for a
    word dropped). Returns the tokens as two columns: the words ("" for a figure), the figures
    ("" for a word)."""
    pairs = _TOK.findall(low)
    if not pairs:
        return ()
    ws, fs = zip(*pairs)
    figs = set(fs)
    figs.discard("")
    if figs:
        figs = list(figs)
        normal = list(map(_num, figs))
        nums.update(normal)
        hashed = list(map("#".__add__, normal))
        terms.update(map(_intern, hashed))
        if seq is not None:
            seq.update(zip(figs, hashed))
    words = set(ws)
    if seq is not None:
        seq.update(dict.fromkeys(words))
    words -= _DROP
    if not words:
        return ws, fs
    if months is not None:
        months |= _MONTHS & words
    words = list(words)
    stem = _stemmer(lang)
    stems = stem(words)
    terms.update(stems)
    if seq is not None:
        seq.update(zip(words, stems))
    if CONCEPTS_ON:
        cidx = _concepts(lang)
        hit = cidx.keys() & stems
        if hit:
            terms.update(map(cidx.__getitem__, hit))
    if caps_ok:
        # capitalised words that do not just start a sentence, and acronyms (US, EU, NATO)
        caps = _CAPS.findall(text)
        if caps:
            caps = set(map(str.lower, caps))
            caps -= _DROP
            if caps:
                names.update(stem(list(caps)))
    return ws, fs


CONCEPTS_ON = True
_concept_idx: dict = {}


def _concepts(lang) -> dict:
    idx = _concept_idx.get(lang)
    if idx is None:
        idx = _concept_idx[lang] = _concepts_mod.latin_index(_stemmer(lang))
    return idx


def _katakana(text: str, terms: set, names: set) -> list:
    """Katakana runs (a run is one word, usually a name: マドゥロ, フェンタニル) as '@' names."""
    runs = _KATAKANA.findall(text)
    if runs:
        ks = set(map(_intern, map("@".__add__, runs)))
        names |= ks
        terms |= ks
    return runs


def _cjk(text: str, terms: set, names: set) -> None:
    """Japanese terms: concepts, kanji pairs (Japanese has no spaces: 送電網 ~ 送電, 電網), with
    the office and reporting words cut out first, and katakana names."""
    if CONCEPTS_ON:
        cs = _concepts_mod.JA.findall(text)
        if cs:
            terms.update(map(_JA_CONCEPT_GET, cs))
    terms.update(map(_intern, _KANJI_TERM.findall(_JA_STOP.sub("　", text))))
    _katakana(text, terms, names)


_topics: dict = {}


def _topic_terms(text: str, lang) -> frozenset:
    """The terms of a matched alias text (the same for every report it matches: cached)."""
    key = (text, lang, CONCEPTS_ON)
    out = _topics.get(key)
    if out is None:
        text = prep(text)
        top: set = set()
        _latin(text, text.lower(), lang, top, set(), set(), None, False)
        if not text.isascii():
            _cjk(text, top, set())
        out = frozenset(top)
        if len(_topics) >= 10_000:
            _topics.clear()
        _topics[key] = out
    return out


def features(title: str, summary: str, lang=None, topic=(), *,
             keep_surface: bool = False) -> Features:
    """Features of a report. `title`/`summary`: normalised text with case kept (normalize.prep);
    `topic`: the texts that matched a watchlist alias: every item of the watchlist shares the
    topic, so those words say little about the event. `keep_surface`: the words as written can
    be asked for (Features.surface, worked out when read)."""
    title = clean_title(title)
    summary = summary[:400]
    raw = title.encode("utf-8", "surrogatepass")      # [A-Z] / [a-z] are single bytes
    upper = len(raw.translate(None, _NOT_UPPER))
    lower = len(raw.translate(None, _NOT_LOWER))
    shouting = upper + lower >= 8 and upper > 0.8 * (upper + lower)
    tt, tn, tnum, months = set(), set(), set(), set()
    low = title.lower()
    seq: dict = {}
    cols = _latin(title, low, lang, tt, tn, tnum, months, not shouting, seq)
    if low.isascii():
        terms = map(seq.get, map(add, *cols)) if cols else ()     # every token has its term
    else:
        if CONCEPTS_ON:
            cs = _concepts_mod.JA.findall(title)
            if cs:
                tt.update(map(_JA_CONCEPT_GET, cs))
        runs = _katakana(title, tt, tn)
        if runs:
            seq.update(zip(runs, map("@".__add__, runs)))
        # a token without a term of its own is a kanji run: its pairs (a run of one: itself)
        toks = _SEQ.findall(_JA_STOP.sub(" ", low))
        terms = chain.from_iterable(map(_PAIRS.__getitem__, map(seq.get, toks, toks)))
    title_seq = tuple(filter(_not_none, terms))
    if not low.isascii():
        kanji = set(title_seq)                  # the headline's kanji terms: its sequence's
        kanji.difference_update(seq.values())   # terms but the words', figures' and names'
        tt.update(map(_intern, kanji))
    tnum.update(map(_num, _NUM.findall(title)))
    at, an, anum = set(tt), set(tn), set(tnum)
    if summary:
        _latin(summary, summary.lower(), lang, at, an, anum, None, True)
        if not summary.isascii():
            _cjk(summary, at, an)
        anum.update(map(_num, _NUM.findall(summary)))
    top = frozenset().union(*[_topic_terms(text, lang) for text in topic]) if topic else ()
    return Features(frozenset(tt), frozenset(at), frozenset(an), frozenset(tn), frozenset(tnum),
                    frozenset(anum), frozenset(months), bool(_FOLLOW_UP.search(low)),
                    bool(_NEW.search(title)),
                    frozenset(_holders(title, lang, low) | _holders(summary, lang)),
                    title_seq, frozenset(top & at) if top else frozenset(),
                    _Surface(title, summary, lang) if keep_surface else None)


# --- the words as written (for a verdict's evidence) ------------------------------------------
def _keep_first(surface: dict, pairs) -> None:
    """surface.setdefault(k, v) for each pair, the earliest pair of a key winning (the pairs
    come last-first: a later dict entry overwrites): in C."""
    new = dict(pairs)
    new.update(surface)
    surface.update(new)


def _surface_of(text: str, lang, surface: dict) -> None:
    """Each term of `text` -> the first word that gave it, as written (what surface already has
    stays): stems, kanji pairs (-> their run), katakana names."""
    words = [t for t in _WORD.findall(text.lower()) if t[0].isalpha() and len(t) > 1
             and t not in STOP]
    if words:
        stems = _stemmer(lang)(words)
        found = _WORD_CASED.findall(text)
        cased = dict(zip(map(str.lower, found), found))
        _keep_first(surface, zip(reversed(stems), map(cased.get, reversed(words), reversed(words))))
    if text.isascii():
        return
    runs = _KANJI.findall(_JA_STOP.sub("　", text))
    if runs:
        bigrams: dict = {}
        for run in reversed(runs):      # each bigram -> the first run that has it
            if len(run) > 1:
                bigrams.update(dict.fromkeys(map(str.__add__, run, run[1:]), run))
        _keep_first(surface, bigrams.items())
    for k in _KATAKANA.findall(text):
        surface["@" + k] = k


class _Surface:
    """Features.surface as features(keep_surface=True) leaves it: term -> a word as written,
    worked out from the headline and summary when first read (only a verdict's evidence reads
    it). Reads as the dict; pickles as its texts."""

    __slots__ = ("_src", "_d")
    __hash__ = None         # type: ignore[assignment]

    def __init__(self, title: str, summary: str, lang):
        self._src, self._d = (title, summary, lang), None

    def _dict(self) -> dict:
        d = self._d
        if d is None:
            title, summary, lang = self._src
            d = {}
            _surface_of(title, lang, d)
            if summary:
                _surface_of(summary, lang, d)
            self._d = d
        return d

    def get(self, term, default=None):
        return self._dict().get(term, default)

    def __getitem__(self, term):
        return self._dict()[term]

    def __contains__(self, term) -> bool:
        return term in self._dict()

    def __iter__(self):
        return iter(self._dict())

    def __len__(self) -> int:
        return len(self._dict())

    def items(self):
        return self._dict().items()

    def __eq__(self, other) -> bool:
        if isinstance(other, _Surface):
            other = other._dict()
        return self._dict() == other

    def __repr__(self) -> str:
        return repr(self._dict())

    def __reduce__(self):
        return _Surface, self._src


# the copy detector's headline cleaning and month names (dedup.py imports stories.py, which
# imports this module: imported last, as dedup.py imports stories.py)
from bot.core.dedup import _MONTHS, clean_title  # noqa: E402
