"""The matcher's fast paths against the plain ones they stand for.

* PhraseIndex.may_find (the "no candidate at all" answer) is never False for a text pair in which
  `find` gives an occurrence of a primary phrase (exact or typo), cold or with warm caches;
* Matcher.match equals the full scan + resolve on every entry;
* the lexicon's look-ups (WordSet.find/starts/ends/cjk_prefix/cjk_suffix) equal the plain loops.
"""
from __future__ import annotations

import random
from pathlib import Path

from hypothesis import example, given, settings, strategies as st

from bot.adapters.config import load_config
from bot.core.lexicon import WordSet, lexicon
from bot.core.matcher import Matcher
from bot.core.model import Entry
from bot.core.normalize import prep
from bot.core.phrases import Phrase, PhraseIndex

from tests.test_phrases import PIECES, SEPS, SHIPPED_LIKE, phrase_st

ROOT = Path(__file__).resolve().parents[1]
KATAKANA = [chr(c) for c in range(ord("ァ"), ord("ヺ") + 1)]


def edited(word: str, rnd: random.Random) -> str:
    """`word` with one random edit (substitution, insertion, deletion or transposition)."""
    i = rnd.randrange(len(word))
    op = rnd.randrange(4)
    if op == 0:
        return word[:i] + rnd.choice(KATAKANA) + word[i + 1:]
    if op == 1:
        return word[:i] + rnd.choice(KATAKANA) + word[i:]
    if op == 2:
        return word[:i] + word[i + 1:]
    i = min(i, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


def primary_occurrences(idx: PhraseIndex, primary, texts) -> bool:
    return any(primary(o.phrase) for t in texts for o in idx.find(t))


def by_ref(p: Phrase) -> bool:      # a third of the phrases are not primary
    return isinstance(p.ref, int) and p.ref % 3 != 0


# one index for the whole run: warm caches (words already looked up) must not hide a phrase
WARM = PhraseIndex(SHIPPED_LIKE, primary=by_ref)
KANA_ALIASES = [p.text for p in SHIPPED_LIKE if p.fuzzy != "off" and prep(p.text).isalpha()
                and not prep(p.text).isascii()]

piece_text = st.lists(st.one_of(st.sampled_from(PIECES), st.sampled_from(SEPS),
                                st.text(alphabet="abcuéü -'キュバー米国", max_size=6)),
                      max_size=16).map("".join)


@st.composite
def kana_typo_text(draw):
    """Text around a katakana alias with one edit at any place (the prefilter's worst case)."""
    rnd = random.Random(draw(st.integers(0, 2**32)))
    alias = prep(draw(st.sampled_from(KANA_ALIASES)))
    return draw(st.sampled_from(["", "米国の", "ア", "と"])) + edited(alias, rnd) + \
        draw(st.sampled_from(["", "氏", "ン", "、キューバ"]))


texts = piece_text | kana_typo_text()


@settings(max_examples=500, deadline=None)
@given(texts, texts)
@example("Claudia  Sheinbaum   Pardo", "")
@example("", "ベネズエエラ")                     # one insertion in a 5-kana alias
@example("ネベズエラ", "")                       # a transposition at its start
@example("ベネスエラ", "")                       # a substitution in the middle
@example("", "シェインバム")                     # a deletion near the end of a 7-kana alias
@example("シェインバウ厶", "")                    # a substitution at its end
@example("a b c d e f g", "Shienbaum")
def test_may_find_never_misses_a_primary_phrase(title, summary):
    for idx in (WARM, PhraseIndex(SHIPPED_LIKE, primary=by_ref)):     # warm, then cold
        if primary_occurrences(idx, by_ref, (title, summary)):
            assert idx.may_find((prep(title), prep(summary)))
        assert idx.may_find((prep(title), prep(summary))) == \
            idx.may_find((prep(title), prep(summary)))               # caches change nothing


@settings(max_examples=300, deadline=None)
@given(st.lists(phrase_st, max_size=8), st.text(alphabet="abAB -'.,&/キュバ米国|", max_size=30),
       st.text(alphabet="abAB -'.,&/キュバ米国|", max_size=30))
def test_may_find_with_any_phrase_set(phrases, title, summary):
    idx = PhraseIndex(phrases, primary=lambda p: p.case_sensitive)
    for _ in range(2):
        if primary_occurrences(idx, lambda p: p.case_sensitive, (title, summary)):
            assert idx.may_find((prep(title), prep(summary)))


def test_may_find_says_no_for_text_without_candidates():
    idx = PhraseIndex(SHIPPED_LIKE)
    for t in ("Markets fall as rates rise", "国会で予算案が可決された", "", "Cubano discute la ley"):
        assert not idx.may_find((prep(t), prep(t + " again")))


# ------------------------------------------------------------------------------ the matcher
def shipped_aliases(watchlists) -> list[str]:
    out = []
    for w in watchlists.values():
        for _l, a in w.all_aliases():
            out += [a.text, *a.context, *a.unless]
        out += [*w.context, *w.excludes]
    return out


def test_match_equals_the_full_scan():
    watchlists = load_config(ROOT / "watchlists").watchlists
    m = Matcher(watchlists)
    words = shipped_aliases(watchlists) + [
        "the", "president", "said", "Street", "Marilyn", "former", "大統領", "氏", "料理", "通り",
        "sandwich", "Inc", "2-1", "U.S.", "vs", "County", "Texas", ",", ".", "・", "『", "』"]
    rnd = random.Random(9)
    entries = []
    for i in range(3000):
        def text():
            parts = [rnd.choice(words) for _ in range(rnd.randint(0, 10))]
            parts = [edited(p, rnd) if p and rnd.random() < 0.15 else p for p in parts]
            return rnd.choice([" ", " ", "", "-", "、"]).join(parts)
        entries.append(Entry(id=str(i), feed="f", title=text(), link="https://x.example/a",
                             summary=text() if i % 4 else "", lang=rnd.choice([None, "en", "ja"])))
    found = 0
    for e in entries:
        prepped = (prep(e.title), prep(e.summary))
        full = m._resolve(e, prepped, m._scan(e, prepped)[0], None)
        assert m.match(e, prepped) == full, e
        assert m.match(e) == full
        found += bool(full)
    assert found > 300          # the entries do exercise hits


# ------------------------------------------------------------------------------ lexicon look-ups
def ref_find(ws: WordSet, tokens, folded):
    out = [t for t in tokens if t in ws.single]
    for m in ws.multi:
        k = len(m)
        for i in range(len(tokens) - k + 1):
            if tokens[i] == m[0] and tuple(tokens[i:i + k]) == m:
                out.append(" ".join(m))
    if ws._cjk_re is not None and not folded.isascii():
        out.extend(ws._cjk_re.findall(folded))
    return out


def ref_starts(ws: WordSet, tokens, i):
    for m in ws.multi:
        if tuple(tokens[i:i + len(m)]) == m:
            return " ".join(m)
    return tokens[i] if i < len(tokens) and tokens[i] in ws.single else None


def ref_ends(ws: WordSet, tokens, i):
    for m in ws.multi:
        k = len(m)
        if i - k + 1 >= 0 and tuple(tokens[i - k + 1:i + 1]) == m:
            return " ".join(m)
    return tokens[i] if 0 <= i < len(tokens) and tokens[i] in ws.single else None


def word_sets():
    lex = lexicon()
    sets = [lex.news, lex.titles, lex.former, lex.street_after, lex.street_before, lex.town_after,
            lex.business_after, lex.business_before, lex.places, lex.actors,
            *lex.domains.values(), *lex.sections.values()]
    return sets, sorted({t for ws in sets for t in ws.single} |
                        {t for ws in sets for m in ws.multi for t in m}), \
        sorted({m for ws in sets for m in ws.multi}), sorted({w for ws in sets for w in ws.cjk})


SETS, TOKENS, MULTI, CJK = word_sets()
token_lists = st.lists(st.sampled_from(TOKENS).map(lambda t: (t,)) | st.sampled_from(MULTI) |
                       st.sampled_from([("x",), ("the",), ("de",)]),
                       max_size=8).map(lambda parts: [t for p in parts for t in p])


@settings(max_examples=300, deadline=None)
@given(token_lists,
       st.lists(st.sampled_from(CJK) | st.sampled_from(["の", "は", "米国"]), max_size=4),
       st.integers(-3, 14))
def test_lexicon_lookups_equal_the_plain_loops(tokens, cjk, i):
    folded = " ".join(tokens) + "".join(cjk)
    for ws in SETS:
        assert ws.find(tokens, folded) == ref_find(ws, tokens, folded)
        if i < len(tokens) or i >= 0:
            try:
                want = ref_starts(ws, tokens, i)
            except IndexError:
                want = IndexError
            try:
                got = ws.starts(tokens, i)
            except IndexError:
                got = IndexError
            assert got == want
        assert ws.ends(tokens, i) == ref_ends(ws, tokens, i)
        s = "".join(cjk)
        assert ws.cjk_prefix(s) == next((w for w in ws.cjk if s.startswith(w)), None)
        assert ws.cjk_suffix(s) == next((w for w in ws.cjk if s.endswith(w)), None)


def test_may_find_sees_every_one_edit_typo_of_shipped_katakana_aliases():
    """Every single edit at every place of every typo-tolerant katakana alias (5+ kana) of the
    shipped watchlists: where `find` reports the typo, `may_find` says yes."""
    watchlists = load_config(ROOT / "watchlists").watchlists
    m = Matcher(watchlists)
    kana = sorted({prep(a.text) for w in watchlists.values() for _l, a in w.all_aliases()
                   if a.match != "exact" and len(prep(a.text)) >= 5
                   and all("ァ" <= c <= "ヺ" for c in prep(a.text))})
    assert any(len(k) == 5 for k in kana) and any(len(k) == 6 for k in kana)
    checked = 0
    for alias in kana:
        typos = set()
        for i in range(len(alias) + 1):
            typos |= {alias[:i] + "ン" + alias[i:], alias[:i] + "ン" + alias[i + 1:],
                      alias[:i] + alias[i + 1:], alias[:i] + alias[i + 1:i + 2] + alias[i:i + 1]
                      + alias[i + 2:]}
        for t in typos:
            text = f"国会で{t}について"
            if any(o.phrase.ref.role == "alias" for o in m.index.find(text)):
                checked += 1
                assert m.index.may_find(("", prep(text))), t
    assert checked > 100


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="ab9 -.ÉéキュΣ\u0130", max_size=30), st.integers(-2, 35))
@example("", 0)
@example("abc", 3)
def test_field_tokens_and_positions_equal_the_regex_scan(text, pos):
    from bot.core.evidence import TOKEN, FieldView
    fv = FieldView(text, prep(text))
    want = [(m.group(), m.start(), m.end()) for m in TOKEN.finditer(fv.folded)]
    assert FieldView(text, prep(text)).words == [t for t, _, _ in want]     # words first
    assert fv.tokens == want
    assert fv.index_at(pos) == next((i for i, (_, s, _) in enumerate(want) if s >= pos), len(want))


def reference_detect_lang(text, default=None):
    """detect_lang as it was: three script scans, stop words counted from the text's tokens."""
    import re as _re
    from bot.core.normalize import _LANGS, _STOP_SETS, fold
    if text.isascii():
        folded = text.lower()
    elif _re.search(r"[\u3040-\u30ff]", text):
        return "ja"
    elif _re.search(r"[\uac00-\ud7af]", text):
        return "ko"
    elif _re.search(r"[\u4e00-\u9fff]", text):
        return "ja" if default == "ja" else "zh"
    else:
        folded = fold(text)
    toks = set(_re.findall(r"[a-z0-9]+", folded))
    counts = [len(toks & _STOP_SETS[lang]) for lang in _LANGS]
    top = max(counts)
    if top == 0:
        return default
    if default in _LANGS and counts[_LANGS.index(default)] == top:
        return default
    if sorted(counts)[-2] == top:
        return default or _LANGS[counts.index(top)]
    return _LANGS[counts.index(top)]


lang_text = st.lists(st.sampled_from(
    "the of la el los que de und der die il che le les des is are 米国 キューバ 서울 中国 é ñ "
    "Ünd Él x y 12 , . Σ".split(" ") + [" ", " "]), max_size=20).map(" ".join)


@settings(max_examples=500, deadline=None)
@given(lang_text, st.sampled_from([None, "en", "es", "ja", "fr", "xx"]))
@example("Él y la casa de los 米国", "es")
@example("서울 and the", None)
def test_detect_lang_with_and_without_the_word_set(text, default):
    from bot.core.normalize import ascii_words, detect_lang, fold
    want = reference_detect_lang(text, default)
    assert detect_lang(text, default) == want
    folded = text.lower() if text.isascii() else fold(text)
    assert detect_lang(text, default, folded=folded) == want
    assert detect_lang(text, default, folded=folded, words=set(ascii_words(folded))) == want


def test_prepare_reads_the_whole_summary_whatever_its_length():
    """prepare() shares the head's words with the matcher only when the head holds the whole
    summary: an alias past the head (or cut by it) is still found, and the language is the
    head's."""
    import bot.core.process as process
    from bot.core.normalize import detect_lang
    watchlists = load_config(ROOT / "watchlists").watchlists
    m = Matcher(watchlists)
    checked = 0
    for n in range(280, 320):
        for alias in ("Venezuela", "Sheinbaum", "Greenland", "Caracas"):
            filler = ("la casa de los " * 40)[:n]
            for summary in (filler + alias, filler[:-3] + alias + " y el", filler + " " + alias):
                e = Entry(id="x", feed="f", title="Markets", link="https://x.example/a",
                          summary=summary, lang="en")
                got = process.prepare(e, m)
                tp, sp = prep(e.title), prep(e.summary)
                head = f"{tp} {sp[:300]}"
                lang = detect_lang(head, e.lang, folded=head.lower())
                assert got.lang == lang
                e2 = Entry(id="x", feed="f", title="Markets", link="https://x.example/a",
                           summary=summary, lang=lang)
                assert got.hits == m._resolve(e2, (tp, sp), m._scan(e2, (tp, sp))[0], None)
                checked += bool(got.hits)
    assert checked > 100


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet="aé\u0301\u0308ｶﾞｷﾊﾟＡ１\u3000ﬁ㍻Ⅻ가\u1100\u1161キュー", max_size=20) |
       st.text(max_size=20))
@example("ｶﾞ\u3099e\u0301\u0308")
def test_nfkc_is_unicodedata_nfkc(s):
    import unicodedata
    from bot.core.normalize import nfkc
    assert nfkc(s) == unicodedata.normalize("NFKC", s)
