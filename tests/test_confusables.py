"""Evasion: homoglyphs and invisible characters inside names still match; real Cyrillic is kept."""
from __future__ import annotations

from hypothesis import given, strategies as st

from bot.core.confusables import CONFUSABLE_LATIN, drop_invisible, fold_confusables
from bot.core.matcher import Matcher
from bot.core.model import Entry
from bot.core.normalize import fold, prep
from bot.core.watchlist import Watchlist

WL = Watchlist(name="venezuela", aliases={"en": ["Maduro", "Venezuela"], "ru": ["Мадуро"]})


def hits(title: str) -> set[str]:
    return {h.alias for h in Matcher([WL]).match(Entry(id="1", feed="f", title=title, link=""))}


def test_cyrillic_and_greek_lookalikes_inside_latin_names_match():
    assert hits("Mаduro speaks") == {"Maduro"}                # Cyrillic а
    assert hits("Crisis in Vеnеzuеlа") == {"Venezuela"}       # Cyrillic е, а
    assert hits("ΜADURO") == {"Maduro"}                       # Greek capital Mu
    assert hits("Маduro") == {"Maduro"}                       # Cyrillic М and а


def test_invisible_characters_inside_names_match():
    for ch in ("\u200b", "\u200c", "\u200d", "\u2060", "\u00ad", "\ufeff", "\u200e", "\u202e",
               "\u2066", "\ufe0f"):
        assert hits(f"Ma{ch}duro in Vene{ch}zuela") == {"Maduro", "Venezuela"}, repr(ch)


def test_genuine_cyrillic_is_untouched():
    assert fold_confusables("Мадуро выступил в Каракасе") == "Мадуро выступил в Каракасе"
    assert hits("Мадуро выступил") == {"Мадуро"}
    assert fold("Мадуро") == "мадуро"


def test_folding_keeps_the_length_and_is_linear_in_shape():
    s = "Mаduro " * 10_000
    assert len(fold_confusables(s)) == len(s) and fold_confusables(s) == "Maduro " * 10_000


@given(st.text())
def test_fold_confusables_is_idempotent_and_length_preserving(s):
    once = fold_confusables(s)
    assert len(once) == len(s) and fold_confusables(once) == once


@given(st.text())
def test_drop_invisible_only_removes(s):
    out = drop_invisible(s)
    assert len(out) <= len(s) and drop_invisible(out) == out


def test_table_maps_to_ascii_letters_only():
    assert all(len(v) == 1 and v.isascii() and v.isalpha() for v in CONFUSABLE_LATIN.values())
    assert CONFUSABLE_LATIN["а"] == "a" and CONFUSABLE_LATIN["Ο"] == "O"
    assert prep("Mаduro") == "Maduro"
