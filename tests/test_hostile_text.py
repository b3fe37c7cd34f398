"""Hostile feed text: every text operation is linear in its input and the output is bounded."""
from __future__ import annotations

import pytest

from bot.adapters.parse import MAX_SUMMARY, MAX_TITLE, parse_feed
from bot.core.normalize import strip_html

try:
    from tests.feedserver import make_rss
except ImportError:  # pragma: no cover
    from feedserver import make_rss


@pytest.mark.timeout(30)
def test_ten_megabytes_of_script_openings_in_a_title_is_linear_and_bounded():
    # the reported attack: ~560,000 escaped `<script` openings and no closing tag
    n = 10 * 2**20 // len("&lt;script")
    title = "Maduro " + "&lt;script" * n
    body = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item>'
            b"<title>" + title.encode() + b"</title><guid>x-1</guid></item>"
            b"<item><title>second</title><guid>x-2</guid></item></channel></rss>")
    r = parse_feed(body, feed_name="bomb")
    assert not r.failed
    first, second = r.entries
    assert first.title.startswith("Maduro")
    assert len(first.title) <= MAX_TITLE + 1 and second.title == "second"


@pytest.mark.timeout(30)
@pytest.mark.parametrize("unit", ["<script", "<style>", "<noscript x", "<b", "<!--", "<",
                                  "<script></scr", "<a href='", "&lt;script&gt;"])
def test_strip_html_on_repeated_openings_is_bounded(unit):
    s = unit * 200_000
    out = strip_html(s, limit=MAX_SUMMARY)
    assert len(out) <= MAX_SUMMARY * 10   # input cut to a bounded multiple of the limit


def test_strip_html_keeps_the_usual_behaviour():
    assert strip_html("Big <b>news</b> &amp; more") == "Big news & more"
    assert strip_html("a<script>var x = '<b>';</script>b") == "a b"
    assert strip_html("x<STYLE type=t>p{}</style >y") == "x y"
    assert strip_html("&lt;p&gt;escaped &amp;amp; twice&lt;/p&gt;") == "escaped & twice"
    assert strip_html("1 < 2 and 3 > 2") == "1 < 2 and 3 > 2"
    assert strip_html("a<!-- c -->b") == "a b"
    assert strip_html("  many\n\t spaces ") == "many spaces"
    assert strip_html(None) == "" and strip_html("") == ""


def test_strip_html_cuts_before_stripping():
    text = "word " * 100_000
    out = strip_html("<p>" + text + "</p>", limit=1000)
    assert 900 <= len(out) <= 10_000


def test_nul_and_control_characters_are_stripped_at_parse():
    body = (b'<rss version="2.0"><channel><title>Feed\x07</title><item>'
            b"<title>Cuba\x00 news\x1b[31m red\xc2\x85 &#x9b;x\ttab</title>"
            b"<description>sum\x00mary\x7f</description>"
            b"<link>https://example.org/a\x00b</link><guid>g\x01</guid></item></channel></rss>")
    r = parse_feed(body, feed_name="ctl")
    [e] = r.entries
    for text in (e.title, e.summary, e.id, e.link, r.title):
        assert not any(ord(c) < 32 or 0x7f <= ord(c) <= 0x9f for c in text), repr(text)
    assert e.title.startswith("Cuba news[31m red") and e.title.endswith(" ›x tab")
    assert e.summary == "summary"
    assert e.id == "g" and e.link == "https://example.org/ab"
