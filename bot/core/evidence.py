"""General checks that weigh one candidate alias hit against the item it was found in (pure).

The phrase index (bot.core.phrases) finds candidates; the matcher asks these checks what the item
says for and against each one. Every check is written once for all watchlists and works on classes
(another given name before a surname, a street word after a place, a sports word in the item, a
katakana word that continues past the alias...), using the shared lexicon (bot/data/lexicon.yaml)
and the alias's declared `kind`. A finding is a `Finding`: for (+) or against (-) the hit, and how
strong: "reject" drops the hit, "doubt" keeps it only when the item has other evidence of the same
watchlist (another alias, or one of its context words).
"""
from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from operator import itemgetter

from bot.core.lexicon import Lexicon, lexicon
from bot.core.model import Entry
from bot.core.normalize import fold, nfkc, prep

TOKEN = re.compile(r"[a-z0-9]+")
_TOKEN_SPLIT = re.compile(r"([a-z0-9]+)")
_KATA = "ァ-ヺ"
_KATA_CH = re.compile(f"[{_KATA}ー]")
_SEPS = "・=゠\\-‐"
_SEP_CH = re.compile(f"[{_SEPS}]")
_UNFOLD = {"バ": "(?:バ|ヴァ)", "ビ": "(?:ビ|ヴィ)", "ベ": "(?:ベ|ヴェ)", "ボ": "(?:ボ|ヴォ)", "ブ": "(?:ブ|ヴ)"}
_LETTERS4 = re.compile(r"[^\W\d_]{4,}")           # words of 4+ letters (FieldView.shape)
_ASCII_LETTERS4 = re.compile(r"[A-Za-z]{4,}")      # ... in ASCII text
_SENT_END = re.compile(r"[.!?:;\"'«»“”‘’(\[「『【]\s*$")
# (the checks' patterns, compiled once)
_KATA_RUN = re.compile(f"[{_KATA}ー]+")
_KATA_RUN_END = re.compile(f"[{_KATA}ー]+$")
_VU_RE = re.compile("ヴ[ァィェォュ]?")
_KATA_HYPHEN = re.compile(f"(?<=[{_KATA}])[\\-‐]")
_SEQUEL = re.compile(r"\s*(\d{1,2}|ii|iii|iv)\b(?!\d|[.,]\d)", re.I)
_SCORE_AFTER = re.compile(r"\s*\d{1,2}\s*[-–:]\s*\d")
_FIXTURE_AFTER = re.compile(r"\s*\d{1,2}\s*[-–]\s*\d{1,2}\b")
_FIXTURE_BEFORE = re.compile(r"\b\d{1,2}\s*[-–]\s*\d{1,2}\s*$")
_VS_AFTER = re.compile(r"\s*(vs\.?|v\.?|versus)\s", re.I)
_VS_BEFORE = re.compile(r"\b(vs\.?|v\.?|versus)\s*$", re.I)
_CJK_SEQUEL = re.compile(r"\s*[0-9]{1,2}(?![0-9])")
_CJK_SCORE = re.compile(r"\s*[0-9]{1,2}\s*[-–:対]")
_SCORE = re.compile(r"(?<![\d.,/:-])\d{1,2}\s?[-–]\s?\d{1,2}(?![\d.,/:%-])")
COMMON_ZIPF = 1.5            # a fuzzy candidate this frequent in some language is a word of its own
_WORD_LANGS = ("en", "es", "pt", "fr", "de", "it")


@dataclass(frozen=True, slots=True)
class Finding:
    sign: str            # "+" (for the hit) or "-" (against it)
    strength: str        # "reject"; "doubt" (needs a name that stands on its own, or a context
    #                      word); "weak" (another name with a weak doubt will do too); "soft"
    #                      (hard-news words in the item will do too); "info"
    why: str
    names_other: bool = False    # says the name is another person, place or thing (an identity)

    def __str__(self) -> str:
        return f"{self.sign} {self.why}"


def against(why: str, strength: str = "doubt") -> Finding:
    return Finding("-", strength, why)


def other_thing(why: str, strength: str = "doubt") -> Finding:
    """A finding that the name names another person, place or thing."""
    return Finding("-", strength, why, True)


def support(why: str) -> Finding:
    return Finding("+", "info", why)


# ------------------------------------------------------------------------------ word frequency
@lru_cache(maxsize=65536)
def word_zipf(word: str) -> float:
    """Highest Zipf frequency of `word` over the Latin-script languages sokuho reads (wordfreq's
    data ships in its wheel: nothing is downloaded). 0 when wordfreq is not installed."""
    try:
        from wordfreq import zipf_frequency
    except ImportError:            # pragma: no cover - a declared dependency
        return 0.0
    return max(zipf_frequency(word, lang) for lang in _WORD_LANGS)


# ------------------------------------------------------------------------------ views
class FieldView:
    """One field of an item (title or summary): original, prepped and folded text, tokens."""

    def __init__(self, original: str, prepped: str):
        self.original = original
        self.prepped = prepped
        self.folded = prepped.lower()
        self._tokens: list[tuple[str, int, int]] | None = None
        self._words: list[str] = []
        self._starts: list[int] = []     # token starts (and the text's length last)
        self._nf: str | None = None
        self._nf_long: str | None = None
        self._surfaces: dict[tuple[int, int], tuple[int, int] | None] = {}
        self._case: tuple[bool, bool] | None = None

    @property
    def tokens(self) -> list[tuple[str, int, int]]:
        """(token, start, end) of every TOKEN match in the folded text."""
        if self._tokens is None:
            # in C: the text split into separators and tokens, and their lengths added up
            parts = _TOKEN_SPLIT.split(self.folded)      # [sep, tok, sep, tok, ..., sep]
            ends = list(accumulate(map(len, parts)))
            self._words = parts[1::2]
            self._starts = ends[0::2]
            self._tokens = list(zip(self._words, self._starts, ends[1::2]))
        return self._tokens

    @property
    def words(self) -> list[str]:
        if self._tokens is None:
            self.tokens
        return list(self._words)

    @property
    def nf(self) -> str:
        if self._nf is None:
            self._nf = nfkc(self.original)
        return self._nf

    @property
    def nf_long(self) -> str:
        """nf with every separator character (・=゠-‐) made a long vowel ー (see surface)."""
        if self._nf_long is None:
            self._nf_long = self.nf.translate(_TO_LONG)
        return self._nf_long

    def shape(self) -> tuple[bool, bool]:
        """(all caps, title case) of the Latin words of this field."""
        if self._case is None:
            if self.prepped.isascii():          # (ASCII letters: [^\W\d_] is [A-Za-z])
                letters = _ASCII_LETTERS4.findall(self.prepped)
            else:
                letters = [w for w in _LETTERS4.findall(self.prepped) if w.isascii() or w.isalpha()]
            caps = sum(map(str.isupper, map(itemgetter(0), letters)))
            upper = sum(map(str.isupper, letters))
            n = len(letters)
            self._case = (n >= 2 and upper == n, n >= 3 and caps >= 0.8 * n and upper < n)
        return self._case

    def index_at(self, pos: int) -> int:
        """Index of the first token starting at or after `pos`."""
        if self._tokens is None:
            self.tokens
        return bisect_left(self._starts, pos, 0, len(self._tokens))

    def cased(self, i: int) -> str:
        _, s, e = self.tokens[i]
        return self.prepped[s:e]

    def sentence_start(self, pos: int) -> bool:
        head = self.prepped[:pos]
        return not head.strip() or bool(_SENT_END.search(head))

    def show(self, start: int, end: int) -> str:
        """The item's own text for a prepped span (falls back to the prepped text)."""
        span = self.surface(start, end)
        return self.nf[span[0]:span[1]] if span else self.prepped[start:end]

    # ---------------------------------------------------------------- original text spans
    def surface(self, start: int, end: int) -> tuple[int, int] | None:
        """Where prepped[start:end] is in the NFKC original (self.nf): kana folds undone
        (long vowels, middle dots, ヴ), so the item's own spelling can be shown and checked.
        (Asked for once per span: the checks and the hit's shown text ask for the same.)"""
        key = (start, end)
        found = self._surfaces.get(key, False)
        if found is False:
            found = self._surfaces[key] = self._surface(start, end)
        return found

    def _surface(self, start: int, end: int) -> tuple[int, int] | None:
        if len(self.nf) == len(self.prepped) and fold(self.nf[start:end]) == self.folded[start:end]:
            return start, end
        target = self.prepped[start:end]
        if not target:
            return None
        nth = self.prepped[:start].count(target)
        if _SEP_SET.isdisjoint(target):
            # no separator in the target: no character of it matches one, so the separators
            # may all be one (ー, in a copy of nf) and the pattern ー{0,2} between its
            # characters: the same matches, and a pattern that compiles ten times faster
            rx, nf = _tolerant(target, _LONG_SEP), self.nf_long
        else:
            rx, nf = _tolerant(target), self.nf
        for k, m in enumerate(rx.finditer(nf)):
            if k == nth:
                return m.start(), m.end()
        return None


_SEP_ANY = f"[ー{_SEPS}]{{0,2}}"     # 0-2 separators (a long vowel, a middle dot, a hyphen...)
_LONG_SEP = "ー{0,2}"                 # the same where every separator was made a ー
_SEP_SET = frozenset("ー" + _SEPS.replace("\\", ""))     # ー・=゠-‐
_TO_LONG = str.maketrans(dict.fromkeys(_SEP_SET, "ー"))


@lru_cache(maxsize=4096)
def _tolerant(target: str, sep: str = _SEP_ANY) -> re.Pattern:
    parts = []
    for ch in target:
        p = _UNFOLD.get(ch) or re.escape(ch)
        if ch.isascii() and ch.isalpha():
            p = f"[{re.escape(ch)}{re.escape(''.join(_ACCENTED.get(ch.lower(), '')))}]"
        parts.append(p)
    return re.compile(sep.join(parts), re.I)


def _accented() -> dict[str, str]:
    out: dict[str, str] = {}
    for cp in range(0xC0, 0x250):
        ch = chr(cp)
        f = fold(ch)
        if len(f) == 1 and f.isascii() and f.isalpha():
            out[f] = out.get(f, "") + ch + ch.upper()
    return out


_ACCENTED = _accented()


class ItemView:
    """Everything the checks read about one item; built only for items with a candidate hit."""

    def __init__(self, entry: Entry, prepped: tuple[str, str], lex: Lexicon | None = None):
        self.entry = entry
        self.lex = lex or lexicon()
        self.fields = {"title": FieldView(entry.title or "", prepped[0]),
                       "summary": FieldView(entry.summary or "", prepped[1])}
        self._domains: dict[str, list[str]] | None = None
        self._feed: list[str] | None = None
        self._news: list[str] | None = None

    def domain_words(self) -> dict[str, list[str]]:
        """Domain lexicon words found anywhere in the item, by domain."""
        if self._domains is None:
            out: dict[str, list[str]] = {}
            any_word, _last, any_cjk = self.lex.domain_keys()
            for fv in self.fields.values():
                words = fv.words
                # no word that is (or starts) a domain word, nor a CJK one: no domain word
                if any_word.isdisjoint(words) and (
                        fv.folded.isascii() or any_cjk is None or not any_cjk.search(fv.folded)):
                    continue
                for name, ws in self.lex.domains.items():
                    found = ws.find(words, fv.folded)
                    if found:
                        out.setdefault(name, []).extend(found)
            self._domains = out
        return self._domains

    def news_words(self) -> list[str]:
        """Hard-news words anywhere in the item (they outweigh a domain's words)."""
        if self._news is None:
            self._news = [w for fv in self.fields.values()
                          for w in self.lex.news.find(fv.words, fv.folded)]
        return self._news

    def feed_domains(self) -> list[str]:
        """Domains named by the feed itself: <category> terms and the link's URL path sections."""
        if self._feed is None:
            found = []
            terms = [fold(c) for c in self.entry.categories]
            path = self.entry.link.split("://", 1)[-1].split("?", 1)[0].split("#", 1)[0]
            segs = [fold(s) for s in path.split("/")[1:] if s]
            for name, ws in self.lex.sections.items():
                hit = next((s for s in segs if ws.find([s], s) == [s] or s in ws.cjk), None)
                if hit is None:
                    for t in terms:
                        toks = TOKEN.findall(t)
                        if ws.find(toks, t) or self.lex.domains.get(name, _EMPTY).find(toks, t):
                            hit = t
                            break
                if hit is not None:
                    found.append(f"{name} ({hit!r} in the feed's "
                                 f"{'category' if hit in terms else 'URL'})")
            self._feed = found
        return self._feed


class _Empty:
    def find(self, *_a):
        return []


_EMPTY = _Empty()


# ------------------------------------------------------------------------------ checks
def kana_boundary(fv: FieldView, start: int, end: int, alias_text: str,
                  known: frozenset[str]) -> list[Finding]:
    """A katakana alias must not be part of a longer katakana word (キューバ in キューバリブレ,
    ヌーク in ヌークリア), nor be a name's second half after another given name (マリリン・モンロー),
    unless the rest is a known word (another alias, or a news word such as ショック). Checked on the
    item's own spelling, so a long vowel folding removed still counts (キューバー is not キューバ), and
    a short alias must keep its long vowels (ヌーク is not ヌク)."""
    target = fv.folded[start:end]
    first_k, last_k = bool(_KATA_CH.match(target[:1])), bool(_KATA_CH.match(target[-1:]))
    if not (first_k or last_k):
        return []
    span = fv.surface(start, end)
    if span is None:
        return []
    s, e = span
    nf = fv.nf
    alias_nf = _SEP_CH.sub("", unicodedata.normalize("NFKC", alias_text))
    if alias_nf.endswith("ー") and nf[e:e + 1] in ("ー", "-", "‐"):
        e += 1                     # the alias's own final long vowel (ドンロー; ゼノ- typed for ゼノー)
    own = nf[s:e]
    out: list[Finding] = []
    if len(target) <= 3 and _long_key(own) != _long_key(alias_text) and fold(alias_text) == target:
        out.append(other_thing(f"'{own}' is not spelled '{alias_text}' (a short name keeps its long "
                           f"vowels)", "reject"))
    if last_k:
        j = e
        rest = _run_after(nf, j)
        if rest and not _known_prefix(rest, known):
            joined = _SEP_CH.match(nf[j:j + 1]) is not None
            out.append(other_thing(f"part of the longer {'name' if joined else 'word'} "
                               f"'{own}{nf[e:j + len(rest)]}'", "reject"))
    if first_k:
        before = _run_before(nf, s)
        if before and not _known_suffix(before, known):
            joined = s > 0 and _SEP_CH.match(nf[s - 1]) is not None
            what = "another given name" if joined else "part of the longer word"
            out.append(other_thing(f"{what}: '{nf[s - len(before) - joined:s]}{own}'", "reject"))
    return out


def _run_after(nf: str, j: int) -> str:
    """Katakana (with long vowels) directly after j, or after one separator."""
    k = j
    if k < len(nf) and _SEP_CH.match(nf[k]) and k + 1 < len(nf) and _KATA_CH.match(nf[k + 1]):
        k += 1
    m = _KATA_RUN.match(nf[k:])
    return (nf[j:k] + m.group()) if m else ""


def _run_before(nf: str, s: int) -> str:
    k = s
    if k > 0 and _SEP_CH.match(nf[k - 1]) and k > 1 and _KATA_CH.match(nf[k - 2]):
        k -= 1
    m = _KATA_RUN_END.search(nf[:k])
    return m.group() if m else ""


def kana_key(s: str) -> str:
    """A katakana word as compared for known splits: NFKC, ヴ folded, separators dropped, but long
    vowels kept (マネ is not マネー)."""
    s = _SEP_CH.sub("", unicodedata.normalize("NFKC", s))
    return _VU_RE.sub(lambda m: _VU.get(m.group(), m.group()), s)


def _long_key(s: str) -> str:
    """kana_key, with a hyphen after a katakana taken for the long vowel it often stands for."""
    s = _KATA_HYPHEN.sub("ー", unicodedata.normalize("NFKC", s))
    return kana_key(s)


_VU = {"ヴァ": "バ", "ヴィ": "ビ", "ヴェ": "ベ", "ヴォ": "ボ", "ヴュ": "ビュ", "ヴ": "ブ"}


def _known_prefix(rest: str, known: frozenset[str]) -> bool:
    rest = kana_key(rest)
    return any(rest.startswith(w) for w in known if len(w) >= 2)


def _known_suffix(before: str, known: frozenset[str]) -> bool:
    before = kana_key(before)
    return any(before.endswith(w) for w in known if len(w) >= 2)


def latin_neighbours(fv: FieldView, start: int, end: int, alias_text: str, kind: str | None,
                     lex: Lexicon, own_words: frozenset[str]) -> list[Finding]:
    """What the words around a Latin-script name say: another given name before a surname, a
    company or team word after a name, a street, a town in another country or state, a sequel
    number or a match score."""
    out: list[Finding] = []
    toks = fv.tokens
    words = fv.words
    i = fv.index_at(start)
    j = fv.index_at(end)           # first token after the hit
    all_caps, title_case = fv.shape()
    capitalised = alias_text[:1].isupper() and not alias_text.isupper()
    lang_de = False
    # --- before: a given name (Marilyn Monroe, Eli Greenland, Mark Cuban)
    if capitalised and kind != "org" and i > 0 and not all_caps:
        w = words[i - 1]
        raw = fv.cased(i - 1)
        gap = fv.prepped[toks[i - 1][2]:start]
        if (gap == " " and raw[:1].isupper() and not raw.isupper() and len(w) > 1
                and not _known_word(w, words, i - 1, lex, own_words)):
            if title_case or fv.sentence_start(toks[i - 1][1]):
                # a capital that may only mark the headline style or a sentence's first word
                out.append(other_thing(f"'{raw} {fv.prepped[start:end]}' may be another person's name",
                                   "weak"))
            else:
                out.append(other_thing(f"another person's name: '{raw} {fv.prepped[start:end]}'", "reject"))
    # --- after: company/team word, or an unknown capitalised word (Cuba Gooding, Havana Brown)
    if j < len(toks) and kind in ("place", "term", None) and capitalised:
        gap = fv.prepped[end:toks[j][1]]
        raw = fv.cased(j)
        biz = lex.business_after.starts(words, j)
        if gap in (" ", "-") and biz and raw[:1].isupper():
            out.append(other_thing(f"a company, team or brand: '{fv.prepped[start:end]} {raw}'", "reject"))
        elif (gap == " " and raw[:1].isupper() and not raw.isupper() and not title_case
              and not all_caps and not _known_word(words[j], words, j, lex, own_words)
              and not lang_de):
            out.append(other_thing(f"part of another name: '{fv.prepped[start:end]} {raw}'"))
    # a word the watchlist writes in lower case (Spanish demonyms: venezolana) capitalised in the
    # middle of a sentence is part of a proper name ("Panadería La Venezolana")
    found = fv.prepped[start:end]
    if (alias_text[:1].islower() and found[:1].isupper() and not found.isupper() and not all_caps
            and not title_case and not fv.sentence_start(start) and kind in ("place", "term")):
        out.append(other_thing(f"'{found}' is capitalised mid-sentence: part of a proper name"))
    if kind == "place":
        out.extend(_place_uses(fv, start, end, i, j, lex))
    return out


def _known_word(w: str, words: list[str], i: int, lex: Lexicon, own: frozenset[str]) -> bool:
    if len(w) > 3 and w.endswith("s") and _known_word(w[:-1], words[:i] + [w[:-1]], i, lex, own):
        return True                # genitive: "Trumps Monroe-doktrin", "Grönlands"
    return (w in own or w in lex.name_heads or lex.titles.ends(words, i) is not None or lex.former.ends(words, i) is not None
            or lex.actors.ends(words, i) is not None or lex.places.ends(words, i) is not None
            or lex.places.starts(words, i) is not None or _is_function_word(w)
            or lex.titles.starts(words, i) is not None)


@lru_cache(maxsize=1)
def _function_words() -> frozenset[str]:
    from bot.core.normalize import _STOP
    extra = ("why how what when where inside after before new old more big top breaking live "
             "update analysis opinion exclusive report watch explainer while amid as despite "
             "photos video ahead during south north east west").split()
    return frozenset(w for ws in _STOP.values() for w in ws) | frozenset(extra)


def _is_function_word(w: str) -> bool:
    return w in _function_words()


def _place_uses(fv: FieldView, start: int, end: int, i: int, j: int, lex: Lexicon) -> list[Finding]:
    out: list[Finding] = []
    toks, words, p = fv.tokens, fv.words, fv.prepped
    name = p[start:end]
    if j < len(toks):
        gap = p[end:toks[j][1]]
        raw = fv.cased(j)
        st = lex.street_after.starts(words, j)
        if st and gap.strip() in ("", "-") and raw[:1].isupper():
            out.append(other_thing(f"a street: '{name} {raw}'", "reject"))
        tw = lex.town_after.starts(words, j)
        if tw and gap.strip() == "," and raw[:1].isupper():
            after = p[toks[j][2]:toks[j][2] + 1]
            full = len(tw) > 3 or " " in tw
            if full or after == "." or raw.isupper():
                out.append(other_thing(f"a town of the same name: '{name}, {raw}'", "reject"))
        elif tw in ("county", "township", "city") and gap == " " and raw[:1].isupper():
            out.append(other_thing(f"another place: '{name} {raw}'", "reject"))
        elif (gap.strip() == "," and raw[:1].isupper() and not raw.isupper()
              and lex.places.starts(words, j) is None and lex.actors.starts(words, j) is None
              and not _is_function_word(words[j])):
            # "Venezuela, Santa Fe," / "Havana, Cuba": a place name then a region it lies in
            k = j
            while k + 1 < len(toks) and p[toks[k][2]:toks[k + 1][1]] == " " and \
                    fv.cased(k + 1)[:1].isupper():
                k += 1
            tail = p[toks[k][2]:toks[k][2] + 2].strip()[:1]
            if tail in (",", ")", ""):
                out.append(other_thing(f"a town of that name elsewhere: '{name}, "
                                   f"{p[toks[j][1]:toks[k][2]]}'"))
        m = _SEQUEL.match(p[end:end + 6])
        if m and not _SCORE_AFTER.match(p[end:end + 10]):
            out.append(other_thing(f"a title with a sequel number: '{name}{m.group()}'"))
    if _FIXTURE_AFTER.match(p[end:end + 10]) or _FIXTURE_BEFORE.search(p[max(0, start - 10):start]):
        out.append(against(f"a match score next to '{name}' (a sports fixture)"))
    if _VS_AFTER.match(p[end:end + 10]) or _VS_BEFORE.search(p[max(0, start - 10):start]):
        out.append(against(f"'{name}' in a fixture (vs)"))
    if i > 0:
        k = i - 1
        if k > 0 and words[k] in ("la", "el", "los", "las", "the", "le") and fv.cased(k)[:1].isupper():
            k -= 1                 # "Panadería La Venezolana"
        bb = lex.business_before.ends(words, k)
        if bb:
            out.append(other_thing(f"a business: '{p[toks[k][1]:end]}'"))
        sb = lex.street_before.ends(words, i - 1)
        if sb:
            out.append(other_thing(f"a street: '{fv.cased(i - 1)} {name}'", "reject"))
        tb = lex.town_before.ends(words, i - 1)
        if tb:
            out.append(other_thing(f"another place: '{tb} {name}'", "reject"))
    return out


def cjk_place_uses(fv: FieldView, start: int, end: int, lex: Lexicon) -> list[Finding]:
    """Japanese: a street (キューバ通り), a sequel (グリーンランド2), a local namesake (熊本のX)."""
    out: list[Finding] = []
    f = fv.folded
    after, before = f[end:end + 6], f[max(0, start - 8):start]
    st = lex.street_after.cjk_prefix(after)
    if st:
        out.append(other_thing(f"a street: '{fv.show(start, end)}{st}'", "reject"))
    if _CJK_SEQUEL.match(after) and not _CJK_SCORE.match(after):
        out.append(other_thing(f"a title with a sequel number: '{fv.show(start, end)}{after[:2].strip()}'"))
    if before.endswith(("の", "市", "県", "町", "村", "州", "郡")):
        local = lex.ja_local.cjk_suffix(before.rstrip("の"))
        if local or before.endswith(("市の", "県の", "町の", "村の", "州の", "州", "町", "村", "郡")):
            out.append(other_thing(f"a local namesake: '{before.strip()}{fv.show(start, end)}'"))
    if after[:1] in lex.ja_town_after and not after.startswith(("町内", "村内")):
        out.append(other_thing(f"a town of that name: '{fv.show(start, end)}{after[:1]}'", "reject"))
    bb = lex.business_before.cjk_suffix(before.rstrip("「『\"'“ "))
    if bb:
        out.append(other_thing(f"a business: '{bb}{fv.show(start, end)}'"))
    k = f.rfind("『", 0, start)
    if k >= 0 and f.find("』", k) >= end:
        out.append(other_thing("inside a title in 『』 (a book, film or song)"))
    return out


def domain_evidence(item: ItemView, fv: FieldView, start: int, end: int) -> list[Finding]:
    """A place or a nationality used in another domain: a word of that domain right next to it
    (Cuban sandwich, Greenland shark, キューバ料理), or several across the item, or the feed's own
    category or URL section."""
    lex = item.lex
    out: list[Finding] = []
    words = fv.words
    j = fv.index_at(end)
    i = fv.index_at(start)
    near: list[str] = []
    # the next word, or the one after a hyphenated word ("Cuban-style coffee", "-born catcher")
    hyphen = j < len(words) and fv.prepped[end:fv.tokens[j][1]] == "-"
    first, last, any_cjk = lex.domain_keys()
    # no domain word can start after the name or end before it: no domain is looked up
    if first.isdisjoint(words[j:j + 2] if hyphen else words[j:j + 1]) \
            and not (i > 0 and words[i - 1] in last) \
            and (any_cjk is None or not any_cjk.match(fv.folded[end:end + 8])):
        domains = {}
    else:
        domains = lex.domains
    for name, ws in domains.items():
        for k in ((j, j + 1) if hyphen else (j,)):
            w = ws.starts(words, k) if k < len(words) else None
            if w:
                near.append(f"{name} word '{w}' after it")
                break
        if i > 0:
            w = ws.ends(words, i - 1)
            if w:
                near.append(f"{name} word '{w}' before it")
        cj = ws.cjk_prefix(fv.folded[end:end + 8])
        if cj:
            near.append(f"{name} word '{cj}' after it")
    if near:
        out.append(against("used as a name in another domain: " + ", ".join(near)))
        return out
    dom = item.domain_words()
    if "sports" in dom or _SCORE.search(fv.prepped):
        scores = [m.group() for f in item.fields.values() for m in _SCORE.finditer(f.prepped)]
        dom = {**dom, "sports": dom.get("sports", []) + [f"score {x}" for x in scores]}
    news = item.news_words()
    # the domain must dominate: two of its words and no hard-news word, or more than twice as many
    strong = [(k, v) for k, v in dom.items() if len(v) >= 2 and (not news or len(v) > 2 * len(news))]
    feed = item.feed_domains() if len(news) < 2 else []
    if strong:
        k, v = max(strong, key=lambda kv: len(kv[1]))
        out.append(against(f"the item is about {k} ({', '.join(repr(x) for x in dict.fromkeys(v[:4]))})"))
    elif feed:
        out.append(against("the feed files it under " + "; ".join(feed)))
    return out


def case_doubt(fv: FieldView, start: int) -> Finding | None:
    """A case-sensitive name whose capital letter proves nothing: ALL CAPS, Title Case, or the
    first word of a sentence."""
    all_caps, title_case = fv.shape()
    if all_caps:
        return against("the headline is in ALL CAPS, so the capital letter proves nothing", "weak")
    if title_case:
        return against("the headline is in Title Case, so the capital letter proves nothing", "soft")
    if fv.sentence_start(start):
        return against("first word of a sentence, so the capital letter proves nothing", "soft")
    return None


def office_title(fv: FieldView, start: int, end: int, lex: Lexicon,
                 own: frozenset[str] = frozenset()) -> list[Finding]:
    """An alias that is an office ("Mexico's president", メキシコ大統領): "former"/元/歴代 before it,
    or another name right after it ("Mexican President Lázaro Cárdenas"), is somebody else;
    otherwise it names whoever holds the office, so it needs other evidence (hard-news words
    will do: "The Mexican president rejects ...")."""
    words = fv.words
    i, j = fv.index_at(start), fv.index_at(end)
    before = fv.folded[max(0, start - 3):start]
    if (i > 0 and lex.former.ends(words, i - 1)) or any(before.endswith(w) for w in lex.former.cjk):
        return [other_thing("a former office-holder ('former', 'ex-', 元/前 before the title)",
                            "reject")]
    if j < len(words) and fv.prepped[end:fv.tokens[j][1]] == " ":
        raw = fv.cased(j)
        if raw[:1].isupper() and not raw.isupper() and words[j] not in own \
                and not _is_function_word(words[j]) and not fv.shape()[1]:
            return [other_thing(f"another office-holder: '{fv.show(start, end)} {raw}'", "reject")]
    return [against("an office title without a name: it needs other evidence of this watchlist",
                    "soft")]


def title_next_to(fv: FieldView, start: int, end: int, lex: Lexicon) -> str | None:
    """An office title or honorific right before or after a name (President X, X国防相, X氏)."""
    words = fv.words
    i, j = fv.index_at(start), fv.index_at(end)
    for k in (i - 1, i - 2):
        if k >= 0:
            w = lex.titles.ends(words, k)
            if w and not lex.former.ends(words, k - len(w.split())):
                return w
    if j < len(words) and fv.prepped[end:fv.tokens[j][1]].strip() in ("", ","):
        comma = "," in fv.prepped[end:fv.tokens[j][1]]
        for k in range(j, min(j + (3 if comma else 1), len(words))):   # "X, the defence minister"
            w = lex.titles.starts(words, k)
            if w:
                return w
    cj = lex.titles.cjk_prefix(fv.folded[end:end + 6]) or lex.titles.cjk_suffix(
        fv.folded[max(0, start - 6):start])         # X国防相 / 国防相X
    if cj:
        return cj
    return None


def is_office_alias(alias_text: str, lex: Lexicon) -> bool:
    f = fold(alias_text)
    toks = TOKEN.findall(f)
    return bool(lex.titles.find(toks, f))


def fuzzy_word(found: str) -> Finding | None:
    """A typo-tolerant hit that is a real word or name of its own (Cubase, Monrovia, Venezia) is
    not a misspelling of the alias."""
    w = fold(found)
    if not w.isascii():
        return None
    z = word_zipf(w)
    if z >= COMMON_ZIPF:
        return against(f"'{found}' is a word of its own (word frequency {z:.1f}), not a typo",
                       "reject")
    return None


def prepped_pair(entry: Entry) -> tuple[str, str]:
    return prep(entry.title or ""), prep(entry.summary or "")
