"""The fast paths of duplicate detection decide exactly as the plain forms they replace:
clean_title reads the suffix backwards (same cut as the `_SUFFIX` search), and prepare() (the
per-entry part, made in a parser worker and pickled) gives the same verdicts as Deduper.process
computing everything itself."""
import pickle
import re
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings, strategies as st

from bot.core import dedup
from bot.core.dedup import Deduper, clean_title, prepare
from bot.core.model import Entry, Hit
from bot.core.normalize import prep

T0 = datetime(2026, 1, 3, 8, 0, tzinfo=timezone.utc)


def clean_title_by_search(title: str) -> str:
    """The reference: the suffix found by searching every position (`_SUFFIX`, anchored at $)."""
    t = title.strip()
    for _ in range(2):
        t2 = dedup._PREFIX.sub("", t)
        m = dedup._SUFFIX.search(t2)
        if m and m.start() >= 8:
            t2 = t2[:m.start()]
        if t2 == t:
            break
        t = t2.strip()
    return t


pieces = st.sampled_from(list("ab XYZ-|–—｜（）()\n\t　【】[]12") + [
    "UPDATE 1-", "BREAKING: ", "refile-", "【速報】", "[AP] ", " - Reuters", " | CNN", "（ロイター）",
    " (AP)", "x" * 20, "  ", "Maduro arraigned in court"])


@settings(max_examples=400)
@given(st.lists(pieces, max_size=14))
def test_clean_title_cuts_where_the_suffix_search_would(parts):
    title = "".join(parts)
    assert clean_title(title) == clean_title_by_search(title)


def test_clean_title_examples():
    assert clean_title("UPDATE 2-Maduro arraigned in Manhattan court - Meridian Wire") == \
        "Maduro arraigned in Manhattan court"
    assert clean_title("マドゥロ氏、NY連邦地裁に出廷（ロイター）") == "マドゥロ氏、NY連邦地裁に出廷"
    assert clean_title("Cuba blackout｜Diario") == "Cuba blackout"
    assert clean_title("Short - Wire") == "Short - Wire"          # too little left: kept


STORY = ["Maduro arraigned in Manhattan federal court on drug charges",
         "Maduro pleads not guilty in Manhattan court on narco-terrorism charges",
         "Sheinbaum rejects US military action in Mexico",
         "Mexico's Sheinbaum rejects any US military intervention",
         "Cuba hit by island-wide blackout as grid collapses again",
         "Havana blackout: Cuba's grid collapses for the third time",
         "Peru's Congress votes to remove President Alvarado",
         "Lima lawmakers oust Alvarado in impeachment vote",
         # long CJK headlines: many bigrams, so a set rebuilt on unpickling has another table size
         # (and iteration order) than the one built here
         "ベネズエラのマドゥロ大統領がニューヨーク連邦地裁に出廷し麻薬関連の起訴内容を全面的に否認した",
         "マドゥロ大統領がニューヨーク連邦地裁に出廷、麻薬テロ共謀の起訴内容を否認と弁護団が明らかに"]
SUMMARY = {"Alvarado": "Lawmakers in Lima voted 101 to 12 to oust Ricardo Alvarado over corruption "
                       "charges, handing power to the head of Congress."}


def stream():
    out = []
    for i in range(240):
        base = STORY[i % len(STORY)]
        title = base if i % 5 else f"UPDATE {i % 3}-{base} - Outlet{i % 7}"
        link = f"https://n{i % 2}.example/{i // 12}/{i % len(STORY)}" if i % 9 else ""
        summary = SUMMARY["Alvarado"] if "Alvarado" in base else \
            f"{base}。関係者が{i // 24}日に明らかにした。" if not base.isascii() else \
            f"{base}. Officials said on day {i // 24} that talks continue."
        out.append(Entry(f"id{i % 40}", "feed", title, link, summary,
                         T0 + timedelta(hours=i * 0.4), "en" if base.isascii() else "ja"))
    return out


def hits_for(entry):
    t = entry.title.lower()
    return tuple(Hit(wl, alias, "title", alias, "exact") for wl, alias in
                 (("venezuela", "Maduro"), ("mexico", "Sheinbaum"), ("cuba", "Cuba"),
                                  ("peru", "Alvarado"), ("venezuela", "マドゥロ"))
                 if alias.lower() in t)


def test_prepared_in_another_process_decides_as_the_plain_path():
    plain, split = Deduper(24 * 3600), Deduper(24 * 3600)
    verdicts = []
    for i, entry in enumerate(stream()):
        hits = hits_for(entry)
        tp, sp = prep(entry.title), prep(entry.summary)
        a = plain.process(entry, None, folded_summary=sp[:400].lower(), prepped_title=tp,
                          hits=hits, prepped_summary=sp[:400])
        p = pickle.loads(pickle.dumps(prepare(entry, tp, sp[:400], hits,
                                              folded_summary=sp[:400].lower())))
        b = split.process(entry, None, hits=hits, prepared=p)
        assert a == b, (i, entry.title)
        verdicts.append(a.reason)
        if i % 50 == 49:
            cut = (entry.published - timedelta(hours=20)).timestamp()
            assert plain.expire(cut) == split.expire(cut)
    # the stream exercises every kind of verdict the fast paths touch
    assert {"guid", "url", "title", "similar", "story"} <= set(verdicts)


def test_unpickled_signatures_share_the_index_strings():
    entry = Entry("x", "feed", "Havana blackout deepens", "", "", T0, "en")
    p = pickle.loads(pickle.dumps(prepare(entry)))
    mine = dedup.signature(entry, 0.0)
    for f in p.sig.title:
        assert any(f is g for g in mine.title)     # interned again on arrival


def test_equal_candidates_are_ranked_the_same_whatever_the_set_order():
    """Two earlier headlines each contained in the new one (both score 1.0): which one the copy
    points to must not depend on the iteration order of its feature set (which differs for a
    signature rebuilt in another process)."""
    d = Deduper(10**9)
    t0 = T0 + timedelta(hours=1)
    d.add(Entry("a", "feed", "alpha beta gamma delta", "", "", T0, "en"))
    d.add(Entry("b", "feed", "epsilon zeta theta kappa", "", "", T0, "en"))
    new = Entry("n", "feed", "alpha beta gamma delta epsilon zeta theta kappa", "", "", t0, "en")
    sig = dedup.signature(new, t0.timestamp())
    verdicts = set()
    for pad in (0, 40, 90, 200, 400, 800):
        big = set(sig.title) | {f"pad{i}" for i in range(pad)}
        big -= {f"pad{i}" for i in range(pad)}          # same features, another table size
        sig.title = big
        v = d._near(sig)
        verdicts.add((v.duplicate_of, v.reason))
    assert len(verdicts) == 1 and next(iter(verdicts))[0] in ("a", "b")


def _state(p):
    s = p.sig
    return (p.url, p.wls, p.topic, p.story, p._tp, p._sp,
            tuple(getattr(s, k, None) for k in dedup.Sig.__slots__))


_words = st.lists(st.sampled_from(["Maduro", "US", "U.S.", "Caracas", "2026", "1,5", "３月", "March",
                                   "enero", "again", "キューバ", "停電", "의", "é", "\u3000", "\t",
                                   "\u2028", "١٢", "ſ", "K", " - Reuters", "【速報】", "(AP)", " "]),
                  max_size=14).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(_words, _words, st.sampled_from(["en", "es", "ja", None]), st.booleans())
def test_the_compact_wire_form_rebuilds_the_same_prepared(title, summary, lang, matched):
    entry = Entry("id", "feed", title, "https://a.example/x?utm_source=1", summary, T0, lang)
    hits = (Hit("cuba", "Cuba", "title", "cuba", "exact"),) if matched else ()
    tp, sp = prep(entry.title), prep(entry.summary)[:400]
    p = prepare(entry, tp, sp, hits, folded_summary=sp.lower())
    assert p.__reduce__()[0] is dedup._prepared_from        # the compact form was used
    q = pickle.loads(pickle.dumps(p, 5))
    assert _state(q) == _state(p)
    assert all(type(getattr(q.sig, k)) is type(getattr(p.sig, k)) for k in ("title", "caps", "nums"))
    # a Sig whose summary is not the kept one lower-cased travels in the full form, as before
    r = prepare(entry, tp, sp, hits)
    assert _state(pickle.loads(pickle.dumps(r, 5))) == _state(r)
