"""Fast paths of the checks on items that name an alias (bot.core.evidence, bot.core.matcher),
against the plain code they replaced (kept here as the reference):

* FieldView.surface: where a prepped span is in the item's own (NFKC) text, found with the
  tolerant pattern (separators between the characters, ヴァ for バ, accents, case);
* FieldView.shape: (all caps, title case) of a field's words;
* ItemView.domain_words: the domain words of an item (fields with no domain key skipped);
* domain_evidence: the domains next to a name (looked up only when a domain key is there);
* PhraseIndex.find: an occurrence's text cut from the item's own text when the spans agree
  (instead of every occurrence made again);
* StoryIndex.weigh: each term's weight (rarity x place), the same floats in the same order.
"""
from __future__ import annotations

import re

from hypothesis import example, given, settings, strategies as st

import math

from bot.core import evidence as ev
from bot.core.lexicon import lexicon
from bot.core.model import Entry
from bot.core.stories import StoryIndex
from bot.core.story_features import Features
from bot.core.normalize import fold, prep
from bot.core.phrases import Occurrence, Phrase, PhraseIndex


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
    for _ in range(2):          # (asked again: the answers remembered)
        for s, e in _all_spans(fv):
            assert fv.surface(s, e) == ref_surface(fv, s, e), (original, fv.prepped, s, e)


# ------------------------------------------------------------------ StoryIndex.weigh
def ref_weights(index: StoryIndex, f: Features, lang) -> dict:
    """The weights as weigh() gave them, term by term."""
    n = max(index._n[lang], index.min_docs)
    w = {}
    for t in f.terms:
        x = math.log(1.0 + n / (index._df.get(t, 0) + 1))
        if t in f.title_terms:
            x *= 2.0
        if t in f.topic:
            x *= 0.3
        elif t in f.names:
            x *= 1.5
        w[t] = x
    return w


TERMS = [f"t{i}" for i in range(12)] + ["@マドゥロ", "#553", "~attack", "送電"]
term_sets = st.frozensets(st.sampled_from(TERMS), max_size=10)


@st.composite
def features_st(draw):
    terms = draw(term_sets)
    sub = st.frozensets(st.sampled_from(sorted(terms)), max_size=6) if terms else st.just(frozenset())
    # the headline, names and topic mostly within the terms, sometimes not (stored features)
    extra = st.frozensets(st.sampled_from(TERMS), max_size=2)
    return Features(draw(sub) | draw(extra), terms, draw(sub) | draw(extra), frozenset(),
                    frozenset(), frozenset(), frozenset(), False, topic=draw(sub) | draw(extra))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(features_st(), st.sampled_from(["en", "ja"])), min_size=1, max_size=12),
       st.integers(1, 5))
def test_weigh_equals_the_term_by_term_weights(reports, min_docs):
    """As reports arrive (the rarity of each term and the report count change), each new
    report's weights equal the term-by-term ones: the same floats, keys in the same order,
    the same sum."""
    index = StoryIndex(min_docs=min_docs)
    for k, (f, lang) in enumerate(reports):
        want = ref_weights(index, f, lang)
        index.weigh(f, lang)
        assert list(f.w.items()) == list(want.items())
        assert f.wsum == math.fsum(want.values())
        index.add(f"id{k}", f"id{k}", lang, float(k), {"wl"}, f)


# ------------------------------------------------------------------ FieldView.shape
def ref_shape(prepped: str) -> tuple[bool, bool]:
    words = re.findall(r"[^\W\d_]{4,}", prepped)
    letters = [w for w in words if w.isascii() or w.isalpha()]
    caps = sum(1 for w in letters if w[0].isupper())
    upper = sum(1 for w in letters if w.isupper())
    n = len(letters)
    return (n >= 2 and upper == n, n >= 3 and caps >= 0.8 * n and upper < n)


SHAPE_PIECES = ["Cuba", "CUBA", "cuba", "Maduro", "MADURO", "the", "The", "Venezuela", "Sanctions",
                "sanctions", "US", "NATO", "a1b2", "Abc_Def", "ABC1D", "Ⅳ", "ⅣⅣⅣⅣ", "ßtraße", "STRASSE",
                "İstanbul", "ÉLYSÉE", "Élysée", "キューバ", "首相", "ǅemal", "Ǆ", " ", "-", "'", ". ", "\n",
                "٣٤٥٦", "x", "X", "Ab"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(SHAPE_PIECES), max_size=14).map("".join))
def test_shape_equals_the_plain_count(text):
    for t in (text, prep(text), text.upper(), text.title()):
        assert ev.FieldView(t, t).shape() == ref_shape(t), t


# ------------------------------------------------------------------ ItemView.domain_words
def ref_domain_words(item: ev.ItemView) -> dict:
    out: dict = {}
    for fv in item.fields.values():
        for name, ws in item.lex.domains.items():
            found = ws.find(fv.words, fv.folded)
            if found:
                out.setdefault(name, []).extend(found)
    return out


def _domain_pieces() -> list[str]:
    lex = lexicon()
    out = ["Cuba", "キューバ", "venezuela", "president", "said", "the", " ", ", ", "。", "-", "ー"]
    for ws in lex.domains.values():
        out += sorted(ws.single)[:15] + [" ".join(m) for m in ws.multi[:10]] + list(ws.cjk[:10])
        out += [m[0] for m in ws.multi[:5]]               # a phrase's first word alone
        out += [c[:-1] for c in ws.cjk[:5] if len(c) > 1]  # a CJK word cut short
    return out


DOMAIN_PIECES = _domain_pieces()
domain_texts = st.lists(st.sampled_from(DOMAIN_PIECES) | st.sampled_from([" ", "、"]),
                        max_size=10).map(lambda xs: " ".join(xs) if len(xs) % 2 else "".join(xs))


@settings(max_examples=400, deadline=None)
@given(domain_texts, domain_texts)
def test_domain_words_equal_every_domain_looked_up(title, summary):
    entry = Entry(id="x", feed="f", title=title, link="https://example.com/a", summary=summary)
    item = ev.ItemView(entry, (prep(title), prep(summary)), lexicon())
    assert item.domain_words() == ref_domain_words(item)


# ------------------------------------------------------------------ domain_evidence
def ref_domain_near(item: ev.ItemView, fv: ev.FieldView, start: int, end: int) -> list[str]:
    """domain_evidence's words next to the name, every domain looked up (as it was)."""
    words = fv.words
    j, i = fv.index_at(end), fv.index_at(start)
    near: list[str] = []
    for name, ws in item.lex.domains.items():
        hyphen = j < len(words) and fv.prepped[end:fv.tokens[j][1]] == "-"
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
    return near


def _last_words() -> list[str]:
    lex = lexicon()
    return [m[-1] for ws in lex.domains.values() for m in ws.multi[:5]]


NAMES = ["Cuba", "キューバ", "Greenland"]
near_texts = st.lists(st.sampled_from(DOMAIN_PIECES + NAMES * 3 + _last_words()) |
                      st.sampled_from([" ", "-", "、", ", "]), max_size=10).map("".join)


@settings(max_examples=400, deadline=None)
@given(near_texts, st.sampled_from([" ", ""]))
def test_domain_evidence_equals_every_domain_looked_up(text, glue):
    text = glue.join([text, "Cuba", text[::-1], "キューバ", text])
    entry = Entry(id="x", feed="f", title=text, link="https://example.com/a", summary="")
    item = ev.ItemView(entry, (prep(text), ""), lexicon())
    fv = item.fields["title"]
    for name in NAMES:
        at = fv.prepped.find(name)
        while at >= 0:
            got = ev.domain_evidence(item, fv, at, at + len(name))
            near = ref_domain_near(item, fv, at, at + len(name))
            if near:
                assert [str(x) for x in got] == \
                    ["- used as a name in another domain: " + ", ".join(near)]
            else:
                assert not any("another domain" in str(x) for x in got)
            at = fv.prepped.find(name, at + 1)


# ------------------------------------------------------------------ PhraseIndex.find
def ref_find(idx: PhraseIndex, text: str) -> list[Occurrence]:
    """find as it was: occurrences cut from the prepped text, then made again with the item's
    own text when the spans agree, or with the alias's when they do not and it folds alike."""
    prepped = prep(text)
    folded = prepped.lower()
    out: list[Occurrence] = []
    idx._find_latin(folded, prepped, out)
    if idx._cjk_ac is not None and not folded.isascii():
        idx._find_cjk(folded, prepped, out)
    if out and len(text) == len(prepped) and text != prepped:
        out = [Occurrence(o.phrase, o.start, o.end, text[o.start:o.end], o.kind, o.score)
               for o in out]
    elif out and text != prepped:
        out = [o if o.kind == "fuzzy" or fold(o.text) != fold(o.phrase.text) else
               Occurrence(o.phrase, o.start, o.end, o.phrase.text, o.kind, o.score)
               for o in out]
    return out


FIND_INDEX = PhraseIndex([Phrase("マリアンヌ", "a", fuzzy="on"), Phrase("アメリカ合衆国", "b"),
                          Phrase("アメリカ", "c"), Phrase("Diaz", "d"), Phrase("Cubana", "e", fuzzy="on"),
                          Phrase("ブラジル", "f")])
FIND_PIECES = ["マリアンヌ", "ﾏﾘｱﾝﾇ", "ﾏﾘｱﾝﾈ", "マリアンネ", "ヴラジル", "ブラジル", "ｱﾒﾘｶ合衆国", "アメリカ合衆国",
               "アメリカ", "ｱﾒﾘｶ", "Díaz", "Diaz", "DIAZ", "é", "Cubano", "Cubána", "ﾊﾞ", "ー", " ", "、"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FIND_PIECES), max_size=8).map("".join))
@example("ﾏﾘｱﾝﾈとｱﾒﾘｶ合衆国、Díaz")
@example("ﾏﾘｱﾝﾈとｱﾒﾘｶ合衆国、ﾊﾞ")
def test_find_cuts_the_shown_text_as_the_rewrite_did(text):
    def tuples(occ):
        return [(o.phrase.ref, o.start, o.end, o.text, o.kind, o.score) for o in occ]
    assert tuples(FIND_INDEX.find(text)) == tuples(ref_find(FIND_INDEX, text))
