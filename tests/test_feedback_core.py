"""bot.core.feedback: distinctive words (log-odds), word filters, muted-story follow-ups."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.feedback import (StoryMute, WordFilter, alias_words, distinctive, follows,
                               item_words, story_features, words)
from bot.core.model import Hit

KEPT = ["Cuba blackout leaves millions without power", "Havana talks with US on migration",
        "Cuba fuel shortage deepens as tankers stay away", "Cuba government announces reforms",
        "Díaz-Canel meets Russian envoy in Havana", "Cuban exiles rally in Miami"]
MARKED = ["Cuba beats Japan in baseball classic", "Cuba baseball league resumes after storm",
          "Cuban pitcher joins Tokyo baseball club"]


def docs(titles):
    return [item_words(t) for t in titles]


def test_words_fold_case_accents_and_drop_stop_words():
    w = words("The Béisbol league SAYS: Díaz-Canel and the 2026 Classic")
    assert {"beisbol", "league", "diaz-canel", "classic"} <= w
    assert not {"the", "and", "says", "2026"} & w
    assert {"野球", "再開"} <= words("キューバ野球が再開") and len(words("キューバ野球が再開")) == 3


def test_the_shared_word_of_the_marked_items_is_distinctive():
    got = distinctive(docs(MARKED), docs(KEPT), exclude=words("Cuba Cuban"))
    assert [s.word for s in got][:1] == ["baseball"]
    assert got[0].marked == 3 and got[0].kept == 0


def test_a_word_as_common_among_kept_items_is_not_distinctive():
    kept = docs(KEPT) + docs(["Cuba baseball fans protest blackout",
                              "Havana baseball stadium used as shelter",
                              "Cuba baseball star speaks on migration"])
    marked = docs(["Cuba baseball team loses", "Cuba baseball coach quits"])
    assert "baseball" not in [s.word for s in distinctive(marked, kept)]


def test_one_mark_teaches_nothing():
    assert distinctive(docs(MARKED[:1]), docs(KEPT)) == []


def test_max_kept_share_zero_keeps_words_absent_from_kept_items():
    kept = docs(KEPT + ["Cuba league of nations"])
    got = [s.word for s in distinctive(docs(MARKED), kept, max_kept_share=0.0, min_z=0.5)]
    assert "baseball" in got and "league" not in got


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sets(st.sampled_from("abcdefghij"), max_size=6).map(frozenset), max_size=8),
       st.lists(st.sets(st.sampled_from("abcdefghij"), max_size=6).map(frozenset), max_size=8),
       st.integers(1, 4))
def test_distinctive_words_are_in_enough_marked_docs_and_more_frequent_there(marked, kept, k):
    for s in distinctive(marked, kept, min_marked=k, min_z=0.0, limit=20):
        a = sum(s.word in d for d in marked)
        b = sum(s.word in d for d in kept)
        assert a == s.marked >= k and b == s.kept
        assert a / len(marked) > b / len(kept) if kept else a > 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sets(st.sampled_from("abcdefgh"), min_size=1, max_size=5).map(frozenset),
                min_size=2, max_size=6))
def test_adding_the_word_to_more_kept_docs_never_raises_its_score(marked):
    w = next(iter(marked[0]))
    marked = [d | {w} for d in marked]
    base = [frozenset({"x"})] * 5
    scores = []
    for n in range(0, 5):
        kept = [d | {w} if i < n else d for i, d in enumerate(base)]
        got = {s.word: s.z for s in distinctive(marked, kept, min_z=-99, limit=99)}
        scores.append(got.get(w, float("-inf")))
    assert scores == sorted(scores, reverse=True)


def test_word_filter_needs_the_alias_and_a_word():
    f = WordFilter(1, "cuba", "Cuba", frozenset({"baseball"}))
    hit = [Hit("cuba", "Cuba", "title", "Cuba", "exact")]
    other = [Hit("cuba", "Havana", "title", "Havana", "exact")]
    assert f.holds(hit, item_words("Cuba names new baseball coach"))
    assert not f.holds(hit, item_words("Cuba names new energy minister"))
    assert not f.holds(other, item_words("Havana baseball stadium"))
    assert not f.holds([Hit("venezuela", "Cuba", "title", "Cuba", "exact")],
                       item_words("Cuba baseball"))


def test_follow_ups_and_copies_of_a_muted_story():
    ignore = alias_words([Hit("greenland", "Greenland", "title", "Greenland", "exact")])
    story = story_features("Greenland independence vote set for spring", ignore)
    mute = StoryMute(3, "g1", story)
    assert mute.holds("g1", None, frozenset())                       # the story itself
    assert mute.holds("g7", "g1", frozenset())                       # a copy of it
    assert mute.holds("g8", None, story_features(
        "Greenland independence vote: parliament confirms spring date", ignore))
    assert not mute.holds("g9", None, story_features(
        "Greenland ice sheet loses record mass", ignore))
    assert not follows(story, frozenset())


@given(st.text(max_size=200))
def test_words_never_fail_and_are_folded(text):
    for w in words(text):
        assert w == w.lower() and len(w) >= 2
