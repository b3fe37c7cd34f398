"""Admin commands: /alias and /exclude edit the YAML (comments kept), /status, /channel."""
from __future__ import annotations

from datetime import datetime, timezone

from fakebotapi import tg  # noqa: F401 (fixture; admins=(777,))
from ruamel.yaml import YAML

from bot.core.watchlist import Feed

VZ = """\
# Venezuela: edited from chat — this comment must survive
name: venezuela
aliases:
  en:
    - Venezuela   # country
  es:
    - Venezuela
"""


def write_vz(tg):
    d = tg.settings.watchlists
    d.mkdir(parents=True, exist_ok=True)
    (d / "venezuela.yaml").write_text(VZ, encoding="utf-8")
    return d / "venezuela.yaml"


async def test_alias_add_from_chat_rewrites_yaml_keeping_comments(tg):
    path = write_vz(tg)
    r = await tg.api.reply_to(777, '/alias add venezuela es "Padrino López"')
    assert "Padrino López" in r.text and "venezuela.yaml" in r.text
    text = path.read_text(encoding="utf-8")
    assert "# Venezuela: edited from chat — this comment must survive" in text
    assert "# country" in text
    data = YAML(typ="safe").load(text)
    assert data["aliases"]["es"] == ["Venezuela", "Padrino López"]
    r = await tg.api.reply_to(777, '/exclude add venezuela "Venezuela Avenue"')
    assert "Venezuela Avenue" in r.text
    assert YAML(typ="safe").load(path.read_text())["excludes"] == ["Venezuela Avenue"]


async def test_invalid_alias_edit_rejected_file_unchanged(tg):
    path = write_vz(tg)
    before = path.read_bytes()
    r = await tg.api.reply_to(777, '/alias add venezuela "Venezuela"')
    assert r.text.startswith("Not changed") and "already" in r.text
    r = await tg.api.reply_to(777, '/alias add venezuela EN "Caracas"')
    assert r.text.startswith("Not changed")
    r = await tg.api.reply_to(777, '/alias remove nosuchlist "x"')
    assert r.text.startswith("Not changed") and "no watchlist" in r.text
    assert path.read_bytes() == before


async def test_admin_commands_refused_for_others(tg):
    path = write_vz(tg)
    before = path.read_bytes()
    r = await tg.api.reply_to(42, '/alias add venezuela "Padrino"')
    assert r.text == "This command is for admins."
    assert "admins" in (await tg.api.reply_to(42, "/status")).text
    assert path.read_bytes() == before


async def test_status_shows_feeds_and_backlog(tg):
    now = datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc)
    tg.store.sync_feeds([Feed(name="Good", url="https://good/rss"),
                         Feed(name="Bad", url="https://bad/rss")], 300, now)
    tg.store.record_fetch("https://bad/rss", status="failed", error="https://bad/rss: timeout",
                          error_kind="timeout", next_poll_at=now, now=now)
    await tg.subscribe(777, "cuba")
    await tg.sink.publish(tg.items(("Cuba", "cuba")))
    r = await tg.api.reply_to(777, "/status")
    assert "1 ok, 1 failing" in r.text and "Bad" in r.text and "timeout" in r.text
    assert "waiting 1" in r.text
    assert "feedback: offtopic 0, mute 0, filters 0, muted_stories 0, held 0" in r.text


async def test_channel_registered_and_managed_from_admin_chat(tg):
    tg.api.chat(-1009999, "channel", title="News <Ch>", username="sokuho_news")
    r = await tg.api.reply_to(777, "/channel add @sokuho_news")
    assert "registered" in r.text and "News &lt;Ch&gt;" in r.text
    r = await tg.api.reply_to(777, "/subscribe cuba @sokuho_news")
    assert "Subscribed to <b>Cuba</b>" in r.text
    assert [s.watchlist for s in tg.sink.outbox.subscriptions(-1009999)] == ["cuba"]
    assert tg.sink.outbox.subscriptions(777) == []
    await tg.sink.publish(tg.items(("Cuba channel", "cuba")))
    tg.api.message(777, "/digest @sokuho_news")
    await tg.api.wait_for(lambda: tg.api.sent(-1009999))
    assert "Cuba channel" in tg.api.sent(-1009999)[0].text
    # non-admins cannot act on the channel
    r = await tg.api.reply_to(42, "/subscribe venezuela @sokuho_news")
    assert r.text == "This command is for admins."
    r = await tg.api.reply_to(777, "/channel add @nosuch")
    assert "chat not found" in r.text.lower()
