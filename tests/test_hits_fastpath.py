"""Fast paths of the checks on items that name an alias (bot.core.evidence, bot.core.matcher),
against the plain code they replaced (kept here as the reference):

* FieldView.surface: where a prepped span is in the item's own (NFKC) text, found with the
  tolerant pattern (separators between the characters, ヴァ for バ, accents, case);
"""
from __future__ import annotations

import re

from hypothesis import example, given, settings, strategies as st

from bot.core import evidence as ev
from bot.core.normalize import fold, prep


# ------------------------------------------------------------------ FieldView.surface
def _ref_tolerant(target: str) -> re.Pattern:
    parts = []
    for ch in target:
        p = ev._UNFOLD.get(ch) or re.escape(ch)
        if ch.isascii() and ch.isalpha():
            p = f"[{re.escape(ch)}{re.escape(''.join(ev._ACCENTED.get(ch.lower(), '')))}]"
        parts.append(p)
    return re.compile("[ー・=゠\\-‐]{0,2}".join(parts), re.I)


def ref_surface(fv: ev.FieldView, start: int, end: int):
    """FieldView.surface as it was: one pattern with the separator class between characters."""
    if len(fv.nf) == len(fv.prepped) and fold(fv.nf[start:end]) == fv.folded[start:end]:
        return start, end
    target = fv.prepped[start:end]
    if not target:
        return None
    nth = fv.prepped[:start].count(target)
    for k, m in enumerate(_ref_tolerant(target).finditer(fv.nf)):
        if k == nth:
            return m.start(), m.end()
    return None


SURFACE_PIECES = [
    "キューバ", "キュ・ーバ", "キュ-バ", "キューーーバ", "ヴェネズエラ", "ベネズエラ", "ヴァ", "バ", "ブ", "ヴ",
    "グリーンランド", "ドンロー主義", "ドンロ-主義", "マドゥロ", "首相", "ー", "・", "=", "゠", "-", "‐",
    "ーー", "・ー", "-‐", "ｷｭｰﾊﾞ", "Díaz-Canel", "DIAZ", "diaz", "Díaz", "é", "a", "A", "ß", "ss",
    "\u0130", "K", "\u212a", "ſ", " ", "、", "Cuba", "CUBA", "cubá", "キュ", "ーバ", "グリ", "ランド",
    "Cu", "ba",
]
surface_texts = st.lists(st.sampled_from(SURFACE_PIECES), max_size=12).map("".join)


def _all_spans(fv: ev.FieldView):
    n = len(fv.prepped)
    return [(s, e) for s in range(n + 1) for e in range(s, min(n, s + 12) + 1)]


@settings(max_examples=300, deadline=None)
@given(surface_texts, st.one_of(st.none(), surface_texts))
@example("キュ・ーバとキューバ", None)
@example("キュ-ーバ、キューバ", None)
@example("Díaz-Canel y DIAZ-CANEL", None)
@example("キュ=ーバ、キュ゠ーバ、キュ‐バ、キュ・・バ、キューバ", None)
def test_surface_equals_the_one_pattern_search(original, prepped):
    """Every span of the prepped text (or of an unrelated text standing for it) is found where
    the old single-pattern search found it."""
    fv = ev.FieldView(original, prep(original) if prepped is None else prepped)
    for s, e in _all_spans(fv):
        assert fv.surface(s, e) == ref_surface(fv, s, e), (original, fv.prepped, s, e)
