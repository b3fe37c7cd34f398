"""Evasion-proof matching: invisible format characters and mixed-script homoglyphs (pure, no I/O).

"Mаduro" with a Cyrillic а, or "Ven\u200dezuela" with a zero-width joiner, must match "Maduro" and
"Venezuela". Two small steps, applied in `normalize.prep` before case and accent folding:

* `drop_invisible`: format characters that render as nothing (ZWSP/ZWNJ/ZWJ, word joiner, soft
  hyphen, BOM, bidi marks and embeddings/isolates, variation selectors, invisible operators).
* `fold_confusables`: in a word that mixes Latin letters with Cyrillic, Greek or Armenian letters
  that look like Latin ones, those letters become their Latin prototype. A word with no Latin
  letter is left alone, so genuine Cyrillic or Greek text ("Мадуро") is untouched.

Both are linear (one regex pass, one translate) and `fold_confusables` keeps the length.

The table: Unicode TR39 confusables (confusables.txt) restricted to Cyrillic, Greek and Armenian
letters whose prototype is one ASCII letter; generated once from the confusables.json data of the
PyPI package confusable_homoglyphs 3.3.1 (a copy of confusables.txt; the package itself is not a
dependency: its last release is from January 2024) with

    for ch, lst in confusables.items():                     # the package's confusables.json
        if len(ch) == 1 and unicodedata.name(ch, "").startswith(("CYRILLIC", "GREEK", "ARMENIAN")):
            cands = [e["c"] for e in lst if len(e["c"]) == 1 and e["c"].isascii() and e["c"].isalpha()]
            same = [c for c in cands if c.isupper() == ch.isupper()]
            if cands: table[ch] = (same or cands)[0]        # uppercase "l" prototypes become "I"
"""
from __future__ import annotations

import re

CONFUSABLE_LATIN: dict[str, str] = {
    "\u037a": "i", "\u037f": "J", "\u0391": "A", "\u0392": "B", "\u0395": "E", "\u0396": "Z",
    "\u0397": "H", "\u0399": "I", "\u039a": "K", "\u039c": "M", "\u039d": "N", "\u039f": "O",
    "\u03a1": "P", "\u03a4": "T", "\u03a5": "Y", "\u03a7": "X", "\u03b1": "a", "\u03b3": "y",
    "\u03b9": "i", "\u03bd": "v", "\u03bf": "o", "\u03c1": "p", "\u03c3": "o", "\u03c5": "u",
    "\u03d2": "Y", "\u03dc": "F", "\u03f1": "p", "\u03f2": "c", "\u03f3": "j", "\u03f9": "C",
    "\u03fa": "M", "\u0405": "S", "\u0406": "I", "\u0408": "J", "\u0410": "A", "\u0412": "B",
    "\u0415": "E", "\u041a": "K", "\u041c": "M", "\u041d": "H", "\u041e": "O", "\u0420": "P",
    "\u0421": "C", "\u0422": "T", "\u0423": "Y", "\u0425": "X", "\u042c": "b", "\u0430": "a",
    "\u0433": "r", "\u0435": "e", "\u043e": "o", "\u0440": "p", "\u0441": "c", "\u0443": "y",
    "\u0445": "x", "\u0455": "s", "\u0456": "i", "\u0458": "j", "\u0461": "w", "\u0474": "V",
    "\u0475": "v", "\u04ae": "Y", "\u04af": "y", "\u04bb": "h", "\u04bd": "e", "\u04c0": "I",
    "\u04cf": "i", "\u0501": "d", "\u050c": "G", "\u051b": "q", "\u051c": "W", "\u051d": "w",
    "\u054d": "U", "\u054f": "S", "\u0555": "O", "\u0561": "w", "\u0563": "q", "\u0566": "q",
    "\u0570": "h", "\u0578": "n", "\u057c": "n", "\u057d": "u", "\u0581": "g", "\u0584": "f",
    "\u0585": "o", "\u1d26": "r", "\u1fbe": "i", "\ua647": "i", "\U0001d20d": "V", "\U0001d213": "F",
    "\U0001d216": "R", "\U0001d22a": "L",
}

_INVISIBLE_RANGES = ((0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
                     (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
                     (0x2060, 0x2064), (0x2066, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F),
                     (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0))
INVISIBLE = frozenset(chr(c) for lo, hi in _INVISIBLE_RANGES for c in range(lo, hi + 1))
_DROP = dict.fromkeys(map(ord, INVISIBLE))
_TO_LATIN = str.maketrans(CONFUSABLE_LATIN)
_CONFUSABLE = frozenset(CONFUSABLE_LATIN)
_WORD = re.compile(r"[^\W\d_]+")
_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")


def drop_invisible(s: str) -> str:
    """`s` without zero-width and other invisible format characters."""
    return s.translate(_DROP) if not INVISIBLE.isdisjoint(s) else s


def _fold_word(m: re.Match) -> str:
    word = m.group(0)
    if _LATIN_LETTER.search(word) and not _CONFUSABLE.isdisjoint(word):
        return word.translate(_TO_LATIN)
    return word


def fold_confusables(s: str) -> str:
    """Latin look-alikes in mixed-script words -> Latin (same length); other words untouched."""
    if _CONFUSABLE.isdisjoint(s):
        return s
    return _WORD.sub(_fold_word, s)
