"""A feed must not make sokuho connect to loopback, private, link-local or reserved addresses.

The refusal happens in the connector's socket factory, before a socket exists: the targets below
(192.0.2.1, 169.254.169.254, 10.0.0.1) are never sent a packet. Only 127.0.0.1 is ever contacted.
"""
from __future__ import annotations

import logging

import pytest

from bot.adapters.fetch import Fetcher, blocked_reason
from bot.app import App
from bot.settings import Settings

try:
    from tests.feedserver import make_rss
except ImportError:  # pragma: no cover
    from feedserver import make_rss

UA = "sokuho-test/0.1 (+https://example.org/sokuho)"
FEED = make_rss([{"title": "Cuba news", "guid": "1", "link": "https://example.org/1"}])


@pytest.mark.parametrize("addr", [
    "127.0.0.1", "127.9.9.9", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1",
    "169.254.169.254", "fe80::1", "fe80::1%2", "fc00::1", "fd12::1", "0.0.0.0", "::",
    "224.0.0.1", "ff02::1", "192.0.2.1", "198.51.100.7", "203.0.113.9", "240.0.0.1",
    "255.255.255.255", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a00:1",
    "198.18.0.1"])
def test_non_public_addresses_are_refused(addr):
    assert blocked_reason(addr) is not None


@pytest.mark.parametrize("addr", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111",
                                  "64:ff9b::808:808"])
def test_public_addresses_pass(addr):
    assert blocked_reason(addr) is None


@pytest.mark.parametrize("target", ["http://192.0.2.1/feed.xml",
                                    "http://169.254.169.254/latest/meta-data/",
                                    "http://[fe80::1]/x", "http://10.0.0.1:8080/feed"])
async def test_redirect_from_an_allowed_server_to_a_private_address_is_refused_and_logged(
        feed_server, caplog, target):
    # the loopback test server is let through by name (allow_networks), nothing else is
    start = feed_server.route("/start.xml", redirect=target)
    async with Fetcher(user_agent=UA, allow_networks=("127.0.0.1/32",)) as f:
        with caplog.at_level(logging.WARNING, logger="sokuho.fetch"):
            r = await f.fetch(start)
    assert r.error_kind == "blocked" and r.body is None
    host = target.split("/")[2].rsplit(":", 1)[0].strip("[]") if "[" not in target else "fe80::1"
    assert host in r.error and start in r.error
    assert any("refused a connection" in m and host in m for m in caplog.messages)
    assert len(feed_server.requests_for("/start.xml")) == 1


async def test_loopback_feed_is_refused_by_default_by_name_and_by_literal(feed_server):
    url = feed_server.route("/feed.xml", body=FEED)
    by_name = url.replace("127.0.0.1", "localhost")
    async with Fetcher(user_agent=UA) as f:
        for u in (url, by_name):
            r = await f.fetch(u)
            assert r.error_kind == "blocked", (u, r.error)
            assert "loopback" in r.error
    assert feed_server.requests_for("/feed.xml") == []     # nothing reached the server


async def test_allow_private_per_fetch_and_global(feed_server):
    url = feed_server.route("/feed.xml", body=FEED)
    async with Fetcher(user_agent=UA) as f:
        assert (await f.fetch(url, allow_private=True)).body == FEED
        assert (await f.fetch(url)).error_kind == "blocked"   # the allowed session is not reused
    async with Fetcher(user_agent=UA, allow_private=True) as f:
        assert (await f.fetch(url)).body == FEED


WATCH = "name: cuba\naliases:\n  en: [Cuba]\n"


async def _app(tmp_path, url: str, *, setting: bool, per_feed: bool) -> App:
    wl = tmp_path / "wl"
    wl.mkdir()
    (wl / "cuba.yaml").write_text(WATCH, encoding="utf-8")
    extra = ", allow_private: true" if per_feed else ""
    (wl / "feeds.yaml").write_text(f"feeds:\n  - {{name: local, url: '{url}'{extra}}}\n",
                                   encoding="utf-8")
    s = Settings(watchlists=wl, state=tmp_path / "st", allow_private_networks=setting, max_age=0)
    return await App.open(s, parser_kind="inline")


async def test_feeds_yaml_allow_private_follows_a_reload(tmp_path, feed_server):
    """The per-feed permission is the current feeds.yaml's: granted, then withdrawn by reloads,
    and only for the URL it is written on."""
    url = feed_server.route("/feed.xml", body=FEED)
    app = await _app(tmp_path, url, setting=False, per_feed=False)
    feeds = tmp_path / "wl" / "feeds.yaml"
    other = feed_server.url("/other.xml")
    try:
        assert not app.allows_private(url)
        feeds.write_text(f"feeds:\n  - {{name: local, url: '{url}', allow_private: true}}\n"
                         f"  - {{name: other, url: '{other}'}}\n", encoding="utf-8")
        app.reload()
        assert app.allows_private(url) and not app.allows_private(other)
        report = await app.pipeline.poll_many([f for f in app.store.feeds() if f.url == url])
        assert [(o.status, o.entries) for o in report.outcomes] == [("ok", 1)]
        feeds.write_text(f"feeds:\n  - {{name: local, url: '{url}'}}\n", encoding="utf-8")
        app.reload()
        assert not app.allows_private(url)
    finally:
        await app.close()


@pytest.mark.parametrize("setting,per_feed,ok", [(False, False, False), (True, False, True),
                                                 (False, True, True)])
async def test_setting_and_feeds_yaml_allow_private(tmp_path, feed_server, setting, per_feed, ok):
    url = feed_server.route("/feed.xml", body=FEED)
    app = await _app(tmp_path, url, setting=setting, per_feed=per_feed)
    try:
        report = await app.pipeline.poll_many(app.store.feeds())
    finally:
        await app.close()
    [o] = report.outcomes
    if ok:
        assert (o.status, o.entries) == ("ok", 1)
    else:
        assert (o.status, o.error_kind) == ("failed", "blocked")
        assert url in o.error and "SOKUHO_ALLOW_PRIVATE_NETWORKS" in o.error


def test_settings_flag_and_env():
    from bot.cli import build_parser
    assert Settings.from_env({}).allow_private_networks is False
    assert Settings.from_env({"SOKUHO_ALLOW_PRIVATE_NETWORKS": "1"}).allow_private_networks
    args = build_parser().parse_args(["check", "--allow-private-networks"])
    assert Settings.from_env({}).apply_args(args).allow_private_networks is True
