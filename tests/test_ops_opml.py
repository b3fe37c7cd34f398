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


HOSTILE = [
    "/etc/passwd", "file:///etc/passwd", "FILE:///etc/hostname", "../../etc/passwd",
    "~/.ssh/id_rsa", "~root/.bashrc", "/proc/self/environ", "/dev/zero", "./feeds.yaml",
    "C:\\Windows\\win.ini", "javascript:alert(1)", "gopher://127.0.0.1:25/xHELO",
    "ftp://example.org/feed.xml", "data:text/xml,<rss/>", "http://127.0.0.1/feed.xml",
    "http://localhost:8080/feed", "http://foo.localhost/x", "http://[::1]/feed",
    "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/rss", "http://192.168.1.1/",
    "http://100.64.1.1/", "http://[fe80::1]/", "http://0.0.0.0/", "HTTP://172.16.0.1/rss",
    "http://192.0.2.1/feed", "http:///nohost", "https://exa mple.org/x",
]


def test_import_refuses_local_paths_and_private_hosts_and_lists_each(conf, capsys):
    outlines = "\n".join(
        f'<outline type="rss" text="evil {i}" xmlUrl="{u.replace("&", "&amp;").replace("<", "&lt;")}"/>'
        for i, u in enumerate(HOSTILE))
    opml = conf.parent / "evil.opml"
    opml.write_text(f'<opml version="2.0"><head/><body>{outlines}</body></opml>', encoding="utf-8")
    before = (conf / "feeds.yaml").read_bytes()
    rc, out = cli(["feeds", "--watchlists", str(conf), "import", str(opml)], capsys)
    assert rc == 1 and "added 0 feed(s)" in out.out
    assert (conf / "feeds.yaml").read_bytes() == before           # nothing added
    refused = [line for line in out.out.splitlines() if line.startswith("  ! ")]
    assert len(refused) == len(HOSTILE)
    for i, line in enumerate(refused):
        assert f"evil {i}" in line and line.rsplit(": ", 1)[1]       # each one, with its reason
    assert "local path" in refused[0] and "file:" in refused[1] and "loopback" in refused[14]
    assert "link-local" in refused[18] and "javascript: is not" in refused[10]
    assert "passwd" not in out.err                                # no file was opened


def test_import_keeps_the_good_outlines_next_to_refused_ones(conf, capsys):
    opml = conf.parent / "mixed.opml"
    opml.write_text('<opml version="2.0"><body>'
                    '<outline text="ok" xmlUrl="https://example.org/ok.xml"/>'
                    '<outline text="bad&#x9b;31m" xmlUrl="file:///etc/passwd"/>'
                    '</body></opml>', encoding="utf-8")
    rc, out = cli(["feeds", "--watchlists", str(conf), "import", str(opml)], capsys)
    assert rc == 0 and "added 1 feed(s)" in out.out and "refused 1 outline(s)" in out.out
    assert "\x9b" not in out.out and "bad31m" in out.out       # a C1 CSI stripped from the name
    urls = [f.url for f in load_feeds(conf / "feeds.yaml")[0].feeds]
    assert "https://example.org/ok.xml" in urls and "file:///etc/passwd" not in urls


def test_operator_feeds_yaml_may_still_name_local_paths(tmp_path):
    (tmp_path / "local.xml").write_text("<rss/>")
    (tmp_path / "feeds.yaml").write_text("feeds:\n  - {name: mine, url: local.xml}\n"
                                         "  - {name: lan, url: 'http://10.0.0.5/rss', "
                                         "allow_private: true}\n")
    feeds, problems = load_feeds(tmp_path / "feeds.yaml")
    assert problems == [] and feeds.feeds[0].url == str(tmp_path / "local.xml")
    assert feeds.feeds[1].allow_private is True
