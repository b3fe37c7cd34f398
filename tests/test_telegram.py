"""Telegram sink flows against the fake Bot API with a real Store (tmp_path) and injected clock."""
from __future__ import annotations

import html
import re
from datetime import timedelta

from fakebotapi import BOT_USERNAME, fake_api, started_harness, tg  # noqa: F401 (fixtures)


def visible(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def links(text: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r'<a href="([^"]+)"', text)]


async def test_start_keyboard_and_button_subscribe(tg):
    start = await tg.api.reply_to(42, "/start")
    kb = start.params["reply_markup"]["inline_keyboard"]
    assert [row[0]["callback_data"] for row in kb] == ["sub:cuba", "sub:greenland",
                                                        "sub:venezuela"]
    assert all(row[0]["text"].startswith("➕") for row in kb)
    tg.api.callback(42, "sub:cuba", message_id=start.params.get("message_id", 1))
    await tg.api.wait_for(lambda: tg.api.calls_of("editMessageReplyMarkup"))
    edit = tg.api.calls_of("editMessageReplyMarkup")[-1]
    marks = {r[0]["callback_data"]: r[0]["text"][0] for r in
             edit.params["reply_markup"]["inline_keyboard"]}
    assert marks == {"sub:cuba": "✅", "sub:greenland": "➕", "sub:venezuela": "➕"}
    answer = tg.api.calls_of("answerCallbackQuery")[-1]
    assert "Subscribed to Cuba" in answer.params["text"]
    assert [s.watchlist for s in tg.sink.outbox.subscriptions(42)] == ["cuba"]
    # a second tap unsubscribes
    tg.api.callback(42, "sub:cuba")
    await tg.api.wait_for(lambda: len(tg.api.calls_of("answerCallbackQuery")) == 2)
    assert tg.sink.outbox.subscriptions(42) == []


async def test_scheduled_digest_exact_items_grouped_escaped_linked(tg):
    assert "Subscribed to <b>Cuba</b>" in (await tg.subscribe(42, "cuba")).text
    await tg.subscribe(42, "venezuela")
    before = len(tg.api.sent(42))
    items = tg.items(("Havana <b>blackout</b> & protests", "cuba", "EFE", 10),
                     ("Maduro speaks", "venezuela", "Reuters", 5),
                     ("Caracas <script>x</script>", "venezuela", "AP", 1),
                     ("Greenland ice", "greenland"))        # not subscribed
    await tg.sink.publish(items)
    await tg.sink.tick(tg.now)                               # 12:00 JST: no digest due
    await tg.drain()
    assert len(tg.api.sent(42)) == before
    tg.now += timedelta(hours=8)                             # 20:00 JST
    await tg.sink.tick(tg.now)
    await tg.api.wait_for(lambda: len(tg.api.sent(42)) == before + 1)
    await tg.drain()
    (msg,) = tg.api.sent(42)[before:]
    text, vis = msg.text, visible(msg.text)
    assert msg.params["parse_mode"] == "HTML"
    assert msg.params["link_preview_options"]["is_disabled"] is True
    assert "Greenland" not in vis and "3 items" in vis
    assert "Havana &lt;b&gt;blackout&lt;/b&gt; &amp; protests" in text
    assert "<script>" not in text and "Caracas <script>x</script>" in vis
    assert links(text) == [it.entry.link for it in (items[2], items[1], items[0])]
    # grouped by watchlist (newest item's group first), newest first inside
    order = [vis.index(s) for s in ("■ Venezuela", "Caracas", "Maduro", "■ Cuba", "Havana")]
    assert order == sorted(order)
    assert "EFE" in vis and "11/20 11:50 JST" in vis
    # nothing is sent twice: /digest now has nothing new
    reply = await tg.api.reply_to(42, "/digest")
    assert reply.text == "Nothing new since your last digest."
    await tg.sink.tick(tg.now + timedelta(hours=12))
    await tg.drain()
    assert len(tg.api.sent(42)) == before + 2


async def test_digest_command_and_backfill(tg):
    old = tg.items(("Cuba old news", "cuba"), fetched_at=tg.now - timedelta(hours=30))
    recent = tg.items(("Cuba recent news", "cuba"), fetched_at=tg.now - timedelta(hours=2))
    sub = await tg.subscribe(42, "cuba")
    assert "1 recent item" in sub.text
    n = len(tg.api.sent(42))
    tg.api.message(42, "/digest")
    await tg.api.wait_for(lambda: len(tg.api.sent(42)) == n + 1)
    vis = visible(tg.api.sent(42)[-1].text)
    assert "Cuba recent news" in vis and "Cuba old news" not in vis
    assert old and recent
    assert await tg.settled(42) == ["sent"]        # the digest's row is marked before /digest
    assert (await tg.api.reply_to(42, "/digest")).text.startswith("Nothing new")


async def test_instant_one_message_per_item_with_preview(tg):
    sub = await tg.subscribe(42, "greenland")                 # urgent: instant by default
    assert "instant" in sub.text
    n = len(tg.api.sent(42))
    items = tg.items(("Greenland vote", "greenland"), ("Greenland & Denmark", "greenland"))
    await tg.sink.publish(items)
    await tg.api.wait_for(lambda: len(tg.api.sent(42)) == n + 2)
    await tg.drain()
    msgs = tg.api.sent(42)[n:]
    assert len(msgs) == 2
    for m, it in zip(msgs, items):
        assert m.params["link_preview_options"]["is_disabled"] is False
        assert links(m.text) == [it.entry.link]
        row = m.params["reply_markup"]["inline_keyboard"][0]
        assert [b["callback_data"].split(":")[0] for b in row] == ["off", "mute", "why"]
        assert [b["text"] for b in row] == ["👎 Off-topic", "🔇 Mute story", "❓ Why"]
    assert "Greenland &amp; Denmark" in msgs[1].text
    # published again (e.g. a retry upstream): the unique key keeps it from being resent
    await tg.sink.publish(items)
    await tg.drain()
    assert len(tg.api.sent(42)) == n + 2


async def test_mode_switch_and_quiet_hours_hold_for_next_digest(tg):
    await tg.subscribe(42, "cuba")
    assert "instant" in (await tg.api.reply_to(42, "/mode cuba instant")).text
    assert "23:00-07:00" in (await tg.api.reply_to(42, "/quiet 23:00-07:00")).text
    tg.now = tg.now.replace(hour=16)                          # 01:00 JST: quiet
    await tg.sink.tick(tg.now)                  # the 20:00 digest (nothing pending) has passed
    await tg.drain()
    n = len(tg.api.sent(42))
    await tg.sink.publish(tg.items(("Cuba at night", "cuba")))
    await tg.sink.tick(tg.now)
    await tg.drain()
    assert len(tg.api.sent(42)) == n
    tg.now = tg.now.replace(hour=23)                          # 08:00 JST next day: digest
    await tg.sink.tick(tg.now)
    await tg.api.wait_for(lambda: len(tg.api.sent(42)) == n + 1)
    msg = tg.api.sent(42)[-1]
    assert "Digest" in msg.text and "Cuba at night" in msg.text
    assert msg.params["link_preview_options"]["is_disabled"] is True


async def test_mute_holds_and_unmute(tg):
    await tg.subscribe(42, "greenland")
    assert "Muted until" in (await tg.api.reply_to(42, "/mute 2h")).text
    n = len(tg.api.sent(42))
    await tg.sink.publish(tg.items(("Greenland muted", "greenland")))
    await tg.drain()
    assert len(tg.api.sent(42)) == n
    assert (await tg.api.reply_to(42, "/mute off")).text == "Mute off."
    await tg.sink.publish(tg.items(("Greenland live", "greenland")))
    await tg.api.wait_for(lambda: len(tg.api.sent(42)) == n + 2)   # reply + alert
    assert "Greenland live" in tg.api.sent(42)[-1].text
    tg.api.message(42, "/digest")
    await tg.api.wait_for(lambda: "Greenland muted" in tg.api.sent(42)[-1].text)


async def test_why_command_and_button(tg):
    await tg.subscribe(42, "greenland")
    n = len(tg.api.sent(42))
    await tg.sink.publish(tg.items(("Greenland <news>", "greenland")))
    await tg.api.wait_for(lambda: len(tg.api.sent(42)) == n + 1)
    alert = tg.api.sent(42)[-1]
    no = int(re.search(r"#(\d+)", alert.text).group(1))
    why = await tg.api.reply_to(42, f"/why {no}")
    assert "alias “Greenland” in the title" in why.text and "Greenland &lt;news&gt;" in why.text
    assert "No item #99" in (await tg.api.reply_to(42, "/why 99")).text
    data = alert.params["reply_markup"]["inline_keyboard"][0][2]["callback_data"]
    assert data == f"why:{no}"
    k = len(tg.api.sent(42))
    tg.api.callback(42, data)
    await tg.api.wait_for(lambda: len(tg.api.sent(42)) == k + 1)
    assert "alias “Greenland”" in tg.api.sent(42)[-1].text


async def test_why_shows_the_evidence_for_and_against_in_the_items_own_words(tg):
    await tg.subscribe(42, "cuba")
    await tg.api.reply_to(42, "/mode cuba instant")
    n = len(tg.api.sent(42))
    # the stored hit's text is the folded form; /why shows what the item says, the evidence for
    # each hit, and what did not count
    await tg.sink.publish(tg.items(("Blackout in Havana as tycoon Mark Cuba speaks tonight", "cuba")))
    await tg.api.wait_for(lambda: len(tg.api.sent(42)) == n + 1)
    no = int(re.search(r"#(\d+)", tg.api.sent(42)[-1].text).group(1))
    why = (await tg.api.reply_to(42, f"/why {no}")).text
    assert "alias “Havana” in the title (“Havana”, exact)" in why
    assert "    + alias found" in why
    assert "not counted: “Cuba” in the title (“Cuba”): another person&#x27;s name: &#x27;Mark Cuba&#x27;" \
        in why or "not counted: “Cuba” in the title (“Cuba”): another person's name: 'Mark Cuba'" in why


async def test_allow_list_refuses_and_stores_nothing(tmp_path):
    h = await started_harness(tmp_path, allowed=(42,))
    try:
        r = await h.api.reply_to(99, "/subscribe cuba")
        assert "private deployment" in r.text
        r = await h.api.reply_to(98, "/start", lang="ja")
        assert "限定公開" in r.text
        assert h.sink.outbox.chat(99) is None and h.sink.outbox.chat(98) is None
        assert h.sink.outbox.subscriptions(99) == []
        assert "Subscribed" in (await h.subscribe(42, "cuba")).text
        await h.sink.publish(h.items(("Cuba", "cuba")))
        rows = h.sink.outbox.rows()
        assert {r.chat_id for r in rows} == {42}
    finally:
        await h.stop()
        await h.api.close()


async def test_group_command_with_botname_and_forum_topic(tg):
    r = await tg.api.reply_to(-1001234, f"/subscribe@{BOT_USERNAME} cuba", thread_id=7)
    assert "Subscribed" in r.text and r.params.get("message_thread_id") == 7
    await tg.sink.publish(tg.items(("Cuba topic news", "cuba")))
    n = len(tg.api.sent(-1001234))
    tg.api.message(-1001234, "/digest", thread_id=7)
    await tg.api.wait_for(lambda: len(tg.api.sent(-1001234)) == n + 1)
    msg = tg.api.sent(-1001234)[-1]
    assert msg.params["message_thread_id"] == 7 and "Cuba topic news" in msg.text
    assert [s.thread_id for s in tg.sink.outbox.subscriptions(-1001234)] == [7]


async def test_japanese_ui_and_lang_switch_schedule_timezone(tg):
    r = await tg.api.reply_to(50, "/subscribe cuba", lang="ja")
    assert "購読しました" in r.text and "ダイジェスト" in r.text
    assert "English" in (await tg.api.reply_to(50, "/lang en")).text
    r = await tg.api.reply_to(50, "/timezone Europe/Madrid")
    assert "Europe/Madrid" in r.text
    assert "is not a time zone" in (await tg.api.reply_to(50, "/timezone Mars/Base")).text
    r = await tg.api.reply_to(50, "/schedule 09:30")
    assert "09:30" in r.text and "Could not" not in r.text
    assert "Could not understand" in (await tg.api.reply_to(50, "/schedule 25:00")).text
    await tg.sink.publish(tg.items(("Cuba in Madrid", "cuba")))
    n = len(tg.api.sent(50))
    tg.now = tg.now.replace(hour=8, minute=0)                 # 09:00 Madrid: not yet
    await tg.sink.tick(tg.now)
    await tg.drain()
    assert len(tg.api.sent(50)) == n
    tg.now = tg.now.replace(minute=31)                        # 09:31 Madrid
    await tg.sink.tick(tg.now)
    await tg.api.wait_for(lambda: len(tg.api.sent(50)) == n + 1)
    assert "Cuba in Madrid" in tg.api.sent(50)[-1].text
    assert "CET" in tg.api.sent(50)[-1].text


async def test_set_my_commands_in_both_languages(tg):
    calls = tg.api.calls_of("setMyCommands")
    langs = {c.params.get("language_code") for c in calls}
    assert langs == {None, "ja"}
    ja = next(c for c in calls if c.params.get("language_code") == "ja")
    assert {c["command"] for c in ja.params["commands"]} >= {"start", "subscribe", "digest"}


async def test_a_flood_gives_one_bounded_digest_and_digest_more_sends_the_rest(tg):
    await tg.subscribe(42, "cuba")
    cap = tg.sink.sender.digest_max
    before = len(tg.api.sent(42))
    flood = tg.items(*((f"Cuba item number {i}", "cuba", "Wire", i) for i in range(cap * 3 + 5)))
    await tg.sink.publish(flood)
    tg.now += timedelta(hours=8)                             # the scheduled digest
    await tg.sink.tick(tg.now)
    await tg.api.wait_for(lambda: len(tg.api.sent(42)) > before)
    await tg.drain()
    first = tg.api.sent(42)[before:]
    vis = "\n".join(visible(m.text) for m in first)
    assert vis.count("Cuba item number") == cap
    assert f"… and {2 * cap + 5} more: /digest more" in vis
    n = len(tg.api.sent(42))
    tg.api.message(42, "/digest more")
    await tg.api.wait_for(lambda: any("more: /digest more" in m.text for m in tg.api.sent(42)[n:]))
    await tg.drain()
    vis = "\n".join(visible(m.text) for m in tg.api.sent(42)[n:])
    assert vis.count("Cuba item number") == cap and f"… and {cap + 5} more" in vis
