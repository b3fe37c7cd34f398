"""Text normalisation for matching and de-duplication (pure, no I/O).

`prep` keeps letter case (so case-sensitive aliases can be checked); `fold` is `prep` lower-cased.
Both are length-preserving with respect to each other, so spans found in one are valid in the other.
"""
from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache

# ----------------------------------------------------------------------------- HTML
_DROP_BLOCKS = re.compile(r"<(script|style|noscript)\b.*?</\1\s*>", re.I | re.S)
_TAG = re.compile(r"<[^>]{0,2000}>")
_WS = re.compile(r"\s+")


def strip_html(s: str | None) -> str:
    """HTML or escaped HTML -> plain text: tags dropped, entities decoded, whitespace collapsed."""
    if not s:
        return ""
    for _ in range(2):  # handles HTML carried as escaped text and double-escaped entities
        if "<" in s:
            s = _DROP_BLOCKS.sub(" ", s)
            s = _TAG.sub(" ", s)
        if "&" in s:
            s = html.unescape(s)
    return _WS.sub(" ", s).strip()


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
_KANA_SEP = re.compile(f"(?<=[{_KANA}ー])[・=゠\\-‐](?=[{_KANA}])")


def _kana_fold(s: str) -> str:
    if "ヴ" in s:
        s = _VU_RE.sub(lambda m: _VU[m.group(0)], s)
    if "・" in s or "=" in s or "゠" in s or "-" in s:
        s = _KANA_SEP.sub("", s)
    if "ー" in s:
        s = s.replace("ー", "")
    return s


_ACRONYM = re.compile(r"\b(?:[A-Z]\.){2,}")


def _acronym(m: re.Match) -> str:
    return m.group(0).replace(".", "")


@lru_cache(maxsize=4096)
def _prep_cached(s: str) -> str:
    return _prep(s)


def _prep(s: str) -> str:
    if not s.isascii():                 # ASCII needs neither NFKC nor accent/kana folding
        s = unicodedata.normalize("NFKC", s).translate(_FOLD)
        if not s.isascii():
            s = _kana_fold(s)
    if "." in s and _ACRONYM.search(s):
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


def detect_lang(text: str, default: str | None = None, *, folded: str | None = None) -> str | None:
    """Cheap script + stop-word language guess. Returns `default` when unsure. Pass `folded`
    (fold(text)) when the caller has it already."""
    if text.isascii():
        return _latin_lang(folded if folded is not None else text.lower(), default)
    if _KANA_CHARS.search(text):
        return "ja"
    if _HANGUL.search(text):
        return "ko"
    if _HAN.search(text):
        return "ja" if default == "ja" else "zh"
    return _latin_lang(folded if folded is not None else fold(text), default)


def _latin_lang(folded: str, default: str | None) -> str | None:
    words = set(_LATIN_TOKEN.findall(folded))
    counts = [len(words & _STOP_SETS[lang]) for lang in _LANGS]    # set operations, in C
    top = max(counts)
    if top == 0:
        return default
    if default in _LANGS and counts[_LANGS.index(default)] == top:
        return default
    if sorted(counts)[-2] == top:
        return default or _LANGS[counts.index(top)]
    return _LANGS[counts.index(top)]
