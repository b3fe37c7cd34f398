"""The per-item prepare step's fast paths against the plain ones they stand for.

* PhraseIndex.may_find given the folded head and its word set (as process.prepare passes them)
  never says no where `find` gives an occurrence of a primary phrase;
* the quiet set (words may_find skips) only takes words whose typo look-up is complete;
* the acronym pre-check of normalize never skips a text _ACRONYM would change, and the kana
  separator fold (separator first) equals the look-behind pattern;
* prep's test for characters to unmask or fold (BMP table + anything beyond) equals the exact
  character class;
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


# ------------------------------------------------------------------ canonical_url's fast path
_SIMPLE_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/:")
_QUERY_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~=&")


def canonical_url_reference(url: str) -> str:
    """canonical_url as it was written with character sets (before the one regex), with the
    later fix: a "//" right after the host goes to the general path too."""
    from bot.core.urlclean import _canonical_slow, _plain_query
    url = (url or "").strip()
    if not url:
        return ""
    if url.startswith(("https://", "http://")):
        base, q, query = url.partition("?")
        if _SIMPLE_OK.issuperset(base) and (not q or _QUERY_OK.issuperset(query)):
            rest = base[base.index("//") + 2:]
            host, slash, path = rest.partition("/")
            if host and ":" not in host and "//" not in path and not path.startswith("/"):
                path = "/" + path.rstrip("/") if path.strip("/") else "/"
                base = "https://" + host.lower().rstrip(".") + path
                if query:
                    query = _plain_query(query)
                    if query is None:
                        return _canonical_slow(url)
                    if query:
                        return base + "?" + query
                return base
    return _canonical_slow(url)


_url_pieces = st.sampled_from(
    ["https://", "http://", "HTTP://", "www.", "News.Example", ".", ":", ":443", "/", "//", "a",
     "B", "0", "-", "_", "~", "?", "&", "=", "#", "%20", "+", "@", "é", " ", "\n",
     "utm_source=rss", "fbclid=x", "p=2", "a=1", "k=", "q=x=y"])


@settings(max_examples=1000, deadline=None)
@given(st.lists(_url_pieces, max_size=14))
@example(["https://", "a", "//", "a"])
@example(["https://", "a", "/", "a", "//", "a"])
@example(["http://", "News.Example", ".", "?", "p=2", "&", "utm_source=rss"])
@example(["https://", "a", ":443", "/", "a"])
@example(["https://", "a", "?", "q=x=y"])
@example(["https://", "a", "/", ":", "/"])
def test_canonical_url_equals_the_character_set_version(parts):
    from bot.core.urlclean import canonical_url
    url = "".join(parts)
    assert canonical_url(url) == canonical_url_reference(url)


# ------------------------------------------------------------------ may_find's katakana check
@st.composite
def kana_runs_text(draw):
    """A one-edit typo of a shipped typo-tolerant katakana alias among other katakana runs that
    hold the aliases' edge kana too (decoys before and after), in the title or the summary."""
    m = _matcher()
    kana = _shipped_kana()
    alias = draw(st.sampled_from(kana))
    i = draw(st.integers(0, len(alias)))
    op = draw(st.integers(0, 3))
    c = draw(st.sampled_from("ンアシェ"))
    typo = [alias[:i] + c + alias[i:], alias[:i] + c + alias[i + 1:], alias[:i] + alias[i + 1:],
            alias[:i] + alias[i + 1:i + 2] + alias[i:i + 1] + alias[i + 2:]][op]
    keys = m.index._may_kana_keys
    decoys = [draw(st.sampled_from(keys)) + draw(st.sampled_from(["", "ア", "ンタ", "ロス"]))
              for _ in range(draw(st.integers(0, 3)))]
    parts = decoys + [typo] + [draw(st.sampled_from(keys)) for _ in range(draw(st.integers(0, 2)))]
    sep = draw(st.sampled_from(["、", "の", "と", " "]))
    text = sep.join(parts)
    return (text, "") if draw(st.booleans()) else ("米国", text)


_KANA: list = []


def _shipped_kana() -> list[str]:
    if not _KANA:
        from bot.adapters.config import load_config
        w = load_config(ROOT / "watchlists").watchlists
        _KANA.extend(sorted({prep(a.text) for wl in w.values() for _l, a in wl.all_aliases()
                             if a.match != "exact" and len(prep(a.text)) >= 5
                             and all("ァ" <= c <= "ヺ" for c in prep(a.text))}))
    return _KANA


@settings(max_examples=600, deadline=None)
@given(kana_runs_text())
def test_may_find_checks_the_katakana_run_that_holds_the_typo(pair):
    title, summary = pair
    m = _matcher()
    want = any(o.phrase.ref.role == "alias" for t in pair for o in m.index.find(t))
    tp, sp = prep(title), prep(summary)
    folded = f"{tp} {sp}".lower()
    if want:
        assert m.index.may_find((tp, sp), set(ascii_words(folded)), folded)
        assert m.index.may_find((tp, sp))


# ------------------------------------------------------------------ prep's "anything to fold?" test
_BEYOND_BMP = [c for c in N.INVISIBLE | frozenset(N.CONFUSABLE_LATIN) if ord(c) > 0xFFFF]


@settings(max_examples=800, deadline=None)
@given(st.text(alphabet=st.sampled_from(
    ["a", "キ", "国", " ", "é", "“", "\u200b", "\u00ad", "а", "Α", "😀", "𝐀", "\U0010fffd"]
    + _BEYOND_BMP + sorted(N.INVISIBLE)[:8] + [chr(c) for c in sorted(N._FOLD)[::40]]),
    max_size=12))
@example("\U0001d20d")
@example("キ😀")
def test_unmask_or_fold_pre_check_equals_the_exact_class(s):
    assert N._unmask_or_fold(s) == (N._UNMASK_OR_FOLD.search(s) is not None)


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=16)
       | st.text(alphabet="aé ª²½µ¨¯´¸¹º¼¾\u00a0\u00adßæÆþÞ.U.S", max_size=16))
@example("Año ½ más")
@example("Caf\u00e9\u00a0«x»")
@example("e\u00b4")
def test_prep_of_latin1_text_equals_the_plain_chain(s):
    from tests.test_phrases import reference_prep
    assert N._prep(s) == reference_prep(s)
