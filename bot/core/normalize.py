"""Text normalisation for matching and de-duplication (pure, no I/O).

`prep` keeps letter case (so case-sensitive aliases can be checked); `fold` is `prep` lower-cased.
Both are length-preserving with respect to each other, so spans found in one are valid in the other.
"""
from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache

from bot.core.confusables import CONFUSABLE_LATIN, INVISIBLE, drop_invisible, fold_confusables

# ----------------------------------------------------------------------------- HTML
# Feed text comes from strangers: everything here is linear in the input (no backtracking regex
# over it). A hand-written scanner, not html.parser, whose CDATA handling has had quadratic cases.
# C0 and C1 control characters and DEL; tab/newline/CR are whitespace and handled by the caller
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_DROP = ("script", "style", "noscript")
_RAW_PER_CHAR = 8   # raw markup kept per visible character when the caller gives a limit
_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def _tag_name(s: str, i: int) -> str:
    """The lower-cased tag name starting at s[i] (ASCII letters/digits, at most 10 looked at)."""
    j = i
    end = min(len(s), i + 10)
    while j < end and (s[j].isascii() and s[j].isalnum()):
        j += 1
    return s[i:j].lower()


# a tag as _strip_tags_scan reads one: `<` + an ASCII letter, `/`, `!` or `?`, up to the next `>`
_TAG = re.compile(r"<[A-Za-z/!?][^>]*>")
# where a script/style/noscript block may start (a superset: re.I also folds "ſ" and "K")
_DROP_START = re.compile(r"<(?:script|style|noscript)", re.I)


def _strip_tags(s: str) -> str:
    """_strip_tags_scan(s), by one regex substitution when no script/style/noscript block can
    start in `s` (the usual case). The regex only looks up to the last `>`: every tag it tries
    there ends at the next `>`, so it never rescans (linear); after the last `>` no tag can end."""
    if _DROP_START.search(s) is not None:
        return _strip_tags_scan(s)
    last = s.rfind(">")
    if last < 0:
        return s
    return _TAG.sub(" ", s[:last + 1]) + s[last + 1:]


def _strip_tags_scan(s: str) -> str:
    """Drop tags and script/style/noscript blocks in one left-to-right pass (O(len(s))).

    A `<` not followed by a letter, `/`, `!` or `?` is text ("1 < 2"); a tag runs to the next `>`;
    when no `>` follows, nothing after that point can be a tag and the rest is text. A search for a
    closing `</script>` that fails is remembered, so unclosed blocks cost one scan in total.
    """
    out: list[str] = []
    low: str | None = None            # s lower-cased, made on the first script-like block
    unclosed: set[str] = set()
    i, n = 0, len(s)
    while i < n:
        j = s.find("<", i)
        if j < 0:
            out.append(s[i:])
            break
        out.append(s[i:j])
        nxt = s[j + 1:j + 2]
        if not (nxt.isascii() and nxt.isalpha()) and nxt not in ("/", "!", "?"):
            out.append("<")
            i = j + 1
            continue
        k = s.find(">", j + 1)
        if k < 0:                      # no `>` anywhere after: the rest is text
            out.append(s[j:])
            break
        out.append(" ")
        i = k + 1
        name = _tag_name(s, j + 1)
        if name in _DROP and s[k - 1] != "/" and name not in unclosed:
            if low is None:
                low = s.translate(_ASCII_LOWER)     # same length as s (str.lower is not)
            close = low.find("</" + name, i)
            if close < 0:
                unclosed.add(name)     # never closed: the block's text stays (as text)
                continue
            end = s.find(">", close)
            i = n if end < 0 else end + 1
    return "".join(out)


def strip_controls(s: str) -> str:
    """`s` without NUL and the other C0/C1 control characters (tab, LF and CR are kept)."""
    return _CONTROLS.sub("", s) if s and not s.isprintable() else s


def strip_html(s: str | None, limit: int | None = None) -> str:
    """HTML or escaped HTML -> plain text: tags dropped, entities decoded, whitespace collapsed.

    With `limit` (the length the caller will keep), the input is first cut to a bounded multiple
    of it, so a 10 MB title costs no more than a long one. Linear time in every case.
    """
    if not s:
        return ""
    if limit is not None and len(s) > limit * _RAW_PER_CHAR:
        s = s[:limit * _RAW_PER_CHAR]
    for _ in range(2):  # handles HTML carried as escaped text and double-escaped entities
        if "<" in s:
            s = _strip_tags(s)
        if "&" in s:
            s = html.unescape(s)      # may produce controls too: &#0; is U+FFFD, &#1; is not
    # whitespace runs -> one space, ends trimmed: re.sub(r"\s+", " ", t).strip() without a regex
    # match per space (str.split and re's \s agree on every code point: tests/test_normalize.py)
    return " ".join(strip_controls(s).split())


# ---------------------------------------------------------------------- accent folding
def _build_fold_table() -> dict[int, str]:
    table: dict[int, str] = {}
    special = {"ß": "ss", "ẞ": "SS", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o",
               "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th",
               "Þ": "TH", "ı": "i", "ŀ": "l", "Ŀ": "L"}
    for cp in list(range(0x00C0, 0x0250)) + list(range(0x1E00, 0x1F00)):
        ch = chr(cp)
        if ch in special:
            table[cp] = special[ch]
            continue
        base = unicodedata.normalize("NFKD", ch)
        stripped = "".join(c for c in base if not unicodedata.combining(c))
        if stripped and stripped != ch and stripped.isascii():
            table[cp] = stripped
    # punctuation variants -> ASCII, so "Trump’s" and "Trump's", "Díaz–Canel" and "Díaz-Canel" agree
    for ch in "‘’‚‛′`´":
        table[ord(ch)] = "'"
    for ch in "“”„‟″«»":
        table[ord(ch)] = '"'
    for ch in "‐‑‒–—―−":
        table[ord(ch)] = "-"
    table[0x00A0] = " "
    table[0x200B] = None  # zero-width space
    table[0x00AD] = None  # soft hyphen
    return table


_FOLD = _build_fold_table()
# the fold table may lengthen (ß -> ss), which is fine: spans are always taken on prep() output.

# ------------------------------------------------------------------------ kana folding
_VU = {"ヴァ": "バ", "ヴィ": "ビ", "ヴェ": "ベ", "ヴォ": "ボ", "ヴュ": "ビュ", "ヴ": "ブ"}
_VU_RE = re.compile("ヴ[ァィェォュ]?")
_KANA = "ァ-ヺ"
# middle dots, equals signs and hyphens inside katakana names: ディアス・カネル = ディアスカネル
# (the separator first, then a look back at the kana before it: re skips to each separator
# instead of trying a look-behind at every position)
_KANA_SEP = re.compile(f"[・=゠\\-‐](?<=[{_KANA}ー][・=゠\\-‐])(?=[{_KANA}])")


def _kana_fold(s: str) -> str:
    if "ヴ" in s:
        s = _VU_RE.sub(lambda m: _VU[m.group(0)], s)
    if "・" in s or "=" in s or "゠" in s or "-" in s:
        s = _KANA_SEP.sub("", s)
    if "ー" in s:
        s = s.replace("ー", "")
    return s


_ACRONYM = re.compile(r"\b(?:[A-Z]\.){2,}")
# what every _ACRONYM match holds (".S." of "U.S."): a literal-first pattern, which re finds by
# skipping to each "." instead of trying _ACRONYM's word boundary at every position
_ACRONYM_HINT = re.compile(r"\.[A-Z]\.")


def _acronym(m: re.Match) -> str:
    return m.group(0).replace(".", "")


def _unmask(s: str) -> str:
    """Evasion: invisible characters dropped, Cyrillic/Greek look-alikes in Latin words folded."""
    return fold_confusables(drop_invisible(s))


@lru_cache(maxsize=4096)
def _prep_cached(s: str) -> str:
    return _prep(s)


# Fast paths (same output as the plain chain NFKC -> _unmask -> translate(_FOLD) -> _kana_fold,
# which stays the reference in tests/test_phrases.py): each step first asks, in C, whether
# it has anything to do, and most news text needs few of them.
#
# NFKC: NFKC(s) is unchanged when a run of characters is replaced by its own NFKC (the runs
# decompose to the same NFKD), so only the runs of characters that NFKC changes (fullwidth
# forms, the ideographic space, ...) are normalised, and the whole text only if the quick
# check still fails (combining marks, halfwidth kana with sound marks).
_NFKC_RUN: re.Pattern | None = None


def _nfkc_runs() -> re.Pattern:
    global _NFKC_RUN
    if _NFKC_RUN is None:      # built on first use (~30 ms): BMP characters that NFKC changes
        ranges: list[list[int]] = []
        for cp in range(0x80, 0x10000):
            ch = chr(cp)
            if 0xD800 <= cp < 0xE000 or unicodedata.normalize("NFKC", ch) == ch:
                continue
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1][1] = cp
            else:
                ranges.append([cp, cp])
        _NFKC_RUN = re.compile("[" + "".join(
            re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
            for a, b in ranges) + "]+")
    return _NFKC_RUN


def _nfkc_match(m: re.Match) -> str:
    return unicodedata.normalize("NFKC", m.group(0))


def nfkc(s: str) -> str:
    """unicodedata.normalize("NFKC", s), normalising only the runs NFKC changes."""
    if unicodedata.is_normalized("NFKC", s):
        return s
    if "\u3000" in s:     # the ideographic space, often all that Japanese text needs
        s = s.replace("\u3000", " ")
        if unicodedata.is_normalized("NFKC", s):
            return s
    s = _nfkc_runs().sub(_nfkc_match, s)
    return s if unicodedata.is_normalized("NFKC", s) else unicodedata.normalize("NFKC", s)


_UNMASK_CHARS = re.compile("[" + "".join(
    re.escape(c) for c in sorted(INVISIBLE | frozenset(CONFUSABLE_LATIN))) + "]")
_FOLD_CHARS = re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(_FOLD)) + "]")
_UNMASK_OR_FOLD = re.compile("[" + "".join(re.escape(c) for c in sorted(
    INVISIBLE | frozenset(CONFUSABLE_LATIN) | {chr(c) for c in _FOLD})) + "]")


def _class(cps, extra: str = "") -> str:
    """A regex character class of the code points `cps`, consecutive ones as ranges."""
    ranges: list[list[int]] = []
    for cp in sorted(cps):
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return "[" + "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
                         for a, b in ranges) + extra + "]"


# _UNMASK_OR_FOLD's BMP characters and every character beyond the BMP: re tests a BMP set in one
# table look-up, while each character beyond it is one more test for every character of the text
# (4 look-alikes beyond the BMP made the exact class cost 2x on Japanese text). Exact when it
# finds a BMP character; one beyond it (an emoji) sends the text to _UNMASK_OR_FOLD.
_UNMASK_OR_FOLD_BMP = re.compile(_class(
    [ord(c) for c in INVISIBLE | frozenset(CONFUSABLE_LATIN) if ord(c) <= 0xFFFF] + list(_FOLD),
    "\U00010000-\U0010ffff"))


def _unmask_or_fold(s: str) -> bool:
    """Whether `s` holds a character _unmask or the accent fold changes (_UNMASK_OR_FOLD)."""
    m = _UNMASK_OR_FOLD_BMP.search(s)
    return m is not None and (m.group() <= "\uffff" or _UNMASK_OR_FOLD.search(s) is not None)
# _FOLD as a list indexed by code point: str.translate finds every character without the
# KeyError a dict raises for each unmapped one (2x faster on accented text)
_FOLD_LIST: list[int | str | None] = list(range(max(_FOLD) + 1))
for _cp, _to in _FOLD.items():
    _FOLD_LIST[_cp] = _to
# Latin-1 text (most Spanish, Portuguese, French news) folds as bytes: one C pass
_FOLD_LONG = {chr(c): t for c, t in _FOLD.items() if c < 256 and (t is None or len(t) != 1)}
_FOLD_LATIN1 = bytes(ord(_FOLD.get(c) or chr(c)) if chr(c) not in _FOLD_LONG else c
                     for c in range(256))


_FOLD_LONG_DEL = "".join(_FOLD_LONG).encode("latin-1")
# ... and the Latin-1 characters NFKC changes (NBSP, ª, ², ½, ´...): Latin-1 text without any
# is its own NFKC (no Latin-1 character composes with another), so it needs no NFKC check
_NFKC_OR_LONG_DEL = _FOLD_LONG_DEL + bytes(
    c for c in range(0x80, 0x100) if unicodedata.normalize("NFKC", chr(c)) != chr(c))


def _fold_accents(s: str) -> str:
    """s.translate(_FOLD), faster."""
    return s if _FOLD_CHARS.search(s) is None else s.translate(_FOLD_LIST)


def _latin1_folded(s: str, drop: bytes) -> str | None:
    """Latin-1 text (most Spanish, French...) with none of the `drop` characters: its accents
    folded as bytes, in the same pass that checks for them; None for any other text."""
    if s[:1] > "\xff":                  # (CJK text: no)
        return None
    b = s.encode("latin-1", "ignore")
    if len(b) != len(s):
        return None
    t = b.translate(_FOLD_LATIN1, drop)
    return t.decode("latin-1") if len(t) == len(b) else None


def _prep(s: str) -> str:
    if not s.isascii():                 # ASCII needs neither NFKC nor accent/kana folding
        # nothing for NFKC either: what the path below gives, without the NFKC check
        t = _latin1_folded(s, _NFKC_OR_LONG_DEL)
        if t is not None:
            return _acronyms(t)
        s = nfkc(s)
        # no look-alikes, no kana, and no invisible character but the soft hyphen (in
        # _FOLD_LONG, which the general path below folds)
        t = _latin1_folded(s, _FOLD_LONG_DEL)
        if t is not None:
            return _acronyms(t)
        if _unmask_or_fold(s):      # (most CJK text: neither)
            if _UNMASK_CHARS.search(s) is not None:
                s = _unmask(s)
            s = _fold_accents(s)
        if not s.isascii():
            s = _kana_fold(s)
    return _acronyms(s)


def _acronyms(s: str) -> str:
    if "." in s and _ACRONYM_HINT.search(s) is not None:
        s = _ACRONYM.sub(_acronym, s)   # U.S. -> US, U.N. -> UN
    return s


def prep(s: str) -> str:
    """NFKC, accents folded (Latin), punctuation unified, kana folds; case kept."""
    if len(s) <= 64:
        return _prep_cached(s)
    return _prep(s)


def fold(s: str) -> str:
    """`prep` and lower-case: the form aliases are compared in."""
    return prep(s).lower()


# ------------------------------------------------------------------------ scripts
_KANA_CHARS = re.compile(r"[\u3040-\u30ff]")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_CJK_CHARS = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]")     # any of the three

_STOP = {
    "en": "the of to in and a for on with says said after is are was will over as at by from its "
          "new us who has have be not it that this than more".split(),
    "es": "el la los las de del que y en un una por con para se su sus al es lo como tras "
          "sobre mas pero ante entre sin ya".split(),
    "pt": "o os as do da dos das que e em um uma por com para se seu sua ao no na nos nas "
          "apos sobre mais".split(),
    "fr": "le la les des du de et en un une pour avec sur au aux est que qui dans par ne "
          "pas se ce cette".split(),
    "de": "der die das und den dem des ein eine nicht mit auf fur ist im zu von sich nach "
          "vor bei aus wird".split(),
    "it": "il lo la gli le di del della dei che e un una per con su al alla nel nella "
          "sono".split(),
}
_STOP_SETS = {k: frozenset(v) for k, v in _STOP.items()}
_LANGS = tuple(_STOP)
_LATIN_TOKEN = re.compile(r"[a-z0-9]+")


_CJK_SCRIPT = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")


def weak_alias(text: str, case_sensitive: bool = False) -> str | None:
    """Why an alias would match nearly every text (None: it is fine). After folding, a Latin-script
    alias needs 2 letters or digits and at least one word that is not a stop word of a supported
    language: `(a+)+$` folds to "a", `The` to "the". Japanese, Chinese and Korean aliases are
    exempt (one kanji can be a name: 米, 中), and so is a case-sensitive alias from the stop-word
    rule (`US` written `case: sensitive` is not the word "us")."""
    if _CJK_SCRIPT.search(text):
        return None
    folded = fold(text)
    words = _LATIN_TOKEN.findall(folded) + re.findall(r"[^\W\d_a-z]+", folded)
    letters = sum(len(w) for w in words)
    if letters < 2:
        shown = " ".join(words) or folded.strip() or text
        return f"folds to {shown!r}: shorter than 2 letters, it would match almost any text"
    if not case_sensitive and all(any(w in s for s in _STOP_SETS.values()) for w in words):
        return (f"folds to {' '.join(words)!r}, only stop words: it would match almost any text "
                "in that language")
    return None


def detect_lang(text: str, default: str | None = None, *, folded: str | None = None,
                words: set[bytes] | None = None) -> str | None:
    """Cheap script + stop-word language guess. Returns `default` when unsure. Pass `folded`
    (fold(text)) when the caller has it already, and `words`, set(ascii_words(folded)), too."""
    if text.isascii():
        return _latin_lang(folded if folded is not None else text.lower(), default, words)
    if _CJK_CHARS.search(text):          # one scan for Latin text with accents
        if _KANA_CHARS.search(text):
            return "ja"
        if _HANGUL.search(text):
            return "ko"
        if _HAN.search(text):
            return "ja" if default == "ja" else "zh"
    return _latin_lang(folded if folded is not None else fold(text), default,
                       words if folded is not None else None)


# ASCII letters and digits kept, every other byte a space: bytes.split() then gives the tokens
# of _LATIN_TOKEN (non-ASCII characters are first encoded as "?", one byte each)
ASCII_WORDS = bytes(c if (0x30 <= c <= 0x39 or 0x61 <= c <= 0x7A) else 0x20 for c in range(256))
_STOP_BYTES = tuple(frozenset(w.encode() for w in _STOP_SETS[lang]) for lang in _LANGS)
_STOP_ANY = frozenset().union(*_STOP_BYTES)


def ascii_words(folded: str) -> list[bytes]:
    """_LATIN_TOKEN.findall(folded) as bytes, in one C pass (encode, translate, split)."""
    return folded.encode("ascii", "replace").translate(ASCII_WORDS).split()


# each stop word's languages as a vector of byte-wide counters (language i: bits 8i..8i+7):
# the sum over an item's stop words holds every language's count (at most 255 words each)
_STOP_VEC = {w: sum(1 << 8 * i for i, s in enumerate(_STOP_BYTES) if w in s) for w in _STOP_ANY}
assert len(_LANGS) == 6 and max(map(len, _STOP_BYTES)) < 256


def _latin_lang(folded: str, default: str | None, words: set[bytes] | None = None) -> str | None:
    stop = _STOP_ANY.intersection(ascii_words(folded) if words is None else words)
    if not stop:
        return default
    v = sum(map(_STOP_VEC.__getitem__, stop))                         # one C loop
    counts = [v & 255, v >> 8 & 255, v >> 16 & 255, v >> 24 & 255, v >> 32 & 255, v >> 40]
    top = max(counts)
    if default in _LANGS and counts[_LANGS.index(default)] == top:
        return default
    if sorted(counts)[-2] == top:
        return default or _LANGS[counts.index(top)]
    return _LANGS[counts.index(top)]
