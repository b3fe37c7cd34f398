"""Story clustering: other outlets' own reports of one event fold into its first report; different
events with look-alike headlines stay apart. Each test is a class of situation, not a corpus item."""
from datetime import datetime, timedelta, timezone

import pytest

from bot.core.dedup import Deduper
from bot.core.model import Entry, Hit
from bot.core.normalize import prep
from bot.core.stories import StoryIndex, conflict, features

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=timezone.utc)


def e(id, title, summary="", lang="en", hours=0.0, feed=None):
    return Entry(id, feed or f"outlet-{id}", title, f"https://{id}.example/news", summary,
                 T0 + timedelta(hours=hours), lang)


def hit(wl, text):
    return Hit(wl, text, "title", text, "exact")


def run(items, window=48 * 3600):
    """items: (entry, [watchlists' hits]) -> duplicate_of per item, and the verdicts."""
    d = Deduper(window)
    verdicts = [d.process(x, hits=h) for x, h in items]
    return [v.duplicate_of for v in verdicts], verdicts


# ------------------------------------------------------------------ same event, own words
def test_reworded_reports_of_one_event_fold_into_the_first_with_evidence():
    items = [
        (e("a", "Peru's Congress votes to remove President Alvarado",
           "Lawmakers in Lima voted 101 to 12 to oust Ricardo Alvarado over corruption charges, "
           "handing power to the head of Congress."), [hit("peru", "Peru")]),
        (e("b", "Unrelated: Chile's copper output rises", "Codelco said output rose in May."),
         [hit("chile", "Chile")]),
        (e("c", "Lima lawmakers oust Alvarado in impeachment vote",
           "Peru's Congress removed Ricardo Alvarado by 101 votes to 12 on corruption charges.",
           hours=3), [hit("peru", "Peru")]),
    ]
    dups, verdicts = run(items)
    assert dups == [None, None, "a"]
    v = verdicts[2]
    assert v.reason == "story" and 0 < v.score <= 1
    text = "\n".join(v.evidence)
    assert "Alvarado" in text and "101" in text and "3.0h apart" in text and "peru" in text


def test_spanish_and_japanese_rewordings_fold():
    es = [(e("a", "El Banco Central de Chile sube la tasa de interés al 6%",
             "El consejo del Banco Central elevó la tasa de política monetaria en 50 puntos "
             "básicos por la inflación.", lang="es"), [hit("chile", "Chile")]),
          (e("b", "Chile: el instituto emisor eleva el costo del crédito ante la inflación",
             "El Banco Central subió en 50 puntos básicos la tasa de política monetaria, "
             "que queda en 6%.", lang="es", hours=2), [hit("chile", "Chile")])]
    assert run(es)[0] == [None, "a"]
    ja = [(e("a", "チリ中銀、政策金利を6%に引き上げ",
             "チリ中央銀行は、インフレ抑制のため政策金利を0.5%引き上げ6%にすると発表した。",
             lang="ja"), [hit("chile", "チリ")]),
          (e("b", "チリ中央銀行が利上げ　インフレ抑制へ",
             "チリ中央銀行は政策金利を6%に引き上げると発表した。インフレ抑制が狙い。",
             lang="ja", hours=1), [hit("chile", "チリ")])]
    assert run(ja)[0] == [None, "a"]


def test_an_all_caps_wire_headline_folds_with_a_sentence_case_rewrite():
    items = [(e("a", "ECUADOR DECLARES STATE OF EMERGENCY AFTER PRISON RIOTS",
                "President Daniel Noboa declared a 60-day state of emergency after riots in "
                "prisons in Guayaquil left 14 inmates dead."), [hit("ecuador", "Ecuador")]),
             (e("b", "Noboa imposes emergency rule as Guayaquil prison violence kills 14",
                "Ecuador's president declared a state of emergency for 60 days following deadly "
                "riots in Guayaquil prisons.", hours=1), [hit("ecuador", "Ecuador")])]
    assert run(items)[0] == [None, "a"]


# ------------------------------------------------------------------ different events
PEACE = ("The talks, hosted by Norway, aim at a ceasefire between the government and the "
         "rebel group, officials said.")


@pytest.mark.parametrize("first,second,why", [
    ("Floods in Bolivia kill 12", "Floods in Bolivia kill 30", "different figures"),
    ("Bolivia's inflation eases in March", "Bolivia's inflation eases in April",
     "different months"),
    ("Colombia and rebels open peace talks in Oslo", "Colombia and rebels open peace talks again "
     "in Oslo", "follow-up event"),
    ("Colombia's president meets Lula in Brasilia", "Colombia's president meets Milei in Buenos "
     "Aires", "different names"),
    ("Colombia signs deal to buy fighter jets", "Colombia signs deal to buy submarines",
     "same headline, another subject"),
])
def test_guards_keep_look_alike_headlines_about_different_events_apart(first, second, why):
    a = features(prep(first), PEACE, "en")
    b = features(prep(second), PEACE, "en")
    assert conflict(a, b) == why
    items = [(e("a", first, PEACE), [hit("colombia", "Colombia")]),
             (e("b", second, hours=2), [hit("colombia", "Colombia")])]
    assert run(items)[0] == [None, None]


def test_a_figure_one_outlet_rounds_is_not_a_conflict():
    a = features(prep("Cuba frees 553 prisoners"), "The government freed 553 people.", "en")
    b = features(prep("Cuba frees more than 500 prisoners"),
                 "Authorities released 553 prisoners on Tuesday.", "en")
    assert conflict(a, b) == ""


def test_follow_up_words_in_each_language():
    for lang, one, two in [("es", "Bolivia convoca elecciones", "Bolivia convoca elecciones otra vez"),
                           ("ja", "ボリビアで選挙実施", "ボリビアで再び選挙実施"),
                           ("en", "Bolivia holds referendum", "Bolivia holds referendum again")]:
        assert conflict(features(prep(one), "", lang), features(prep(two), "", lang)) == \
            "follow-up event"


# ------------------------------------------------------------------ where stories are looked for
SUMMARY = ("Gold miners in the Ecuadorian Amazon were buried when a tunnel collapsed near "
           "Zamora on Monday, rescuers said.")


def test_stories_stay_within_a_watchlist_a_language_and_the_window():
    a = (e("a", "Mine collapse in Ecuador traps 20 workers", SUMMARY), [hit("ecuador", "Ecuador")])
    same = e("b", "Twenty miners trapped after tunnel caves in near Zamora", SUMMARY, hours=2)
    assert run([a, (same, [hit("ecuador", "Ecuador")])])[0] == [None, "a"]
    assert run([a, (same, [hit("mining", "miners")])])[0] == [None, None]       # other watchlist
    later = e("b", same.title, SUMMARY, hours=60)
    assert run([a, (later, [hit("ecuador", "Ecuador")])])[0] == [None, None]    # outside 48h
    other_lang = Entry("b", "x", same.title, "https://b.example/", SUMMARY, same.published, "es")
    assert run([a, (other_lang, [hit("ecuador", "Ecuador")])])[0] == [None, None]


def test_items_no_watchlist_matched_are_only_checked_for_copies():
    """They are never delivered: no story index entry, no story cost."""
    a = (e("a", "Mine collapse in Ecuador traps 20 workers", SUMMARY), [])
    b = (e("b", "Twenty miners trapped after tunnel caves in near Zamora", SUMMARY, hours=1), [])
    c = (Entry("c", "agg", "Mine collapse in Ecuador traps 20 workers - Wire", "https://c.example/",
               SUMMARY, T0 + timedelta(hours=2), "en"), [])
    d = Deduper()
    assert [d.process(x, hits=h).duplicate_of for x, h in (a, b, c)] == [None, None, "a"]
    assert len(d.stories) == 0


def test_a_copy_of_a_folded_report_points_to_the_story_root():
    a = (e("a", "Mine collapse in Ecuador traps 20 workers", SUMMARY), [hit("ecuador", "Ecuador")])
    b = (e("b", "Twenty miners trapped after tunnel caves in near Zamora", SUMMARY, hours=1),
         [hit("ecuador", "Ecuador")])
    c = (Entry("c", "agg", "Twenty miners trapped after tunnel caves in near Zamora - Wire",
               "https://b.example/news", SUMMARY, T0 + timedelta(hours=2), "en"),
         [hit("ecuador", "Ecuador")])
    assert run([a, b, c])[0] == [None, "a", "a"]


def test_expired_reports_no_longer_gather_stories():
    d = Deduper(48 * 3600)
    d.process(e("a", "Mine collapse in Ecuador traps 20 workers", SUMMARY),
              hits=[hit("ecuador", "Ecuador")])
    assert len(d.stories) == 1
    d.expire((T0 + timedelta(hours=1)).timestamp())
    assert len(d.stories) == 0 and not d.stories._df and not d.stories._post
    v = d.process(e("b", "Twenty miners trapped after tunnel caves in near Zamora", SUMMARY,
                    hours=2), hits=[hit("ecuador", "Ecuador")])
    assert v.duplicate_of is None


def test_candidates_per_item_are_bounded_whatever_the_index_size(monkeypatch):
    idx = StoryIndex(10**9, candidates=16, max_postings=32)
    scored = []
    real = idx._dice           # what check() scores each candidate with
    monkeypatch.setattr(idx, "_dice", lambda *a, **k: scored.append(1) or real(*a, **k))
    for i in range(3000):
        f = features(prep(f"Ecuador mining report number {i} on tunnel safety"), SUMMARY, "en")
        idx.add(f"x{i}", f"x{i}", "en", T0.timestamp() + i, {"ecuador"}, f)
    f = features(prep("Ecuador tunnel safety report"), SUMMARY, "en")
    idx.check("new", "en", T0.timestamp(), {"ecuador"}, f)
    assert 0 < len(scored) <= 16
    assert all(len(lst) <= 64 for lst in idx._post.values())


def test_one_word_beside_the_watched_subject_is_not_a_story():
    items = [(e("a", "Havana fresh story"), [hit("cuba", "Havana")]),
             (e("b", "Havana undated story", hours=1), [hit("cuba", "Havana")])]
    assert run(items)[0] == [None, None]


def test_an_unwatched_report_joins_a_watched_story_only_through_the_gate():
    """An outlet's report that names no watched subject (the matcher missed it) can still join
    the story it is part of, and is then never delivered itself; an unwatched item on another
    subject does not even reach the story check."""
    watched = (e("a", "US strikes drug boat in the Caribbean, three killed",
                 "Southern Command said the vessel was run by a Venezuelan gang; three people "
                 "aboard were killed."), [hit("venezuela", "Venezuelan")])
    unwatched = (e("b", "SOUTHCOM: TRIO KILLED IN CARIBBEAN DRUG-BOAT RAID",
                   "The military's regional headquarters said its forces destroyed the vessel, "
                   "leaving all three aboard dead.", hours=1), [])
    other = (e("c", "Chile's copper output rises in May", "Codelco said output rose.", hours=1), [])
    d = Deduper()
    checked = []
    real = d.stories.check
    d.stories.check = lambda *a, **k: checked.append(a[0]) or real(*a, **k)
    assert [d.process(x, hits=h).duplicate_of for x, h in (watched, unwatched, other)] == \
        [None, "a", None]
    assert checked == ["a", "b"] and len(d.stories) == 1


def test_the_same_event_in_other_words_shares_concepts():
    """"raid"/"bombardea"/空爆 and "seized"/"detenido"/拘束 are one kind of event: reports that
    only share such words still share evidence (weighted by rarity like any word)."""
    from bot.core.stories import CONCEPTS_ON, StoryIndex
    assert CONCEPTS_ON
    a = features(prep("Troops raid rebel camp, seize commander"), "", "en")
    b = features(prep("Rebel commander detained after army attack on camp"), "", "en")
    assert {"~attack", "~capture"} <= a.terms & b.terms
    ja_a = features(prep("政府軍が反政府勢力の拠点を空爆、司令官を拘束"), "", "ja")
    ja_b = features(prep("反政府勢力の司令官の身柄確保　政府軍が攻撃"), "", "ja")
    assert {"~attack", "~capture"} <= ja_a.terms & ja_b.terms
    idx = StoryIndex()
    with_concepts = idx.score(a, b, 0, "en")[0]
    plain = StoryIndex().score(features(prep("Troops raid rebel camp"), "", "en"),
                               features(prep("Rebel camp: army moves in"), "", "en"), 0, "en")[0]
    assert with_concepts > plain


def test_a_headline_figure_neither_given_nor_rounded_by_the_other_is_another_event():
    a = features(prep("Bolivia frees 553 prisoners in amnesty"), "553 prisoners were freed.", "en")
    b = features(prep("Bolivia frees 120 more prisoners"), "Beyond the 553 freed last week, 120 "
                 "more left prison.", "en")
    assert conflict(a, b) == "different figures"


def test_a_call_with_someone_else_is_another_event():
    a = features(prep("ボリビア大統領、ペルー大統領と電話会談　国境問題で協議"), "", "ja")
    b = features(prep("ボリビア大統領、チリ首相と電話会談　貿易で連携"), "", "ja")
    assert conflict(a, b) in ("different names", "different people in the same role")
