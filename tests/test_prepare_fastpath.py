"""The per-item prepare step's fast paths against the plain ones they stand for.

* PhraseIndex.may_find given the folded head and its word set (as process.prepare passes them)
  never says no where `find` gives an occurrence of a primary phrase;
* the quiet set (words may_find skips) only takes words whose typo look-up is complete;
* the acronym pre-check of normalize never skips a text _ACRONYM would change, and the kana
  separator fold (separator first) equals the look-behind pattern;
* prepare() hands the duplicate check the summary lower-cased, whether it takes it from the
  folded head or lower-cases it again.
"""
from __future__ import annotations

import re
from pathlib import Path

from hypothesis import example, given, settings, strategies as st

import bot.core.normalize as N
from bot.core.matcher import Matcher
from bot.core.model import Entry
from bot.core.normalize import ascii_words, prep
from bot.core.phrases import Phrase, PhraseIndex

from tests.test_match_fastpath import WARM, by_ref, primary_occurrences, texts
from tests.test_phrases import SHIPPED_LIKE

ROOT = Path(__file__).resolve().parents[1]


def _head(tp: str, sp: str) -> str:
    return f"{tp} {sp}".lower()       # process.prepare's folded head (summary held whole)


@settings(max_examples=500, deadline=None)
@given(texts, texts)
@example("Claudia Sheinbaum", "")
@example("", "ベネズエエラ")
@example("キューバ", "Markets")
@example("Markets", "シェインバム")
@example("a b c", "Shienbaum")
def test_may_find_with_the_folded_head_never_misses_a_primary_phrase(title, summary):
    tp, sp = prep(title), prep(summary)
    folded = _head(tp, sp)
    words = set(ascii_words(folded))
    for idx in (WARM, PhraseIndex(SHIPPED_LIKE, primary=by_ref)):     # warm, then cold
        want = primary_occurrences(idx, by_ref, (title, summary))
        for args in ((words, folded), (words, None), (None, folded)):
            got = idx.may_find((tp, sp), *args)
            if want:
                assert got, args
            # the answer is the same whichever of the shared forms the caller passes
            assert got == idx.may_find((tp, sp)), args


def test_the_quiet_set_takes_only_words_whose_look_up_is_complete():
    """A word another thread is still looking up (in the seen set, not yet in the typo cache)
    must not become quiet: once its look-up is done, may_find must see the typo."""
    idx = PhraseIndex([Phrase("Sheinbaum", 1, fuzzy="auto")])
    typo = b"shienbaum"
    idx._fuzzy_seen.add(typo)               # "being looked up" by another thread
    idx.may_find(("Shienbaum said", "markets rally"))
    assert typo not in idx._quiet
    idx._fuzzy(typo, idx._typo_buckets[(typo[0], len(typo))], idx._fuzzy_cache)   # done
    assert idx.may_find(("Shienbaum said", "markets rally"))
    # words this call looked up itself are quiet afterwards, a primary phrase's word never
    idx.may_find(("Sheinbaum spoke of tariffs", "markets"))
    assert {b"spoke", b"tariffs", b"markets"} <= idx._quiet
    assert b"sheinbaum" not in idx._quiet
    assert idx.may_find(("Sheinbaum spoke of tariffs", "markets"))


def _acronyms_reference(s: str) -> str:
    return N._ACRONYM.sub(N._acronym, s)


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet="AUSZaz. .\n-1é", max_size=24))
@example("U.S. and U.N.")
@example("A.B")
@example("x.A.B.")
@example("the U.S.")
@example("É.U.A.")
def test_acronym_pre_check_never_skips_an_acronym(s):
    assert N._acronyms(s) == _acronyms_reference(s)


# the kana separator fold as it was written first (a look-behind at every position)
_KANA_SEP_REFERENCE = re.compile(f"(?<=[{N._KANA}ー])[・=゠\\-‐](?=[{N._KANA}])")


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet="アカヺァー・=゠-‐ 漢a", max_size=24))
@example("ディアス・カネル")
@example("ー・ア")
@example("ア・・イ")
@example("ア・イ=ウ-エ‐オ゠カ")
def test_kana_separator_fold_equals_the_look_behind_pattern(s):
    assert N._KANA_SEP.sub("", s) == _KANA_SEP_REFERENCE.sub("", s)


summary_text = st.lists(st.sampled_from(["la casa ", "Σ", "ΣΑΣ ", "İ", "キューバ ", "\u3000", "U.S. ",
                                         "Venezuela ", "Maduro", " ", "ß", "ﬁ"]),
                        max_size=120).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["Markets", "ΟΔΟΣ", "İstanbul", "", "米国 Σ"]), summary_text,
       st.sampled_from(["en", "ja", "es", None]))
@example("ΟΔΟΣ", "Σ " * 150, "en")
@example("Markets", "x" * 299 + "İ", "en")
@example("Markets", "x" * 300, "en")
def test_prepare_hands_dedup_the_summary_lower_cased(title, summary, lang):
    """prepare() takes the folded summary from the folded head when it can: the duplicate
    check gets what it gets from prep(summary)[:400].lower()."""
    import bot.core.process as process
    m = _matcher()
    e = Entry(id="x", feed="f", title=title, link="https://x.example/a", summary=summary,
              lang=lang)
    got = process.prepare(e, m).dedup
    sp = prep(summary)[:process.SUMMARY_KEPT]
    assert got.sig._sfold == sp.lower()
    assert got._sp == sp and got._tp == prep(title)


_M: list = []


def _matcher():
    if not _M:
        from bot.adapters.config import load_config
        _M.append(Matcher(load_config(ROOT / "watchlists").watchlists))
    return _M[0]
