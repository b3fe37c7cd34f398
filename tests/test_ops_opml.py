"""OPML import keeps feeds.yaml comments and skips known URLs; export is valid OPML."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from bot.adapters.config import load_feeds
from bot.cli import build_parser
from bot.settings import Settings

FEEDS = """\
# sokuho feeds: keep this comment
defaults:
  interval: 5m   # default poll interval

feeds:
  # Japanese sources
  - name: NHK
    url: https://www3.nhk.or.jp/rss/news/cat0.xml
    lang: ja
"""

OPML = """\
<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My subscriptions</title></head>
  <body>
    <outline text="World">
      <outline type="rss" text="BBC &amp; World &lt;News&gt;" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml?a=1&amp;b=2" language="en-GB"/>
      <outline type="rss" text="NHK" xmlUrl="https://example.org/other-nhk.xml"/>
      <outline type="rss" text="NHK again" xmlUrl="https://www3.nhk.or.jp/rss/news/cat0.xml"/>
    </outline>
    <outline type="rss" title="El País" xmlUrl="https://feeds.elpais.com/portada" isComment="true"/>
    <outline text="just a folder"/>
  </body>
</opml>
"""


def cli(argv, capsys):
    args = build_parser().parse_args(argv)
    rc = args.func(args, Settings.from_env({}).apply_args(args))
    return rc, capsys.readouterr()


@pytest.fixture
def conf(tmp_path):
    d = tmp_path / "watchlists"
    d.mkdir()
    (d / "feeds.yaml").write_text(FEEDS, encoding="utf-8")
    (tmp_path / "subs.opml").write_text(OPML, encoding="utf-8")
    return d


def test_import_keeps_comments_and_adds_feeds(conf, capsys):
    rc, out = cli(["feeds", "--watchlists", str(conf), "import", str(conf.parent / "subs.opml")],
                  capsys)
    assert rc == 0, out.err
    assert "added 3 feed(s)" in out.out and "skipped 1" in out.out
    text = (conf / "feeds.yaml").read_text(encoding="utf-8")
    assert text.startswith(FEEDS)                         # original bytes, comments included
    feeds, problems = load_feeds(conf / "feeds.yaml")
    assert problems == []
    by_url = {f.url: f for f in feeds.feeds}
    assert len(feeds.feeds) == 4
    bbc = by_url["https://feeds.bbci.co.uk/news/world/rss.xml?a=1&b=2"]
    assert (bbc.name, bbc.lang) == ("BBC & World <News>", "en")
    assert by_url["https://example.org/other-nhk.xml"].name == "NHK (2)"   # name taken
    assert by_url["https://feeds.elpais.com/portada"].enabled is False
    assert feeds.defaults.interval == 300

    rc, out = cli(["feeds", "import", str(conf.parent / "subs.opml"), "--watchlists", str(conf)],
                  capsys)                                  # again: nothing new
    assert rc == 0 and "added 0" in out.out and "skipped 4" in out.out
    assert (conf / "feeds.yaml").read_text(encoding="utf-8") == text


def test_import_into_missing_feeds_file(tmp_path, capsys):
    (tmp_path / "subs.opml").write_text(OPML, encoding="utf-8")
    d = tmp_path / "new"
    rc, _ = cli(["feeds", "import", "--watchlists", str(d), str(tmp_path / "subs.opml")], capsys)
    assert rc == 0
    feeds, problems = load_feeds(d / "feeds.yaml")
    assert not problems and len(feeds.feeds) == 4


def test_export_is_valid_opml_with_every_feed(conf, capsys):
    cli(["feeds", "import", "--watchlists", str(conf), str(conf.parent / "subs.opml")], capsys)
    rc, out = cli(["feeds", "export", "--watchlists", str(conf)], capsys)
    assert rc == 0
    root = ET.fromstring(out.out.encode())
    assert root.tag == "opml" and root.get("version") == "2.0"
    outlines = root.findall("./body/outline")
    assert {o.get("xmlUrl") for o in outlines} == {f.url for f in load_feeds(
        conf / "feeds.yaml")[0].feeds}
    assert "BBC & World <News>" in {o.get("text") for o in outlines}
    assert any(o.get("isComment") == "true" for o in outlines)


def test_export_import_round_trip(conf, tmp_path, capsys):
    cli(["feeds", "import", "--watchlists", str(conf), str(conf.parent / "subs.opml")], capsys)
    _, out = cli(["feeds", "export", "--watchlists", str(conf)], capsys)
    (tmp_path / "out.opml").write_text(out.out, encoding="utf-8")
    other = tmp_path / "other"
    rc, _ = cli(["feeds", "import", "--watchlists", str(other), str(tmp_path / "out.opml")], capsys)
    assert rc == 0
    a = load_feeds(conf / "feeds.yaml")[0].feeds
    b = load_feeds(other / "feeds.yaml")[0].feeds
    key = lambda f: (f.name, f.url, f.lang, f.enabled)   # noqa: E731
    assert sorted(map(key, a)) == sorted(map(key, b))


@pytest.mark.parametrize("content,needle", [
    ("<opml><body><outline text='x' xmlUrl='u'></body>", "bad.opml:1:"),   # broken XML
    ("<rss><channel/></rss>", "not an OPML document"),
    ("<opml version='2.0'><body><outline text='folder'/></body></opml>", "no feeds found"),
])
def test_malformed_opml_is_a_clear_error_and_changes_nothing(conf, capsys, content, needle):
    bad = conf.parent / "bad.opml"
    bad.write_text(content, encoding="utf-8")
    before = (conf / "feeds.yaml").read_bytes()
    rc, out = cli(["feeds", "import", "--watchlists", str(conf), str(bad)], capsys)
    assert rc != 0
    assert str(bad) in out.err and needle in out.err
    assert (conf / "feeds.yaml").read_bytes() == before
    assert sorted(p.name for p in conf.iterdir()) == ["feeds.yaml"]        # no temp files left


def test_import_refuses_to_produce_an_invalid_feeds_file(conf, capsys):
    # an OPML language that passes the OPML reader but an interval the existing file breaks
    (conf / "feeds.yaml").write_text(FEEDS.replace("5m", "5 parsecs"), encoding="utf-8")
    before = (conf / "feeds.yaml").read_bytes()
    rc, out = cli(["feeds", "import", "--watchlists", str(conf), str(conf.parent / "subs.opml")],
                  capsys)
    assert rc == 1 and "feeds.yaml:3" in out.err
    assert (conf / "feeds.yaml").read_bytes() == before


def test_list(conf, capsys):
    rc, out = cli(["feeds", "list", "--watchlists", str(conf)], capsys)
    assert rc == 0 and "NHK" in out.out and "every 300s" in out.out
