"""The fast story features (bot/core/story_features.py) equal the per-token reference they
replaced (tests/story_features_reference.py), field by field, the words as written included:
on every item of the eval corpora and on generated text built to hit each rule's edges
(stop words, figures glued to words, Unicode digits, kanji runs cut by office words, katakana
names before offices, letters (?i:) folds though lower() does not, ALL-CAPS headlines)."""
from __future__ import annotations

import pickle
from pathlib import Path

import story_features_reference as ref
from hypothesis import given, settings, strategies as st

from bot.core import story_features as fast
from bot.core.normalize import prep
from bot.adapters.parse import parse_feed

ROOT = Path(__file__).resolve().parents[1]
FIELDS = ("title_terms", "terms", "names", "title_names", "title_nums", "nums", "months", "again",
          "new", "holders", "title_seq", "topic")


def same(title: str, summary: str, lang, topic=()) -> None:
    got = fast.features(title, summary, lang, topic, keep_surface=True)
    want = ref.features(title, summary, lang, topic, keep_surface=True)
    for k in FIELDS:
        assert getattr(got, k) == getattr(want, k), (k, title, summary, lang)
    assert dict(got.surface.items()) == want.surface, (title, summary)
    assert got == want
    # without the words as written, the same features
    plain = fast.features(title, summary, lang, topic)
    assert plain.surface is None and all(getattr(plain, k) == getattr(want, k) for k in FIELDS)


def test_every_corpus_item_gets_the_reference_features():
    n = 0
    # the stories and regression corpora (and the shared dev corpus, where it is beside the repo)
    for base in (ROOT / "eval" / "stories" / "feeds", ROOT / "eval" / "regression" / "feeds",
                 ROOT.parent / "shared" / "eval" / "dev" / "feeds"):
        for f in sorted(base.glob("*.xml")):
            for e in parse_feed(f.read_bytes(), feed_name=f.stem).entries:
                for topic in ((), ("Maduro", "キューバ"), ("Sheinbaum",)):
                    same(prep(e.title), prep(e.summary[:400]), e.lang, topic)
                n += 1
    assert n > 300


PIECES = [
    # Latin words, stop words, names, acronyms, offices before and after names
    "Maduro", "maduro", "MADURO", "the", "The", "US", "EU", "NATO", "G7", "a", "I", "s", "x's",
    "Brazil's president", "President Lula", "president of Chile", "la presidenta Sheinbaum",
    "Prime Minister", "prime minister", "primer ministro de", "Foreign Minister Rubio",
    "canciller", "secretary of state Rubio", "embajador", "premier", "Premier Li", "minist",
    "presiden", "sanction", "sanctions", "Sanctioned", "raid", "seized", "bombardea", "detenido",
    "new", "New", "again", "nuevamente", "second", "otra vez", "May", "may", "march", "enero",
    "-", "- ", ":", ". ", ", ", "'", "\"", "(", ")", "\n", "  ", " ",
    # figures: glued to words, separators, thousands, Unicode digits
    "553", "1.5", "10,000", "10.000", "1,5", "a380", "1.5a2", "x1,2", "1..2", "12a3", "٣",
    "٣,٤", "0", "2026", "500",
    # letters (?i:) folds onto ASCII though lower() does not, and İ (lower() is two characters)
    "\u0130", "\u0130" * 12, "\u0131", "\u017f", "\u212a", "PR\u0130ME M\u0130N\u0130STER", "\u017fecretary",
    # Japanese: offices, stop words cutting kanji runs, katakana names, concepts, single kanji
    "デンマーク首相", "首相", "大統領", "ベネズエラ大統領", "外相", "国防相", "大使", "国務長官",
    "マドゥロ", "ニールセン", "ア", "政府", "発表", "氏", "日", "送電網", "空爆", "拘束", "再び",
    "新たな", "制裁", "米", "石油", "輸出", "、", "。", "　", "ー",
]

texts = st.lists(st.one_of(st.sampled_from(PIECES),
                           st.text(alphabet="aBzZ09.,' -\u30a2\u30fc\u4e00\u9fff\u0131K",
                                   max_size=6)),
                 max_size=30).map("".join)


@settings(max_examples=600, deadline=None)
@given(texts, texts, st.sampled_from(["en", "es", "ja", None]),
       st.lists(st.sampled_from(["Maduro", "キューバ", "sanctions", "Trump", "ドンロー主義"]),
                max_size=2))
def test_generated_text_gets_the_reference_features(title, summary, lang, topic):
    same(title, summary, lang, topic)
    same(prep(title), prep(summary), lang, topic)


@settings(max_examples=200, deadline=None)
@given(texts, st.sampled_from(["en", "es", "ja"]))
def test_holders_equal_the_full_search(text, lang):
    """The search for office holders starts at the first office word's word, in both case
    forms: the same pairs as searching the whole text."""
    for t in (text, text.upper(), text.title()):
        assert fast._holders(t, lang) == ref._holders(t, lang)


def test_a_text_whose_lower_case_is_longer_is_searched_whole():
    """lower() makes two characters of each İ: an office found in the lower-cased text is
    further along than in the text, so such a text is searched from its start."""
    text = "\u0130" * 30 + " President Lula meets Premier Li and the foreign minister in Caracas"
    assert fast._holders(text, "en") == ref._holders(text, "en") == {("president", "lula"),
                                                                     ("pm", "li")}


def test_shouting_headlines_keep_no_names():
    a = fast.features("MADURO CAPTURED IN CARACAS RAID", "", "en")
    assert not a.title_names and a == ref.features("MADURO CAPTURED IN CARACAS RAID", "", "en")


def test_the_words_as_written_are_read_when_asked_and_travel_as_texts():
    f = fast.features("Sanctions on Venezuela's oil: Washington acts", "ベネズエラ産原油の輸出",
                      "en", keep_surface=True)
    assert f.surface._d is None                       # nothing worked out yet
    back = pickle.loads(pickle.dumps(f))
    assert back.surface._d is None and back == f
    assert f.surface.get("sanction") == "Sanctions" and f.surface["原油"] == "産原油"
    assert f.surface._d is not None and "washington" in f.surface and len(f.surface) > 3
    assert f.surface == dict(f.surface.items()) and list(f.surface)
