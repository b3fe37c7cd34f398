"""The copy index's compact form (memory per indexed item): what it keeps must decide exactly as
the plain frozenset form, and stay compact (no per-item set, no one-element posting list)."""
import pickle
import random
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings, strategies as st

from bot.core import dedup
from bot.core.dedup import Deduper, signature, similar
from bot.core.model import Entry

T0 = datetime(2026, 1, 3, 8, 0, tzinfo=timezone.utc)


def e(id, title, summary="", lang="en", hours=0.0, link=""):
    return Entry(id, "feed", title, link, summary, T0 + timedelta(hours=hours), lang)


TITLES = ["Sheinbaum meets Trump in Washington on trade and security, March 2",
          "Venezuela frees 553 political prisoners after talks in Caracas",
          "Greenland premier rejects purchase offer again",
          "Cuba blackout leaves Havana without power for a second day",
          "デンマーク首相、グリーンランド訪問を延期",
          "Sheinbaum y Trump conversan por teléfono sobre seguridad"]


def test_an_indexed_signature_keeps_no_set_until_it_is_compared():
    d = Deduper()
    for i, t in enumerate(TITLES):
        d.process(e(f"i{i}", t, summary=f"Summary {i} of the report about {t}", hours=i * 0.1))
    sigs = list(d._order)
    assert len(sigs) == len(TITLES)
    for sig in sigs:
        for field in ("title", "caps", "nums", "months"):
            assert type(getattr(sig, field)) is tuple, field
        assert sig.title                                   # the features are all there
        assert isinstance(sig.key, bytes) and len(sig.key) == 16   # a digest, not the headline
        assert not isinstance(sig._summary, frozenset)     # summary folded on first need only
    # a feature only one headline has is posted as that Sig itself, not as a list of one
    only = {}
    for sig in sigs:
        for f in sig.title:
            only[f] = sig if f not in only else None
    singles = [(f, s) for f, s in only.items() if s is not None]
    assert singles and all(d._post[f] is s for f, s in singles)
    # a copy is still found through the compact form (by key, and by features)
    assert d.process(e("c1", TITLES[1] + " - Reuters", hours=1)).duplicate_of == "i1"
    assert d.process(e("c2", "UPDATE 1-" + TITLES[3] + "; grid operator says",
                       hours=1)).duplicate_of == "i3"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from("venezuela caracas maduro trump sheinbaum mexico cuba havana "
                                "greenland prisoners talks court oil 553 march Denmark Lula "
                                "again second frees meets rejects".split()),
                min_size=2, max_size=9), st.lists(st.sampled_from(
                    "caracas maduro talks court oil 553 120 april Denmark Brussels again".split()),
                    min_size=1, max_size=9), st.text("venezuela caracas oil ", max_size=60))
def test_compact_signatures_decide_as_the_set_form(a, b, summary):
    sa = signature(e("a", " ".join(a), summary=summary), 0)
    sb = signature(e("b", " ".join(b), summary=summary[::-1]), 0)
    want, back = similar(sa, sb), similar(sb, sa)
    ca = signature(e("a", " ".join(a), summary=summary), 0)
    ca.compact()
    cb = signature(e("b", " ".join(b), summary=summary[::-1]), 0)
    cb.compact()
    assert similar(ca, sb) == want and similar(sa, cb) == want and similar(ca, cb) == want
    assert similar(cb, sa) == back
    # a compact Sig pickles back to the set form (as from a parser worker), deciding the same
    assert similar(pickle.loads(pickle.dumps(ca)), sb) == want


def test_singleton_postings_follow_the_list_postings():
    """_add_sig/drop_postings(single=True) (a Sig alone until a second one) keep the same postings, in the same
    order, as add_postings/drop_postings (always a list), through adds, trims and expiry."""
    rng = random.Random(5)
    terms = [f"t{i}" for i in range(40)]
    post_l, df_l, post_s, df_s = {}, {}, {}, {}
    sigs = [signature(e(f"s{i}", f"headline {i}"), 0) for i in range(600)]
    live = []
    for i, sig in enumerate(sigs):
        ts = tuple(rng.sample(terms, rng.randint(1, 6)))
        sig.title = ts
        dedup.add_postings(post_l, df_l, ts, sig, 3)
        dedup._add_sig(post_s, df_s, ts, sig, 3)
        live.append(sig)
        if rng.random() < 0.45:
            old = live.pop(0)
            dedup.drop_postings(post_l, df_l, old.title, old)
            dedup.drop_postings(post_s, df_s, old.title, old, single=True)
        assert df_l == df_s
        for t in terms:
            want = post_l.get(t) or []
            got = post_s.get(t)
            got = [] if got is None else (got if type(got) is list else [got])
            assert got == want, (i, t)
            assert type(post_s.get(t)) is not list or len(post_s[t]) >= 2
