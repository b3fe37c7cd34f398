"""bot.core.render: escaping, links, grouping/order, time zone, splitting under 4096 visible."""
from __future__ import annotations

import html
import re
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from fakebotapi import telegram_text_error, visible_units

from bot.core.model import Entry, Hit, StoredItem
from bot.core.render import (DigestEntry, render_alert_html, render_alert_plain,
                             render_digest_parts, render_digest_plain,
                             render_plain_digest)

T0 = datetime(2026, 11, 20, 23, 30, tzinfo=timezone.utc)   # 08:30 next day in Tokyo


def item(title, wl="venezuela", feed="Reuters", minutes=0, link="https://ex.com/a?x=1&y=2",
         also=(), summary=""):
    e = Entry(id=f"id-{title}-{minutes}", feed=feed, title=title, link=link, summary=summary,
              published=T0 - timedelta(minutes=minutes))
    return StoredItem(e, [Hit(wl, "Maduro", "title", "maduro", "exact")], also_in=list(also))


def test_alert_escapes_every_feed_text_and_links_title():
    it = item('<script>alert("x")</script> & <b>bold</b>', feed="A&B <News>",
              summary="1 < 2 && 3 > 2", also=["El <País>"])
    out = render_alert_html(it, watchlist="venezuela", tz="Asia/Tokyo", lang="en", no=5,
                            names={"venezuela": "Vene<zuela>"})
    assert "<script>" not in out and "<b>bold</b>" not in out
    assert "&lt;script&gt;" in out and "&amp; &lt;b&gt;bold&lt;/b&gt;" in out
    assert "A&amp;B &lt;News&gt;" in out and "1 &lt; 2 &amp;&amp; 3 &gt; 2" in out
    assert "also in: El &lt;País&gt;" in out
    assert '<a href="https://ex.com/a?x=1&amp;y=2">' in out
    assert "Vene&lt;zuela&gt;" in out and "#5" in out
    # the only tags are ours
    assert set(re.findall(r"</?([a-z]+)", out)) <= {"a", "b"}


def test_time_in_chat_timezone():
    it = item("t")
    assert "11/21 08:30 JST" in render_alert_html(it, watchlist="venezuela", tz="Asia/Tokyo",
                                                  lang="en")
    out = render_alert_html(it, watchlist="venezuela", tz="America/Caracas", lang="en")
    assert "11/20 19:30" in out


def test_unsafe_link_is_not_linked():
    it = item("t", link="javascript:alert(1)")
    out = render_alert_html(it, watchlist="venezuela", tz="UTC", lang="en")
    assert "<a " not in out and "javascript" not in out


def test_digest_grouped_by_watchlist_newest_first():
    items = [item("old vz", minutes=50), item("cuba 1", wl="cuba", minutes=30),
             item("new vz", minutes=5), item("cuba 2", wl="cuba", minutes=40)]
    entries = [DigestEntry(it, it.watchlists[0], i) for i, it in enumerate(items, 1)]
    ((msg, _),) = render_digest_parts(entries, tz="Asia/Tokyo", lang="en")
    text = html.unescape(re.sub(r"<[^>]+>", "", msg))
    order = [text.index(s) for s in ("■ venezuela", "new vz", "old vz", "■ cuba", "cuba 1",
                                     "cuba 2")]
    assert order == sorted(order)
    assert "4 items" in text


def test_digest_japanese_labels():
    it = item("t", also=["NHK"])
    ((msg, _),) = render_digest_parts([DigestEntry(it, "venezuela", 1)], tz="Asia/Tokyo", lang="ja",
                                names={"venezuela": "ベネズエラ"})
    assert "ダイジェスト" in msg and "ベネズエラ" in msg and "他の掲載: NHK" in msg


def test_long_digest_split_on_item_boundaries_under_limit():
    items = [item(f"headline {i} " + "x" * 250 + " & <tag>", wl=("a" if i % 2 else "b"),
                  minutes=i) for i in range(60)]
    entries = [DigestEntry(it, it.watchlists[0], i) for i, it in enumerate(items, 1)]
    parts = render_digest_parts(entries, tz="UTC", lang="en")
    assert len(parts) > 3
    seen, raw_over = [], False
    for text, ents in parts:
        # Telegram's rules, counted by the fake Bot API's own parser (not the renderer's):
        assert telegram_text_error(text, "HTML") is None, telegram_text_error(text, "HTML")
        assert visible_units(text, "HTML") <= 4096
        raw_over = raw_over or len(text) > 4096    # markup does not count against the limit
        for e in ents:      # each item is whole inside its message
            assert html.escape(e.item.entry.title, quote=False) in text
        seen += [e.no for e in ents]
    assert sorted(seen) == list(range(1, 61))            # every item exactly once
    assert raw_over          # parts are filled by visible length, not cut at 4096 raw characters
    assert "(1/" in parts[0][0] and f"({len(parts)}/{len(parts)})" in parts[-1][0]


def test_plain_digest_split_and_unescaped():
    items = [item(f"T{i} <b>&" + "y" * 280, minutes=i) for i in range(40)]
    entries = [DigestEntry(it, "venezuela", i) for i, it in enumerate(items, 1)]
    msgs = render_digest_plain(entries, tz="UTC", lang="en")
    assert len(msgs) > 1
    assert all(len(m.encode("utf-16-le")) // 2 <= 4096 for m in msgs)
    assert "<b>&" in msgs[0] and "&amp;" not in msgs[0]


def test_alert_plain_and_console_digest():
    it = item("Maduro <speaks>", summary="s & s")
    p = render_alert_plain(it, watchlist="venezuela", tz="UTC", lang="en", no=3)
    assert "Maduro <speaks>" in p and "#3" in p and "https://ex.com/a?x=1&y=2" in p
    out = render_plain_digest([it, item("Havana", wl="cuba")], "UTC", "en")
    assert "■ venezuela" in out and "■ cuba" in out and "Maduro <speaks>" in out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=400), min_size=1, max_size=30))
def test_visible_text_roundtrips_and_fits(titles):
    items = [item(t or "x", minutes=i) for i, t in enumerate(titles)]
    entries = [DigestEntry(it, "venezuela", i) for i, it in enumerate(items, 1)]
    parts = render_digest_parts(entries, tz="UTC", lang="en", limit=1500)
    assert sum(len(e) for _, e in parts) == len(items)
    for text, _ in parts:
        assert telegram_text_error(text, "HTML") is None
        assert visible_units(text, "HTML") <= 1500
        # well-formed: stripping our tags and unescaping never leaves a raw '<' from our markup
        assert re.fullmatch(r"(?s)([^<]|<(/?)(a|b)( href=\"[^\"]*\")?>)*", text)


def test_also_in_line_names_only_other_outlets():
    """A later report from the story's own feed (a syndicated copy under another URL) names no
    other outlet: the console prints no "also in" line for it, and a line for real others."""
    import asyncio
    import io

    from bot.adapters.console import ConsoleSink
    from bot.core.render import render_also_in_plain

    same = item("Cuba blackout", feed="Atlantic Wire", also=["Atlantic Wire"])
    other = item("Cuba blackout", feed="Atlantic Wire", also=["Atlantic Wire", "Harbor Times"])
    assert render_also_in_plain(same) == ""
    assert render_also_in_plain(other).endswith("also in: Harbor Times")
    out = io.StringIO()
    sink = ConsoleSink(stream=out)
    asyncio.run(sink.also_in([(same, same)]))
    assert out.getvalue() == ""
    asyncio.run(sink.also_in([(other, other)]))
    assert "also in: Harbor Times" in out.getvalue()


def _clip_whole(s: str, n: int) -> str:
    """clip as it was: the whole text collapsed, then cut."""
    s = " ".join((s or "").split())
    return s if len(s) <= n else s[: n - 1].rstrip() + "…"


@given(st.text(alphabet=st.sampled_from("ab キ\t\n\u3000\u00a0\u2028 \r\x1c"), max_size=300),
       st.integers(min_value=1, max_value=60))
def test_clip_collapses_only_a_prefix_with_the_same_result(text, n):
    from bot.core.render import clip
    assert clip(text, n) == _clip_whole(text, n)
    assert clip(text * 40, n) == _clip_whole(text * 40, n)
    assert clip(" " * 500 + text, n) == _clip_whole(" " * 500 + text, n)


@pytest.mark.parametrize("text,n", [("abcde" + " " * 30, 5), ("abcd " + " " * 30 + "e", 5),
                                    ("a" * 5 + "\n" * 40 + "b", 6), ("x y " * 50, 7)])
def test_clip_at_the_edges_of_the_collapsed_prefix(text, n):
    from bot.core.render import clip
    assert clip(text, n) == _clip_whole(text, n)
