"""feedparser_patch's patches 5 (text runs in one piece; plain RSS elements past the SAX layers),
6 (feedparser_elements: pop, unknown_starttag), 7 (feedparser_dates) and the `in` fast path give exactly feedparser's own
output (issue 9): generated RSS 0.91/2.0, RDF, Atom 0.3 and Atom 1.0 documents (escaped markup,
character references, C1 controls, double-encoded UTF-8, links with "&", CDATA, XHTML content,
undefined entities that send feedparser to its loose parser), odd RSS elements (xmlns
declarations, mixed case, prefixes, attributes), each parsed patched and unpatched; generated
dates against feedparser's handler chain; the guards; and that the reader does hand text over in
one piece.
"""
from __future__ import annotations

import io

import feedparser
import pytest
from feedparser import api, mixin
from feedparser import datetimes
from feedparser.namespaces import _base
from hypothesis import given, settings
from hypothesis import strategies as st
from test_parse_speed_equivalence import _both
from test_parse_speed_equivalence import _fp as _fp_based

from bot.adapters import feedparser_patch

feedparser_patch.apply()


def _fp(body: bytes, ctype: str = "application/xml"):
    """feedparser's result with a base URI (Content-Location) and without one (as parse_feed
    calls it, here with a Content-Language): some fast paths only run without."""
    plain = feedparser.parse(io.BytesIO(body), sanitize_html=False, resolve_relative_uris=False,
                             response_headers={"content-type": ctype, "content-language": "es"})
    exc = plain.get("bozo_exception")
    if exc is not None:
        plain["bozo_exception"] = (type(exc).__name__, str(exc))
    return _fp_based(body, ctype), plain


_PIECES = ["Cuba", "Sheinbaum", " ", "  ", "\n", "\t", "&amp;", "&lt;b&gt;", "&lt;/b&gt;",
           "&lt;p&gt;", "&lt;/p&gt;", '&lt;a href="/r?a=1&amp;amp;b=2"&gt;', "&lt;br/&gt;",
           "&#x85;", "&#x9b;", "&#150;", "&#233;", "&#38;", "&#60;", "&quot;", "&amp;copy;",
           "Ã©", "Ã", "é", "€", "日本", "キューバ", "\u0085", "<![CDATA[<p>x & y</p>]]>",
           "<![CDATA[]]>", "1 &lt; 2", "&amp;lt;i&amp;gt;", "a/b", "http://x.example/"]
_text = st.lists(st.sampled_from(_PIECES), max_size=12).map("".join)
_loose = st.sampled_from(["", "", "", "&nbsp;", "&eacute;"])   # undefined in XML: loose parser
_link = st.sampled_from(["https://a.example/p", "https://a.example/x?a=1&amp;b=2",
                         "/rel?x=1&amp;y;=2", "https://a.example/&amp;c;", "", " rel "])


def _rss_item(title, link, desc, guid, permalink, extra):
    return (f"<item><title>{title}</title><link>{link}</link>"
            f'<guid isPermaLink="{permalink}">{guid}</guid><description>{desc}</description>'
            f"<category>{title}</category>{extra}<pubDate>Fri, 27 Nov 2026 10:00:00 +0900</pubDate>"
            "</item>\n")


_item = st.builds(_rss_item, _text, _link, _text, _text, st.sampled_from(["true", "false"]),
                  st.sampled_from(["", "<content:encoded>{}</content:encoded>",
                                   "<dc:language>es</dc:language>", "<comments>{}</comments>"]))


@settings(max_examples=250, deadline=None)
@given(st.sampled_from(['version="2.0"', 'version="0.91"', 'version="0.92"', "",
                        'version="2.0" xmlns="http://www.w3.org/2005/Atom"',
                        'version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"']),
       _text, _link, st.lists(st.tuples(_item, _text), min_size=1, max_size=4), _loose)
def test_generated_rss_parses_the_same_patched_and_unpatched(rss_attrs, title, link, items, loose):
    body = "".join(i.replace("{}", t) for i, t in items)
    doc = (f'<?xml version="1.0" encoding="utf-8"?>\n<rss {rss_attrs} '
           'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
           'xmlns:dc="http://purl.org/dc/elements/1.1/">\n'
           f"<channel><title>{title}{loose}</title><link>{link}</link>"
           f"<description>{title}</description>\n{body}</channel></rss>").encode()
    for ctype in ("application/xml", "text/html"):
        before, after = _both(lambda b: _fp(b, ctype), doc)
        assert repr(after) == repr(before)


@settings(max_examples=150, deadline=None)
@given(_text, _text, st.sampled_from(["text", "html", "xhtml"]), _loose,
       st.sampled_from(["atom10", "atom03", "rdf"]))
def test_generated_atom_and_rdf_parse_the_same(title, body, kind, loose, flavour):
    xhtml = f'<div xmlns="http://www.w3.org/1999/xhtml">{body}<b>{title}</b>\n</div>\n'
    if flavour == "rdf":
        doc = ('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
               'xmlns="http://purl.org/rss/1.0/"><channel rdf:about="u"><title>c</title></channel>'
               f'<item rdf:about="https://c.example/1"><title>{title}{loose}</title>'
               f"<link>https://c.example/1?a=1&amp;b=2</link><description>{body}</description>"
               "</item></rdf:RDF>")
    else:
        ns, mode = (('xmlns="http://www.w3.org/2005/Atom"', "")
                    if flavour == "atom10" else
                    ('version="0.3" xmlns="http://purl.org/atom/ns#"', ' mode="xml"'))
        ctype = {"text": "text", "html": "html", "xhtml": "xhtml"}[kind] if flavour == "atom10" \
            else {"text": "text/plain", "html": "text/html", "xhtml": "application/xhtml+xml"}[kind]
        content = xhtml if kind == "xhtml" else body
        doc = (f"<feed {ns}><title>{title}</title><entry><title type=\"{ctype}\"{mode}>{title}"
               f"{loose}</title><id>i</id><link href=\"/x?a=1&amp;b=2\"/>"
               f'<summary type="{ctype}"{mode}>{content}</summary>'
               f'<content type="{ctype}"{mode}>{content}</content></entry></feed>')
    before, after = _both(_fp, doc.encode())
    assert repr(after) == repr(before)


# Atom 1.0 content declared as HTML that turns out to hold elements: feedparser switches it to
# XHTML at the first element, and pop then unwraps an enclosing <div> only when the first piece
# is "<div>". Expat hands "&lt;div&gt;" over as three pieces, so feedparser keeps the <div>;
# in one piece it would unwrap it: Atom 1.0 text must stay in expat's pieces.
_ATOM_SWITCHING = [
    '<content type="html">&lt;div&gt;<p>x</p><div>y</div></content>',
    '<summary type="html">\n &lt;div&gt;<p>x</p>\n<div>y</div>\n </summary>',
    '<title type="text">&lt;div class="a"&gt;<i>t</i><div/></title>',
]


# plain RSS elements that still need the SAX layers: an xmlns:xlink declaration (feedparser
# passes it on as an attribute), mixed-case and prefixed names, attributes
RSS_HEAD = '<rss version="2.0"><channel>'
_RSS_ODD = [
    '<item xmlns:xlink="http://www.w3.org/1999/xlink"><title>x</title><link>/a</link></item>',
    '<item><custom xmlns:xlink="http://www.w3.org/1999/xlink">v</custom><title>t</title></item>',
    '<item><Title>X</Title><LINK>/b</LINK><pubdate>Fri, 27 Nov 2026 10:00:00 GMT</pubdate></item>',
    '<item xmlns:a="http://www.w3.org/2005/Atom"><a:link href="/c"/><title x="1">t</title></item>',
    '<item><source url="https://s.example/">S</source><enclosure url="/e.mp3" length="1"/></item>',
    # ill-formed image and text input blocks: an unexpected element ends them (feedparser's hack)
    '<image><url>https://i.example/x.png</url><foo>f</foo><link>https://i.example/</link>'
    '<title>i</title></image><item><title>t</title><link>https://a.example/1</link></item>',
    '<textInput><title>t</title><foo>x</foo><description>d</description><name>n</name>'
    '<link>https://t.example/</link></textInput><item><title>t</title></item>',
]


@pytest.mark.parametrize("item", _RSS_ODD)
def test_odd_rss_elements_parse_the_same(item):
    doc = f'<rss version="2.0"><channel><title>c</title>{item}</channel></rss>'
    before, after = _both(_fp, doc.encode())
    assert repr(after) == repr(before)


@pytest.mark.parametrize("doc", [
    '<wrap xml:lang="de"><rss><channel><title>t</title></channel></rss></wrap>',   # inherited
    '<rss><channel><title>t</title><item><title>x</title></item></channel></rss>',
    '<wrap xml:base="https://w.example/d/"><rss><channel><link>x</link></channel></rss></wrap>',
])
def test_root_elements_without_attributes_parse_the_same(doc):
    before, after = _both(_fp, doc.encode())
    assert repr(after) == repr(before)


@pytest.mark.parametrize("element", _ATOM_SWITCHING)
def test_atom_1_0_content_switching_to_xhtml_keeps_expats_pieces(element):
    doc = f'<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>i</id>{element}</entry></feed>'
    before, after = _both(_fp, doc.encode())
    assert repr(after) == repr(before)


def _calls(body: bytes, method: str) -> int:
    """How many times expat (through the SAX layer) called feedparser's `method` on `body`."""
    calls = []
    original = getattr(api.StrictFeedParser, method)

    def counting(self, *args):
        calls.append(args)
        return original(self, *args)
    setattr(api.StrictFeedParser, method, counting)
    try:
        _fp_based(body)
    finally:
        setattr(api.StrictFeedParser, method, original)
    return len(calls)


def _pieces(body: bytes) -> int:
    """How many pieces of text feedparser collected for the elements of `body`."""
    pieces = []
    original = mixin._FeedParserMixin.pop

    def counting(self, element, *args):
        if self.elementstack and self.elementstack[-1][0] == element:
            pieces.append(len(self.elementstack[-1][2]))
        return original(self, element, *args)
    mixin._FeedParserMixin.pop = counting
    try:
        _fp_based(body)
    finally:
        mixin._FeedParserMixin.pop = original
    return sum(pieces)


_DESC = "&lt;p&gt;Cuba &amp;amp; Mexico&lt;/p&gt;\n&lt;a href=&quot;/x&quot;&gt;more&lt;/a&gt;"


def test_rss_text_comes_in_one_piece_and_atom_1_0_as_expat_splits_it():
    rss = (f'<rss version="2.0"><channel><item><title>t</title><description>{_DESC}'
           "</description></item></channel></rss>").encode()
    atom = (f'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>t</title>'
            f'<summary type="html">{_DESC}</summary></entry></feed>').encode()
    feedparser_patch.remove()
    try:
        rss_before, atom_before = _pieces(rss), _pieces(atom)
    finally:
        assert feedparser_patch.apply()
    assert rss_before > 15 and _pieces(rss) == 2     # "t" and the whole description
    assert _pieces(atom) == atom_before > 15
    assert _calls(rss, "startElementNS") == 1        # only <rss version=...>: the plain ones skip
    assert _calls(rss, "characters") == 0            # expat hands text to feedparser directly
    assert _calls(atom, "startElementNS") == 4       # Atom's are namespaced


def test_the_guards_leave_feedparser_alone_when_it_is_not_the_code_they_replace(monkeypatch):
    original_pop = mixin._FeedParserMixin.pop
    feedparser_patch.remove()
    assert mixin._FeedParserMixin.pop is not original_pop     # remove() put feedparser's back
    unpatched_pop = mixin._FeedParserMixin.pop
    try:
        monkeypatch.setattr(feedparser_patch, "_POP_SOURCE", "0" * 64)   # another pop
        monkeypatch.setattr(api, "PREFERRED_XML_PARSERS", ["drv_libxml2", "other"])
        monkeypatch.setattr(datetimes, "_date_handlers", [lambda s: None, *datetimes._date_handlers])
        assert feedparser_patch.apply()                       # patches 1-4 still hold
        assert mixin._FeedParserMixin.pop is unpatched_pop
        assert api.PREFERRED_XML_PARSERS == ["drv_libxml2", "other"]
        assert _base._parse_date is datetimes._parse_date
        feedparser_patch.remove()
        monkeypatch.undo()
        monkeypatch.setattr(feedparser_patch, "_TEXT_SOURCE", "0" * 64)  # another handle_data
        assert feedparser_patch.apply()
        assert _calls(_RSS_ODD[2].join([RSS_HEAD, "</channel></rss>"]).encode(), "characters") == 3
        feedparser_patch.remove()
        monkeypatch.undo()
        monkeypatch.setattr(feedparser_patch, "_TAGS_SOURCE", "0" * 64)  # other SAX layers
        assert feedparser_patch.apply() and api.PREFERRED_XML_PARSERS == [feedparser_patch.__name__]
        rss = _RSS_ODD[2].join([RSS_HEAD, "</channel></rss>"]).encode()
        assert _calls(rss, "startElementNS") == 6                # every element the long way
        assert _pieces(rss) == 3                                 # text runs still in one piece
        feedparser_patch.remove()
        plain = _fp(rss)
        assert feedparser_patch.apply()
        assert repr(_fp(rss)) == repr(plain)
        feedparser_patch.remove()
        monkeypatch.undo()
        monkeypatch.setattr(mixin._FeedParserMixin, "looks_like_html",
                            staticmethod(lambda s: False))        # a changed helper pop relies on
        assert feedparser_patch.apply() and mixin._FeedParserMixin.pop is unpatched_pop
    finally:
        feedparser_patch.remove()
        monkeypatch.undo()
        assert feedparser_patch.apply()
    assert mixin._FeedParserMixin.pop is not unpatched_pop
    assert api.PREFERRED_XML_PARSERS == [feedparser_patch.__name__]


@pytest.mark.parametrize("text", ["plain", "caf\u00e9", "\u0085x\u009f", "Ã©t\u00e9", "日\u0080本",
                                  "\U0001f600\u0091"])
def test_pop_translates_and_repairs_as_feedparser(text):
    doc = (f'<rss version="2.0"><channel><item><title>{text}</title><description>{text}'
           f"</description></item></channel></rss>").encode()
    before, after = _both(_fp, doc)
    assert repr(after) == repr(before)


_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "mon", "Thursday", ""]
_MONTH_NAMES = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec jan Sept".split()


@settings(max_examples=2000, deadline=None)
@given(st.sampled_from(_DAYS), st.integers(0, 40), st.booleans(), st.sampled_from(_MONTH_NAMES),
       st.integers(0, 10000), st.integers(0, 30), st.integers(0, 70), st.integers(0, 70),
       st.sampled_from(["GMT", "UT", "Z", "+0900", "-0530", "+9999", "-0000", "+1460", "EST",
                        "gmt", "+09:00", "", "A"]),
       st.sampled_from(["", " ", "T", "\t", "-"]))
def test_fast_rfc822_dates_equal_feedparsers_handler_chain(day_name, day, pad, month, year, hh,
                                                           mm, ss, zone, junk):
    from feedparser import datetimes
    from feedparser.namespaces import _base
    s = (f"{day_name}, " if day_name else "") + (f"{day:02d}" if pad else str(day)) + \
        f" {month} {year:04d} {hh:02d}:{mm:02d}:{ss:02d} {zone}".rstrip() + junk
    for text in (s, s.replace(" ", "  ", 1), s.replace(",", "")):
        expected = datetimes._parse_date(text)        # the original, with every handler
        got = _base._parse_date(text)
        assert got == expected and type(got) is type(expected), text


def test_the_fast_date_steps_aside_for_a_registered_handler():
    from feedparser import datetimes
    from feedparser.namespaces import _base
    assert _base._parse_date is not datetimes._parse_date       # patched
    date = "Fri, 27 Nov 2026 10:00:00 +0900"
    assert _base._parse_date(date) == datetimes._parse_date(date)
    sentinel = (2001, 1, 1, 0, 0, 0, 0, 1, 0)
    datetimes.registerDateHandler(lambda s: sentinel)
    try:
        assert _base._parse_date(date) == sentinel == datetimes._parse_date(date)
    finally:
        datetimes._date_handlers.pop(0)
    assert _base._parse_date(date) != sentinel
