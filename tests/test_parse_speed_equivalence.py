"""The parser's speed changes give exactly the old output (issue 9).

* bot.adapters.feedparser_patch (contentparams copied shallowly, FeedParserDict lookups on the
  plain dict path for ordinary keys, _urljoin without a base, the cp1252 table as a str):
  feedparser's whole result, every lookup style, _urljoin and the table against the originals,
  patched vs unpatched, over RSS, Atom, RDF, HTML/XHTML content, xml:base and hostile bodies;
* `_strip_tags` (one regex substitution) vs the left-to-right scanner it falls back to;
* `_join` (absolute links skip urljoin) vs urljoin;
* `_entry` (plain dict reads) vs the previous version, kept here as the reference.
"""
from __future__ import annotations

import calendar
import io
import re
from datetime import datetime, timezone
from urllib.parse import urljoin

import feedparser
import pytest
from feedparser import mixin
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.adapters import feedparser_patch
from bot.adapters import parse as P
from bot.core.model import Entry
from bot.core.normalize import _strip_tags, _strip_tags_scan, strip_controls, strip_html

feedparser_patch.apply()      # parse_feed applies it on first use; these tests need it at once

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>Feed &amp; co</title><link>https://a.example/</link><language>es-MX</language>
<description>&lt;b&gt;bold&lt;/b&gt; channel</description>
<item><title>Sheinbaum &lt;i&gt;habla&lt;/i&gt;</title><link>https://a.example/1?utm_source=x&amp;b=2</link>
<description><![CDATA[<p>Texto <a href="/rel">relativo</a> <script>x()</script>fin</p>]]></description>
<content:encoded><![CDATA[<div><img src="i.png"/> contenido</div>]]></content:encoded>
<guid isPermaLink="false">tag:a,2026:1</guid><category>Política</category><dc:subject>México</dc:subject>
<pubDate>Fri, 27 Nov 2026 10:00:00 +0900</pubDate></item>
<item><title>Sin guid</title><link>/relative/2</link><description>plain text 1 &lt; 2</description></item>
<item><guid>https://a.example/3</guid><description>only a description</description></item>
</channel></rss>""".encode()

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="ja" xml:base="https://b.example/news/">
<title type="html">&lt;em&gt;速報&lt;/em&gt;</title><id>urn:feed</id><updated>2026-11-27T00:00:00Z</updated>
<entry xml:base="sub/"><title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">キューバ <b>停電</b></div></title>
<id>urn:e1</id><link rel="alternate" href="e1.html"/><link rel="enclosure" href="a.mp3" length="1"/>
<updated>2026-11-27T01:00:00Z</updated><published>2026-11-26T23:00:00+09:00</published>
<summary type="text">要約 &amp; テキスト</summary>
<content type="html" xml:lang="en">&lt;p&gt;Cuba &lt;b&gt;blackout&lt;/b&gt;&lt;/p&gt;</content>
<category term="world" label="World"/><author><name>A</name></author>
<source><id>urn:src</id><title>Src</title></source></entry>
<entry><title>Two</title><id>urn:e2</id><content type="xhtml" xml:base="/x/">
<div xmlns="http://www.w3.org/1999/xhtml"><p>One <a href="y">link</a></p></div></content>
<rights type="html">&lt;b&gt;r&lt;/b&gt;</rights></entry>
<entry><title type="text/plain">Plain &lt;tag&gt;</title><id>urn:e3</id>
<content type="text/plain">looks &lt;b&gt;like&lt;/b&gt; html</content>
<content src="https://b.example/out" type="text/html"/></entry>
</feed>""".encode()

RDF = """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
         xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://c.example/"><title>RDF</title><link>https://c.example/</link>
<description>d</description></channel>
<item rdf:about="https://c.example/1"><title>Greenland &amp; Denmark</title>
<link>https://c.example/1</link><description>&lt;p&gt;x&lt;/p&gt;</description>
<dc:date>2026-11-27T05:00:00Z</dc:date><dc:language>da</dc:language></item>
</rdf:RDF>""".encode()

HOSTILE = [
    b"",
    b"<html><body><p>not a feed</p></body></html>",
    b'<rss version="2.0"><channel><item><title>broken <b>markup</title></item>',
    b'<rss version="2.0"><channel><title>t</title><item><title>' + b"&lt;script" * 2000
    + b"</title><guid>x</guid></item></channel></rss>",
    b'<rss version="2.0"><channel><item><title>Cuba\x00 n\x1bews &#0; &#x9b;</title>'
    b"<description>sum\x00mary</description><link>https://e.org/a\x00b</link></item></channel></rss>",
    b'<?xml version="1.0" encoding="shift_jis"?><rss version="2.0"><channel><item><title>'
    + "東京".encode("shift_jis") + b"</title></item></channel></rss>",
    b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title type="html" mode="escaped">'
    b"&amp;lt;b&amp;gt;x</title><content mode=\"base64\" type=\"text/html\">PGI+eDwvYj4=</content>"
    b"</entry></feed>",
    b'<rss version="0.91"><channel><item><title>' + "é".encode("latin-1")
    + b"</title></item></channel></rss>",
]


def _both(parse, body):
    feedparser_patch.remove()
    try:
        before = parse(body)
    finally:
        assert feedparser_patch.apply()
    return before, parse(body)


def _fp(body, ctype="application/xml"):
    d = feedparser.parse(io.BytesIO(body), sanitize_html=False, resolve_relative_uris=False,
                         response_headers={"content-location": "https://base.example/feed",
                                           "content-type": ctype})
    exc = d.get("bozo_exception")
    if exc is not None:           # exceptions compare by identity: compare their type and text
        d["bozo_exception"] = (type(exc).__name__, str(exc))
    return d


@pytest.mark.parametrize("body", [RSS, ATOM, RDF, *HOSTILE])
def test_feedparser_output_is_equal_patched_and_unpatched(body):
    for ctype in ("application/xml", "text/html", ""):
        before, after = _both(lambda b: _fp(b, ctype), body)
        assert after == before
        assert repr(after) == repr(before)          # the same types and key order too
    r_before, r_after = _both(lambda b: P.parse_feed(b, feed_name="f", base_url="https://z.example/"),
                              body)
    assert r_after == r_before


_text = st.lists(st.sampled_from(list("<>/!?&;#ab é日") + ["<b>", "</p>", "&amp;", "&lt;i&gt;",
                                                         "<![CDATA[", "]]>", "<div>"]),
                 max_size=20).map("".join)


@settings(max_examples=150, deadline=None)
@given(_text, _text, st.sampled_from(["text", "html", "xhtml"]),
       st.sampled_from(["", ' xml:base="https://q.example/d/"', ' xml:lang="es"']))
def test_patched_feedparser_is_equal_on_generated_atom(title, body, kind, attrs):
    esc = body.replace("&", "&amp;").replace("<", "&lt;")
    content = (f'<div xmlns="http://www.w3.org/1999/xhtml">{esc}</div>' if kind == "xhtml" else esc)
    doc = (f'<feed xmlns="http://www.w3.org/2005/Atom"{attrs}><entry><title type="{kind}">'
           f'{title.replace("&", "&amp;").replace("<", "&lt;")}</title><id>i</id>'
           f'<summary type="{kind}">{content}</summary><content type="{kind}">{content}</content>'
           f"</entry></feed>").encode()
    before, after = _both(_fp, doc)
    assert repr(after) == repr(before)


def test_the_stand_in_copies_deeply_whatever_is_not_flat_contentparams():
    shim = mixin.copy
    assert shim is not __import__("copy") and feedparser_patch.apply()
    flat = feedparser.FeedParserDict({"type": "text/html", "language": None, "base": "u"})
    out = shim.deepcopy(flat)
    assert out == flat and out is not flat and type(out) is type(flat)
    nested = feedparser.FeedParserDict({"type": "t", "links": [feedparser.FeedParserDict(a=1)]})
    deep = shim.deepcopy(nested)
    assert deep == nested and deep["links"] is not nested["links"]
    renamed = feedparser.FeedParserDict()
    dict.__setitem__(renamed, "description", "d")     # deepcopy re-inserts it as "summary"
    assert shim.deepcopy(renamed) == __import__("copy").deepcopy(renamed)
    assert shim.copy is __import__("copy").copy       # the rest of the copy module is untouched


_KEYS = ["title", "summary", "id", "guid", "link", "links", "category", "tags", "enclosures",
         "license", "updated", "updated_parsed", "published", "published_parsed", "description",
         "description_detail", "channel", "items", "feed", "entries", "url", "href", "date",
         "date_parsed", "modified", "issued", "copyright", "tagline", "type", "value", "base",
         "language", "content", "nope", "", "TITLE"]


def _lookups(d):
    """Every lookup style on every key: value or exception, and the warnings raised."""
    import warnings
    out = []
    for k in _KEYS:
        for how in (lambda: d.get(k), lambda: d.get(k, 7), lambda: d[k], lambda: k in d,
                    lambda: getattr(d, k, "none"), lambda: d.setdefault(k, "x") if k == "nope" else 0):
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                try:
                    r = ("ok", re.sub(" at 0x[0-9a-f]+", "", repr(how())))
                except Exception as exc:  # noqa: BLE001
                    r = ("raised", type(exc).__name__)
            out.append((k, r, [str(x.message)[:40] for x in w]))
    return out


@pytest.mark.parametrize("body", [RSS, ATOM, RDF])
def test_patched_lookups_equal_the_original_on_every_key(body):
    def dicts(d):
        return [d, d["feed"], *d["entries"], *(x for e in d["entries"] for x in e.get("links", ())),
                *(e[k] for e in d["entries"] for k in ("title_detail", "summary_detail") if k in e)]
    feedparser_patch.remove()
    try:
        before = [_lookups(x) for x in dicts(_fp(body))]
    finally:
        assert feedparser_patch.apply()
    assert [_lookups(x) for x in dicts(_fp(body))] == before
    # a published-only entry: "updated" is the deprecated alias, warned about, in both
    def pub():
        return feedparser.FeedParserDict(published="p", published_parsed=(2026,))
    feedparser_patch.remove()
    try:
        before = _lookups(pub())
    finally:
        assert feedparser_patch.apply()
    assert _lookups(pub()) == before


def _originals():
    from feedparser import urls
    from feedparser.html import _cp1252
    return urls._urljoin, _cp1252


_uri = st.one_of(
    st.lists(st.sampled_from(["http:", "HTTPS:", "//", "/", "///", "a", "+", ".", "-", "1", ":",
                              "x.y", "?", "#", "[", " ", "\t", "é", "javascript:", "urn:x",
                              "../", "ftp://", "h://", "://"]), max_size=8).map("".join),
    st.text(max_size=12))


@settings(max_examples=800, deadline=None)
@given(st.sampled_from(["", None, "https://a.example/d/", "http://[bad/", "/rel/", "h:"]), _uri)
def test_the_patched_urljoin_equals_feedparsers(base, uri):
    orig, _ = _originals()
    assert mixin._urljoin is not orig                  # the patch is in force

    def run(f):
        try:
            return f(base, uri)
        except Exception as exc:  # noqa: BLE001
            return type(exc)
    assert run(mixin._urljoin) == run(orig)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=40)
       | st.text(alphabet=st.characters(min_codepoint=0x70, max_codepoint=0xB0), max_size=40))
def test_the_cp1252_table_translates_as_the_dict(text):
    _, cp1252 = _originals()
    assert mixin._cp1252 is not cp1252
    assert text.translate(mixin._cp1252) == text.translate(cp1252)


def test_the_cp1252_table_covers_every_mapped_and_unmapped_character():
    _, cp1252 = _originals()
    every = "".join(map(chr, range(0x800))) + "\ud800\uffff\U00010000\U0010ffff"
    assert every.translate(mixin._cp1252) == every.translate(cp1252)


def test_the_patch_is_left_out_for_another_feedparser(monkeypatch):
    feedparser_patch.remove()
    try:
        monkeypatch.setattr(feedparser, "__version__", "6.1.0")
        original_get = feedparser.FeedParserDict.get
        assert not feedparser_patch.apply()
        assert mixin.copy is __import__("copy")
        assert feedparser.FeedParserDict.get is original_get
        feedparser_patch.remove()
        monkeypatch.undo()
        monkeypatch.setattr(mixin, "copy", None)        # no `copy` global: nothing to patch
        assert not feedparser_patch.apply()
        assert mixin.copy is None
        feedparser_patch.remove()
        monkeypatch.undo()
        monkeypatch.setattr(mixin, "_urljoin", lambda base, uri: uri)   # not feedparser's own
        assert not feedparser_patch.apply()
        assert mixin.copy is __import__("copy")
    finally:
        monkeypatch.undo()
        feedparser_patch.remove()
        assert feedparser_patch.apply() and mixin.copy is not __import__("copy")


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(list("<>/!? abSs-") + ["<script>", "</script>", "<b>", "<",
                                                        "<STYLE x>", "<noscript", "K", "ſ", "\n"]),
                max_size=40).map("".join))
def test_strip_tags_equals_the_scanner(s):
    assert _strip_tags(s) == _strip_tags_scan(s)


_url = st.builds(
    lambda scheme, host, path, query, frag: scheme + host + path + query + frag,
    st.sampled_from(["http://", "https://", "HTTP://", "//", "", "ftp://", "http:/"]),
    st.sampled_from(["a.com", "b.example:80", "", "[::1]", "u@h", "é.com", "a b", "[x"]),
    st.text(st.sampled_from(list("/x;é. %\t\n\\[(~=&'\x00")), max_size=6).map(lambda p: "/" + p),
    st.sampled_from(["", "?", "?q=1", "?a=1;b", "?#"]),
    st.sampled_from(["", "#", "#f", "#f?x", "# "]))


def _urljoin(base, link):
    try:
        return urljoin(base, link)
    except ValueError:
        return ValueError


def _fast_join(base, link):
    try:
        return P._join(base, link)
    except ValueError:
        return ValueError


@settings(max_examples=800, deadline=None)
@given(st.sampled_from(["https://a.com/feed.xml", "http://127.0.0.1:8000/f", "https://[::1]/f",
                        "http://a.com/f;p", "ftp://a.com/", "http://[bad/f"]), _url)
def test_join_equals_urljoin(base, link):
    assert _fast_join(base, link) == _urljoin(base, link)


# ---- the previous _entry, as the reference
def _old_lang_tag(value):
    import re
    if not value or not isinstance(value, str):
        return None
    primary = re.split(r"[-_]", value.strip(), maxsplit=1)[0].lower()
    return primary if primary.isalpha() and 1 < len(primary) < 9 else None


def _old_entry(e, *, feed_name, feed_lang, base_url):
    title = P._truncate(strip_html(e.get("title"), P.MAX_TITLE), P.MAX_TITLE)
    raw_summary = e.get("summary")
    if not raw_summary and e.get("content"):
        raw_summary = e["content"][0].get("value")
    summary = P._truncate(strip_html(raw_summary, P.MAX_SUMMARY), P.MAX_SUMMARY)
    guid = strip_controls(e.get("id") or "").strip()
    link = strip_controls(e.get("link") or "").strip()
    if link and link == guid and e.get("guidislink") and "://" not in link:
        link = ""
    if link and base_url:
        link = urljoin(base_url, link)
    if ":" in link.split("/", 1)[0] and not link.lower().startswith(("http:", "https:")):
        link = ""
    date = dict.get(e, "published") or dict.get(e, "updated") or ""
    eid = guid or link or P.derive_id(title, date)
    lang = None
    for detail in ("title_detail", "summary_detail"):
        lang = lang or _old_lang_tag((e.get(detail) or {}).get("language"))
    t = dict.get(e, "published_parsed") or dict.get(e, "updated_parsed")
    published = datetime.fromtimestamp(calendar.timegm(t), tz=timezone.utc) if t else None
    cats: list[str] = []
    for tag in e.get("tags") or ():
        term = strip_html((tag or {}).get("term") or (tag or {}).get("label") or "")[:80]
        if term and term not in cats:
            cats.append(term)
            if len(cats) == 16:
                break
    return Entry(id=eid, feed=feed_name, title=title, link=link, summary=summary,
                 published=published, lang=lang or feed_lang, categories=tuple(cats))


def _entries(body):
    return _fp(body).entries


@pytest.mark.parametrize("body", [RSS, ATOM, RDF, *HOSTILE])
@pytest.mark.parametrize("base", ["", "https://z.example/feed", "http://[::1]/f"])
def test_entry_equals_the_previous_version(body, base):
    for e in _entries(body):
        kw = dict(feed_name="f", feed_lang="xx", base_url=base)
        assert P._entry(e, **kw) == _old_entry(e, **kw)


@settings(max_examples=150, deadline=None)
@given(_text, _text, st.sampled_from(["", "en", "es-MX", "ja_JP", "x", " pt-BR ", "1a"]),
       st.sampled_from(["", "https://l.example/a", "/rel", "urn:x", "tag:a", "g"]),
       st.booleans())
def test_entry_equals_the_previous_version_on_generated_items(title, summary, lang, ref, permalink):
    esc = lambda s: s.replace("&", "&amp;").replace("<", "&lt;")  # noqa: E731
    doc = (f'<rss version="2.0"><channel><item><title>{esc(title)}</title>'
           f"<description>{esc(summary)}</description><link>{esc(ref)}</link>"
           f'<guid isPermaLink="{str(permalink).lower()}">{esc(ref)}</guid>'
           f"<category>{esc(title)}</category></item></channel></rss>").encode()
    if lang:
        doc = doc.replace(b"<channel>", f"<channel><language>{lang}</language>".encode())
    for e in _entries(doc):
        for base in ("", "https://z.example/feed"):
            kw = dict(feed_name="f", feed_lang=lang or None, base_url=base)
            assert P._entry(e, **kw) == _old_entry(e, **kw)


# ---- the wire form of Entry and Hit (a plain tuple and the constructor)
@settings(max_examples=100, deadline=None)
@given(_text, _text, st.sampled_from([None, "en", "ja"]), st.booleans(),
       st.lists(_text, max_size=3).map(tuple))
def test_entry_and_hit_pickle_every_field(title, summary, lang, dated, cats):
    import dataclasses
    import pickle

    from bot.core.model import Hit
    e = Entry("id", "feed", title, "https://l.example/" + title, summary,
              datetime(2026, 11, 27, 1, 2, 3, tzinfo=timezone.utc) if dated else None, lang, cats)
    h = Hit("wl", title, "title", summary, "fuzzy", 91.5, evidence=("+x", "-y"))
    for obj in (e, h):
        names = [f.name for f in dataclasses.fields(obj)]
        # the reduce tuple is the fields in declaration order: a field added later must be added
        assert list(obj.__reduce__()[1]) == [getattr(obj, n) for n in names]
        back = pickle.loads(pickle.dumps(obj, 5))
        assert type(back) is type(obj)
        assert [getattr(back, n) for n in names] == [getattr(obj, n) for n in names]


def test_threads_applying_together_patch_once():
    import threading
    feedparser_patch.remove()
    original_get = feedparser.FeedParserDict.get
    barrier = threading.Barrier(8)

    def go():
        barrier.wait()
        feedparser_patch.apply()
    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    d = feedparser.FeedParserDict(tags=[feedparser.FeedParserDict(term="x")])
    assert d.get("category") == "x"               # a patch of the patch would lose this alias
    feedparser_patch.remove()
    assert feedparser.FeedParserDict.get is original_get and mixin.copy is __import__("copy")
    assert feedparser_patch.apply()
