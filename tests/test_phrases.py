"""PhraseIndex (the Aho-Corasick candidate finder) against a brute-force reference that follows the
documented rules token by token, and prep() against the plain chain of its folding steps."""
from __future__ import annotations

import re
import unicodedata

from hypothesis import example, given, settings, strategies as st
from rapidfuzz.distance import OSA

from bot.core import normalize as N
from bot.core.confusables import drop_invisible, fold_confusables
from bot.core.normalize import fold, prep
from bot.core.phrases import Occurrence, Phrase, PhraseIndex, _max_edits

TOKEN = re.compile(r"[a-z0-9]+")
GAP_OK = set(" -',/&")
KANA_RUN = re.compile(r"[ァ-ヺ]{4,}")


# --------------------------------------------------------------------------- the reference
def reference_find(phrases: list[Phrase], text: str) -> list[Occurrence]:
    """Every occurrence by brute force: Latin phrases token by token (gaps of at most 3 of
    " -',/&"; a token no phrase starts with may be a typo of a one-token alias with the same first
    letter); other scripts by a leftmost-longest scan plus the phrases nested in what it found;
    katakana runs of 4+ outside those by one edit from a kana alias of 5+."""
    prepped = prep(text)
    folded = prepped.lower()
    same_len = len(folded) == len(prepped)
    latin, cjk, kana = [], {}, []
    for p in phrases:
        f = fold(p.text).strip()
        if not f:
            continue
        if f.isascii():
            toks = tuple(TOKEN.findall(f))
            if toks:
                cased = tuple(re.findall(r"[A-Za-z0-9]+", prep(p.text))) if p.case_sensitive else ()
                latin.append((toks, cased, p))
        else:
            cjk.setdefault(f, []).append(p)
            if p.fuzzy != "off" and re.fullmatch(r"[ァ-ヺ]+", f) and len(f) >= 5:
                kana.append((f, p))
    firsts = {t[0] for t, _, _ in latin}
    out: list[Occurrence] = []
    tokens = [(m.group(), m.start(), m.end()) for m in TOKEN.finditer(folded)]
    for i, (tok, start, end) in enumerate(tokens):
        if tok in firsts:
            for toks, cased, p in latin:
                k = len(toks)
                if toks[0] != tok or i + k > len(tokens):
                    continue
                if any(tokens[i + j][0] != toks[j] for j in range(1, k)):
                    continue
                gaps = [folded[tokens[i + j - 1][2]:tokens[i + j][1]] for j in range(1, k)]
                if any(len(g) > 3 or not set(g) <= GAP_OK for g in gaps):
                    continue
                stop = tokens[i + k - 1][2]
                span = prepped[start:stop]
                if p.case_sensitive and same_len and not (
                        re.findall(r"[A-Za-z0-9]+", span) == list(cased) or span.isupper()):
                    continue
                out.append(Occurrence(p, start, stop, span, "exact"))
        elif len(tok) >= 5 and not tok.isdigit():
            n = len(tok)
            for length in range(n - 2, n + 3):
                for toks, _cased, p in latin:
                    a = toks[0]
                    edits = _max_edits(len(a), p.fuzzy)
                    if len(toks) != 1 or not edits or a[0] != tok[0] or len(a) != length \
                            or abs(length - n) > edits:
                        continue
                    d = OSA.distance(tok, a)
                    if d <= edits and not (p.case_sensitive and same_len
                                           and not prepped[start].isupper()):
                        out.append(Occurrence(p, start, end, prepped[start:end], "fuzzy",
                                              100.0 * (1 - d / max(n, len(a)))))
    if cjk and not folded.isascii():
        by_len = sorted(cjk, key=len, reverse=True)
        spans = []
        pos = 0
        while pos < len(folded):
            s = next((s for s in by_len if folded.startswith(s, pos)), None)
            if s is None:
                pos += 1
                continue
            for p in cjk[s]:
                out.append(Occurrence(p, pos, pos + len(s), prepped[pos:pos + len(s)], "exact"))
            for inner in by_len:
                if inner == s:
                    continue
                for i in range(len(s)):
                    if s.startswith(inner, i):
                        a = pos + i
                        for p in cjk[inner]:
                            out.append(Occurrence(p, a, a + len(inner), prepped[a:a + len(inner)],
                                                  "exact"))
            spans.append((pos, pos + len(s)))
            pos += len(s)
        for m in KANA_RUN.finditer(folded) if kana else ():
            run, a, b = m.group(), m.start(), m.end()
            if any(s < b and a < e for s, e in spans):
                continue
            for length in (len(run) - 1, len(run), len(run) + 1):
                for alias, p in kana:
                    if len(alias) == length and OSA.distance(run, alias) <= 1:
                        d = OSA.distance(run, alias)
                        out.append(Occurrence(p, a, b, prepped[a:b], "fuzzy",
                                              100.0 * (1 - d / max(len(run), length))))
    if out and len(text) == len(prepped) and text != prepped:
        out = [Occurrence(o.phrase, o.start, o.end, text[o.start:o.end], o.kind, o.score)
               for o in out]
    elif out and text != prepped:
        out = [o if o.kind == "fuzzy" or fold(o.text) != fold(o.phrase.text) else
               Occurrence(o.phrase, o.start, o.end, o.phrase.text, o.kind, o.score) for o in out]
    return out


# ------------------------------------------------------------------------------ phrase sets
SHIPPED_LIKE = [
    Phrase("Cuba", 0), Phrase("Havana", 1, fuzzy="auto"), Phrase("Díaz-Canel", 2),
    Phrase("Miguel Díaz-Canel", 3), Phrase("Cuba Gooding", 4), Phrase("US", 5, case_sensitive=True),
    Phrase("Venezuela", 6, fuzzy="auto"), Phrase("Maduro", 7, case_sensitive=True, fuzzy="on"),
    Phrase("Monroe Doctrine", 8), Phrase("Monroe", 9), Phrase("Sheinbaum", 10, fuzzy="on"),
    Phrase("Claudia Sheinbaum Pardo", 11), Phrase("Trump's", 12), Phrase("a b c d e f g", 13),
    Phrase("キューバ", 14), Phrase("キューバリブレ", 15), Phrase("米国", 16), Phrase("国務長官", 17),
    Phrase("米", 18), Phrase("ベネズエラ", 19, fuzzy="auto"), Phrase("シェインバウム", 20, fuzzy="on"),
    Phrase("ディアス・カネル", 21), Phrase("Grønland", 22), Phrase("Гренландия", 23),
    Phrase("G7サミット", 24), Phrase("Cuba", 25), Phrase("cuba-venezuela", 26),
    Phrase("Greenland", 27, fuzzy="on"), Phrase("greenlander", 28),
]
PIECES = ["Cuba", "cuba", "CUBA", "Cubа", "Havana", "Havanna", "Hvana", "Díaz", "Diaz", "Canel",
          "Miguel", "US", "us", "U.S.", "Venezuela", "Venezuelan", "Venzuela", "Maduro", "maduro",
          "MADURO", "Madurо", "Monroe", "Doctrine", "Sheinbaum", "Shienbaum", "Claudia", "Pardo",
          "Trump", "a", "b", "c", "d", "e", "f", "g", "incubator", "Cubase", "キューバ", "キューバリブレ",
          "米国", "国務長官", "米", "ベネズエラ", "ヴェネズエラ", "ベネズエル", "シェインバウム",
          "シェインバーム", "ディアス", "カネル", "Grønland", "Gronland", "Гренландия", "G7",
          "サミット", "Greenland", "Greenlander", "greenlandic", "12345", "Ａ", "ｷｭｰﾊﾞ", "İ", "ß"]
SEPS = [" ", "  ", "   ", "    ", "-", " - ", "'", "’", ",", ", ", "/", "&", " & ", ".", "・", "=",
        "\u200b", "\u3000", "", "、", "(", ")", "\n", "|", "?", "\x00"]

text_st = st.lists(st.one_of(st.sampled_from(PIECES), st.sampled_from(SEPS),
                             st.text(alphabet="abcuéü -'キュバー米国", max_size=6)),
                   max_size=24).map("".join)


def as_tuples(occ):
    return [(o.phrase.ref, o.start, o.end, o.text, o.kind, round(o.score, 9)) for o in occ]


INDEX = PhraseIndex(SHIPPED_LIKE)


@settings(max_examples=400, deadline=None)
@given(text_st)
@example("Miguel Díaz-Canel and Cuba Gooding, US-Cuba & cuba - venezuela; a b c d e f g")
@example("Claudia  Sheinbaum   Pardo / Claudia    Sheinbaum Pardo")
@example("米国務長官がキューバリブレを飲んだ。ヴェネズエラ、ベネズエル、シェインバーム")
@example("İstanbul Cuba Havanna Venezuelan")
def test_index_finds_what_the_reference_finds(text):
    assert as_tuples(INDEX.find(text)) == as_tuples(reference_find(SHIPPED_LIKE, text))


phrase_st = st.builds(Phrase, st.text(alphabet="ab -'.Aキュバ米国", min_size=1, max_size=8),
                      st.integers(), st.booleans(), st.sampled_from(["off", "auto", "on"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(phrase_st, max_size=8), st.text(alphabet="abAB -'.,&/キュバ米国|", max_size=40))
def test_any_phrase_set_gives_the_reference_occurrences(phrases, text):
    idx = PhraseIndex(phrases)
    assert as_tuples(idx.find(text)) == as_tuples(reference_find(phrases, text))
    assert as_tuples(idx.find(text)) == as_tuples(idx.find(text))       # caches change nothing


def test_boundaries_gaps_and_nesting():
    idx = PhraseIndex([Phrase("Cuba", "c"), Phrase("Díaz Canel", "d"), Phrase("キューバ", "k"),
                       Phrase("キューバリブレ", "kl")])
    got = [(o.phrase.ref, o.text) for o in idx.find("incubator Cuba, Díaz - Canel Díaz    Canel")]
    assert got == [("c", "Cuba"), ("d", "Díaz - Canel")]          # 4-space gap: no match
    got = [(o.phrase.ref, o.start, o.end) for o in idx.find("キューバリブレとキューバ")]
    assert got == [("kl", 0, 6), ("k", 0, 3), ("k", 7, 10)]     # spans in the folded text (ー)


def test_an_empty_index_finds_nothing():
    assert PhraseIndex([]).find("Cuba キューバ") == []
    assert PhraseIndex([Phrase("  ", 1), Phrase("...", 2)]).find("Cuba ...") == []


# --------------------------------------------------------------------------------- prep()
def reference_prep(s: str) -> str:
    if not s.isascii():
        s = fold_confusables(drop_invisible(unicodedata.normalize("NFKC", s))).translate(N._FOLD)
        if not s.isascii():
            s = N._kana_fold(s)
    if "." in s and N._ACRONYM.search(s):
        s = N._ACRONYM.sub(N._acronym, s)
    return s


ALPHABET = ("aZ .-'`´‘’“”«»–—\u00a0\u00adßæÆþÞøŁéÑñüÇ\u0301\u0308\u3000ＡＢ１２％ｶﾞｷｭｰﾊﾞ"
            "ヴァィェォュ・=゠ー\u200b\u200dаеоΑΟ𝐀ﬁ①㈱\u1100\u1161\u11a8가Ⅻ")


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=30) | st.text(max_size=30))
@example("Ｃａｆé　ｶﾞ ＵＳ. U.S.")
@example("Straße Æon Þing\u00ad x`y ´")
def test_prep_equals_the_plain_chain(s):
    assert N._prep(s) == reference_prep(s)


@given(st.text(max_size=80))
def test_ascii_words_are_the_latin_tokens(s):
    f = s.lower()
    assert [w.decode() for w in N.ascii_words(f)] == TOKEN.findall(f)
