"""signature() and clean_title() skip work where it cannot change the result (no suffix
separator, no CJK run, no "again" word): the same Sig as the plain definition for any headline."""
import re
from hashlib import blake2b

from hypothesis import given, settings, strategies as st

from bot.core import dedup
from bot.core.model import Entry
from bot.core.normalize import prep

from tests.test_dedup_prepare import T0, clean_title_by_search


def signature_reference(title: str):
    """Headline part of the signature, every rule applied to every headline."""
    title = clean_title_by_search(prep(title))
    ft = title.lower()
    words = re.findall(r"[a-z0-9]+", ft)
    feats = {w[:6] for w in words if w not in dedup._STOP}
    for run in re.findall(r"[\u30a0-\u30ff\u4e00-\u9fff\uac00-\ud7af]+", ft):
        feats.update([run] if len(run) == 1 else [run[i:i + 2] for i in range(len(run) - 1)])
    key = " ".join(words) + "".join(re.findall(r"[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]+", ft))
    key = blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest() \
        if len(key) >= 10 else ""
    caps = dedup._CAP.findall(title)
    if caps and title.startswith(caps[0]):
        del caps[0]
    return (key, frozenset(feats), frozenset(n.replace(",", ".") for n in re.findall(r"\d+(?:[.,]\d+)?", title)),
            dedup._MONTHS.intersection(words), frozenset(m[:6].lower() for m in caps),
            bool(dedup._AGAIN.search(ft)))


_pieces = st.sampled_from(
    ["Maduro", "again", "Again", "_again", "éagain", "againé", "de nuevo", "otra vez", "nueva ronda",
     "segunda", "wieder", "再び", "再度", "再開", "改めて", "2度目", "二度目", "度目", "改め",
     "キューバ", "停電", "マドゥロ氏", "の", "に", "を", "의", "한국", "é", "ñ", "3月", "2026", "1,5",
     "March", "enero", " - Reuters", " — Diario", "｜共同", "（ロイター）", "(AP)", ")", "-", "|",
     "【速報】", "UPDATE 1-", " ", "、", "。", "\u3000", "Caracas", "U.S.", "x" * 9, "١٢", "3.5", "4,", "٣"])


@settings(max_examples=500, deadline=None)
@given(st.lists(_pieces, max_size=16).map("".join))
def test_signature_is_the_plain_definition(title):
    sig = dedup.signature(Entry("id", "feed", title, "", "", T0, "ja"), 0.0)
    assert (sig.key, sig.title, sig.nums, sig.months, sig.caps, sig.again) == \
        signature_reference(title)


def test_signature_examples():
    def again(t):
        return dedup.signature(Entry("id", "feed", t, "", "", T0, "es"), 0.0).again
    assert again("Cortan la luz de nuevo en La Habana, según el ministerio")
    assert again("キューバで再び大規模停電、全土で電力網が崩壊")
    assert again("ベネズエラ中銀、2度目の利下げを発表")
    assert not again("Cortan la luz en La Habana, según el ministerio é")
    assert not again("キューバで大規模停電、全土で電力網が崩壊")


_plain = st.lists(st.sampled_from(["x" * 5, "ab", " ", "  ", "Diario", "ロイター", "é", "\n", "-", "("]),
                  max_size=6).map("".join)


@settings(max_examples=1500, deadline=None)
@given(_plain, st.sampled_from(["", " — ", " – ", " - ", " | ", "｜", " ｜ ", "|", "—", "（", "(", " ("]),
       _plain, st.sampled_from(["", ")", "）", " ", "）\n"]))
def test_clean_title_skips_only_headlines_without_a_suffix(head, sep, tail, end):
    """(raw headlines: prep() folds "—" and "–" to "-", clean_title gets both)"""
    title = head + sep + tail + end
    assert dedup.clean_title(title) == clean_title_by_search(title)


@settings(max_examples=800, deadline=None)
@given(st.text(alphabet="アイウ停電한국のにa1 、。x\u30a0\u30ff\u4e00\u9fff\uac00\ud7af\u309f", max_size=30))
def test_cjk_features_are_the_bigrams_and_singles_of_each_run(text):
    out = set()
    dedup._cjk_features(text, out)
    expected = set()
    for run in re.findall(r"[\u30a0-\u30ff\u4e00-\u9fff\uac00-\ud7af]+", text):
        expected.update([run] if len(run) == 1 else [run[i:i + 2] for i in range(len(run) - 1)])
    assert out == expected
