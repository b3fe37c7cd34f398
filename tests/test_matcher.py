"""Matching rules, on small watchlists built here (not the shipped ones)."""
import pytest

from bot.core.matcher import Matcher
from bot.core.model import Entry
from bot.core.watchlist import Watchlist


def wl(name, aliases, **kw):
    return Watchlist.model_validate({"name": name, "aliases": aliases, **kw})


CUBA = wl("cuba", {"en": ["Cuba", "Havana", "Díaz-Canel"], "es": ["cubanos"],
                   "ja": ["キューバ", "ディアス・カネル"]},
          excludes=["Cuba Gooding", "キューバリブレ"], context=["island", "Havana"])
SHEIN = wl("sheinbaum", {"en": ["Sheinbaum"], "ja": ["シェインバウム", "シェインバーム"]},
           context=["Mexico"])
VEN = wl("venezuela", {"en": ["Venezuela", {"text": "Maduro", "case": "sensitive"}],
                       "ja": ["ベネズエラ", "カラカス"]}, context=["Caracas"])
MONROE = wl("monroe", {"en": ["Monroe Doctrine", {"text": "Monroe", "context": ["doctrine", "corollary"],
                                                  "within": 30}],
                       "ja": [{"text": "グリーンランド", "unless": ["遊園地"]}]})
M = Matcher([CUBA, SHEIN, VEN, MONROE])


def names(title, summary=""):
    return list(dict.fromkeys(h.watchlist for h in M.match(Entry("x", "f", title, "", summary))))


@pytest.mark.parametrize("title", ["Austin incubator bets on robotics", "Cubase 15 review",
                                   "Bodegas renuevan sus cubas", "Chicago Cubs sign reliever"])
def test_latin_aliases_respect_word_boundaries(title):
    assert "cuba" not in names(title)


def test_possessive_hyphen_and_accent_variants_match():
    assert names("Cuba's blackout deepens") == ["cuba"]
    assert names("Diaz Canel speaks") == ["cuba"]          # unaccented, unhyphenated
    assert names("Cubanos en Miami") == ["cuba"]


def test_typo_needs_corroboration():
    assert names("Sheinbaun says Mexico will keep sending oil") == ["sheinbaum"]
    assert names("Sheinbaun at the museum") == []            # a lone near-miss is not enough
    assert names("Sheinbaun at the summit") == ["sheinbaum"]  # ... but with hard-news words it is
    assert names("Venezuala: la oposición pide elecciones", "Protestas en Caracas") == ["venezuela"]


def test_short_aliases_are_not_fuzzy():
    assert names("Cubs win again") == []                      # Cuba/Cubs: 1 edit, too short


def test_excludes_mask_only_their_span():
    assert names("Cuba Gooding Jr. stars in a new film") == []
    assert names("Cuba Gooding Jr. visits Cuba") == ["cuba"]
    assert names("居酒屋でキューバリブレが人気") == []


def test_ambiguous_alias_needs_context_nearby():
    assert names("James Monroe's home reopens") == []
    assert names("The Monroe Doctrine returns") == ["monroe"]
    assert names("Monroe's corollary revisited") == ["monroe"]
    far = "Monroe " + "x " * 40 + "doctrine"
    assert [h.alias for h in M.match(Entry("x", "f", far, ""))] == []


def test_case_sensitive_alias():
    assert names("Plátano maduro con queso") == []
    assert names("Detienen a Maduro") == ["venezuela"]
    # ALL CAPS: the capital letter proves nothing, so it needs other evidence of the watchlist
    assert names("MADURO CAPTURED") == []
    assert names("MADURO CAPTURED", "US forces landed in Caracas") == ["venezuela"]


def test_unless_vetoes_alias():
    assert names("熊本の遊園地グリーンランドでイルミネーション") == []
    assert names("グリーンランド自治政府が声明") == ["monroe"]


def test_japanese_substring_and_kana_fuzzy():
    assert names("シェインバーム大統領が会見") == ["sheinbaum"]
    assert names("ヴェネズエラ情勢") == ["venezuela"]
    assert names("高専生のキューブサット") == []
    assert names("空港のキュー短縮") == []
    # one-kana typo of a long katakana alias, corroborated by another alias
    assert "sheinbaum" in names("シェインバオム大統領", "シェインバウム氏は")


def test_hits_record_alias_field_and_kind():
    hits = M.match(Entry("x", "f", "Havana's blackout", "", "Sheinbaun of Mexico said"))
    by = {(h.watchlist, h.alias, h.field, h.kind) for h in hits}
    assert ("cuba", "Havana", "title", "exact") in by
    assert ("sheinbaum", "Sheinbaum", "summary", "fuzzy") in by


def test_explain_gives_reasons():
    t = M.explain(Entry("x", "f", "James Monroe's home", ""), "monroe")
    assert not t.hits
    assert any("ambiguous" in why for *_, why in t.rejected)
    t = M.explain(Entry("x", "f", "Cuba Gooding Jr.", ""), "cuba")
    assert any("exclude" in why for *_, why in t.rejected)


def test_shipped_watchlists_load_and_cover_the_story():
    from bot.adapters.config import load_config
    cfg = load_config("watchlists")
    assert set(cfg.watchlists) >= {"venezuela", "monroe-doctrine", "sheinbaum", "cuba", "greenland"}
    m = Matcher(cfg.watchlists)

    def hit(text):
        return {h.watchlist for h in m.match(Entry("x", "f", text, ""))}
    assert hit("「南方の槍」作戦") == {"venezuela"}
    assert hit("ドンロー主義とは") == {"monroe-doctrine"}
    assert hit("ヴェネズエラ人の移民") == {"venezuela"}
    assert hit("Marilyn Monroe centennial") == set()


def test_a_veto_covers_every_spelling_that_folds_alike():
    w = wl("v", {"en": [{"text": "Venezuela", "unless": ["World Baseball Classic"]}],
                 "fr": ["Vénézuela"]})
    m = Matcher([w])
    assert m.match(Entry("x", "f", "Venezuela beat Japan at the World Baseball Classic", "")) == []
    assert m.match(Entry("x", "f", "Venezuela frees prisoners", ""))
