"""parse_feed / ParserPool: faults, charsets, ids, truncation."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given, settings, strategies as st

from bot.adapters.parse import MAX_SUMMARY, MAX_TITLE, ParserPool, derive_id, parse_feed

try:
    from tests.feedserver import make_atom, make_rss
except ImportError:  # pragma: no cover
    from feedserver import make_atom, make_rss

RSS_CT = {"content-type": "application/rss+xml; charset=utf-8"}
JA = "東京で地震、震度５強、気象庁「津波の心配なし」"
JA_CP932 = JA + "①㈱"   # Windows extensions that strict Shift_JIS cannot decode
ES = "¿Qué pasó? El Niño llegó a España — “año récord” de 5 €"


def parse(body: bytes, **kw):
    kw.setdefault("feed_name", "test")
    return parse_feed(body, **kw)


def test_basic_rss_fields():
    body = make_rss([{"title": "Big <b>news</b> &amp; more", "link": "/news/1", "guid": "n-1",
                      "description": "<p>Hello <a href='x'>world</a></p>",
                      "pubDate": "Mon, 06 Jan 2025 10:00:00 +0900"}],
                    title="My <i>feed</i>", language="en-GB")
    r = parse(body, headers=RSS_CT, base_url="https://example.org/feeds/main.xml",
              feed_name="main")
    assert (r.failed, r.bozo, r.title) == (False, None, "My feed")
    [e] = r.entries
    assert (e.id, e.feed, e.title, e.summary) == ("n-1", "main", "Big news & more", "Hello world")
    assert e.link == "https://example.org/news/1"
    assert e.published == datetime(2025, 1, 6, 1, 0, tzinfo=timezone.utc)
    assert e.lang == "en"


def test_atom_content_used_when_no_summary_and_xml_lang_wins():
    body = make_atom([{"id": "urn:x:1", "title": "Titre", "link": "https://ex.fr/1",
                       "content": "<p>Le <b>contenu</b></p>", "updated": "2025-02-03T04:05:06Z"}],
                     lang="fr")
    [e] = parse(body, lang="en").entries
    assert (e.id, e.summary, e.lang, e.link) == ("urn:x:1", "Le contenu", "fr", "https://ex.fr/1")
    assert e.published == datetime(2025, 2, 3, 4, 5, 6, tzinfo=timezone.utc)


def test_lang_argument_used_when_feed_says_nothing_and_entry_lang_overrides():
    body = make_rss([{"title": "a", "guid": "1"}, {"title": "b", "guid": "2", "lang": "en"}])
    a, b = parse(body, lang="es").entries
    assert (a.lang, b.lang) == ("es", "en")


def test_malformed_xml_with_entries_is_kept_with_bozo():
    body = make_rss([{"title": "One", "guid": "1"}, {"title": "Two", "guid": "2"}])
    body = body.replace(b"</channel></rss>", b"<item><title>Three &bogus; <b></item>")
    r = parse(body, headers=RSS_CT)
    assert not r.failed and r.bozo
    assert [e.title for e in r.entries][:2] == ["One", "Two"]


def test_malformed_xml_without_entries_is_failed():
    r = parse(b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</ti', headers=RSS_CT)
    assert r.failed and r.bozo and r.entries == []


def test_html_page_instead_of_feed_is_failed():
    html = b"<!doctype html><html><head><title>Login</title></head><body><p>Sign in</p></body></html>"
    r = parse(html, headers={"content-type": "text/html; charset=utf-8"})
    assert r.failed and r.entries == []


def test_empty_but_valid_feed_is_not_a_failure():
    r = parse(make_rss([], title="Quiet"), headers=RSS_CT)
    assert (r.failed, r.entries, r.title, r.bozo) == (False, [], "Quiet", None)
    served_as_html = parse(make_rss([]), headers={"content-type": "text/html"})
    assert not served_as_html.failed   # a content-type warning is not a broken feed


@pytest.mark.parametrize("body", [b"", b"   \n", b"\x00\xff\xfe garbage", b"{\"json\": true}"])
def test_empty_or_garbage_body_is_failed_not_raised(body):
    r = parse(body, headers={})
    assert r.failed and r.entries == []


# ---------------------------------------------------------------------------- charsets
CHARSET_CASES = [
    # text, body encoding, XML declaration ("" = truthful, None = absent), HTTP content-type
    (JA, "shift_jis", "", "application/rss+xml; charset=Shift_JIS"),
    (JA, "shift_jis", "", "application/rss+xml; charset=utf-8"),          # wrong header
    (JA, "shift_jis", "", "text/xml; charset=iso-8859-1"),                 # wrong, single-byte
    (JA, "shift_jis", None, "text/xml; charset=Shift_JIS"),                # header only
    (JA, "shift_jis", "", "text/xml"),                                     # text/xml, no charset
    (JA_CP932, "cp932", "Shift_JIS", "text/xml; charset=Shift_JIS"),       # real-world "SJIS"
    (JA, "euc_jp", "", "application/xml; charset=EUC-JP"),
    (JA, "euc_jp", "", "application/xml; charset=windows-1252"),          # wrong header
    (JA, "euc_jp", "", None),                                              # no header at all
    (ES, "windows-1252", "", "application/rss+xml; charset=windows-1252"),
    (ES, "windows-1252", "", "application/rss+xml; charset=utf-8"),        # wrong header
    (ES, "windows-1252", "iso-8859-1", "text/xml"),                        # declared as latin-1
    (ES, "windows-1252", None, "application/xml; charset=windows-1252"),
    (ES, "utf-8", "iso-8859-1", "text/xml; charset=iso-8859-1"),           # UTF-8 mislabelled
    (JA, "utf-8", None, None),                                             # missing charset
]


@pytest.mark.parametrize("text,enc,declare,ctype", CHARSET_CASES,
                         ids=[f"{c[1]}-decl:{c[2]}-ct:{c[3]}" for c in CHARSET_CASES])
def test_charsets_decode_correctly(text, enc, declare, ctype):
    body = make_rss([{"title": text, "guid": "1", "description": f"<p>{text}</p>"}],
                    title=text, encoding=enc, declare=declare)
    assert text.encode(enc) in body     # the test really feeds encoded bytes
    r = parse(body, headers={"content-type": ctype} if ctype else {})
    assert not r.failed
    [e] = r.entries
    assert (e.title, e.summary, r.title) == (text, text, text)


@pytest.mark.parametrize("enc", ["shift_jis", "euc_jp"])
def test_japanese_without_any_charset_uses_language_hint(enc):
    body = make_rss([{"title": JA, "guid": "1"}], encoding=enc, declare=None, language="ja")
    [e] = parse(body, headers={"content-type": "text/xml"}).entries
    assert e.title == JA and e.lang == "ja"
    body = make_rss([{"title": JA, "guid": "1"}], encoding=enc, declare=None)
    [e] = parse(body, headers={}, lang="ja").entries    # or the feed's configured language
    assert e.title == JA


@pytest.mark.parametrize("enc", ["shift_jis", "euc_jp"])
def test_undeclared_unknown_charset_still_produces_entries(enc):
    body = make_rss([{"title": JA, "guid": "1", "link": "https://ex.jp/1"}],
                    encoding=enc, declare=None)
    r = parse(body, headers={"content-type": "application/octet-stream"})
    assert not r.failed and [(e.id, e.link) for e in r.entries] == [("1", "https://ex.jp/1")]


# --------------------------------------------------------------------------------- ids
def test_duplicate_guids_inside_one_feed_keep_the_first():
    body = make_rss([{"title": "first", "guid": "same"}, {"title": "other", "guid": "x"},
                     {"title": "second", "guid": "same"}])
    r = parse(body)
    assert [(e.id, e.title) for e in r.entries] == [("same", "first"), ("x", "other")]
    assert r.duplicates == 1


def test_link_is_the_id_when_there_is_no_guid():
    body = make_rss([{"title": "a", "link": " https://ex.org/a "}])
    [e] = parse(body).entries
    assert e.id == e.link == "https://ex.org/a"


def test_entries_without_guid_link_or_date_get_stable_distinct_ids():
    body = make_rss([{"title": "Alpha"}, {"title": "Beta"},
                     {"title": "Alpha", "pubDate": "Tue, 07 Jan 2025 00:00:00 GMT"}])
    first, second = parse(body), parse(body)
    ids = [e.id for e in first.entries]
    assert ids == [e.id for e in second.entries]
    assert len(set(ids)) == 3 and all(i.startswith("sha1:") and len(i) == 25 for i in ids)
    assert ids[0] == derive_id("Alpha", "")
    assert [e.published for e in first.entries][:2] == [None, None]


def test_ids_do_not_depend_on_base_url():
    body = make_rss([{"title": "a", "guid": "rel-guid", "link": "/a"}])
    one = parse(body, base_url="https://a.example/feed")
    two = parse(body, base_url="https://b.example/other/")
    assert one.entries[0].id == two.entries[0].id == "rel-guid"
    assert one.entries[0].link == "https://a.example/a"


def test_invalid_date_is_none():
    body = make_rss([{"title": "a", "guid": "1", "pubDate": "not a date at all"}])
    assert parse(body).entries[0].published is None


@settings(max_examples=60, deadline=None)
@given(titles=st.lists(st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=60),
                       min_size=1, max_size=5))
def test_derived_ids_are_stable_across_parses(titles):
    body = make_rss([{"title": t} for t in titles])
    a, b = parse(body), parse(body)
    assert [e.id for e in a.entries] == [e.id for e in b.entries]
    assert all(e.id == derive_id(e.title, "") for e in a.entries)


@given(st.text(max_size=50), st.text(max_size=40))
def test_derive_id_is_a_pure_function(title, date):
    assert derive_id(title, date) == derive_id(title, date)
    assert derive_id(title, date).startswith("sha1:")


# -------------------------------------------------------------------------- truncation
def test_huge_title_and_summary_are_truncated_at_a_word_boundary():
    words = " ".join(f"word{i}" for i in range(3000))
    body = make_rss([{"title": words, "guid": "1", "description": words * 3}])
    [e] = parse(body).entries
    assert len(e.title) <= MAX_TITLE + 1 and e.title.endswith("…")
    kept = e.title[:-1]
    assert words.startswith(kept) and words[len(kept)] == " "
    assert len(e.summary) <= MAX_SUMMARY + 1 and e.summary.endswith("…")


def test_huge_title_without_spaces_is_cut_hard():
    [e] = parse(make_rss([{"title": "長" * 5000, "guid": "1"}])).entries
    assert e.title == "長" * MAX_TITLE + "…"


# -------------------------------------------------------------------------------- pool
@pytest.mark.parametrize("kind", ["inline", "thread", "process"])
async def test_parser_pool_gives_the_same_result(kind):
    body = make_rss([{"title": JA, "guid": "1"}, {"title": "two"}], encoding="shift_jis")
    expected = parse_feed(body, feed_name="p", headers={}, lang="ja")
    pool = ParserPool(kind, workers=2)
    try:
        got = await pool.parse(body, feed_name="p", headers={}, lang="ja")
    finally:
        pool.close()
    assert got == expected and got.entries[0].title == JA


def test_parser_pool_rejects_unknown_kind():
    with pytest.raises(ValueError):
        ParserPool("fibers")


def test_feed_categories_become_entry_categories():
    # <category> terms are evidence for matching (a /sports/ item naming a country is a fixture)
    cats = "".join(f"<category>{c}</category>" for c in ("Sports", "Béisbol", "Sports", "x" * 200))
    body = make_rss([{"title": "t", "guid": "g", "raw": cats + "<category>" * 0}])
    [e] = parse(body, headers=RSS_CT).entries
    assert e.categories == ("Sports", "Béisbol", "x" * 80)
    [e] = parse(make_rss([{"title": "t", "guid": "g"}]), headers=RSS_CT).entries
    assert e.categories == ()
