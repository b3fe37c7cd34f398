"""Readers teach the bot (issue 11), against the fake Bot API with a real Store: 👎 Off-topic
learns a per-chat filter, 🔇 Mute story holds copies and follow-ups, only admins change a group."""
from __future__ import annotations

import re
from datetime import timedelta

from fakebotapi import fake_api, started_harness, tg  # noqa: F401 (fixtures)

from bot.core.model import DupVerdict, Entry, Hit, Processed

KEPT = ["Cuba blackout leaves millions without power", "Havana talks with US on migration",
        "Cuba fuel shortage deepens as tankers stay away", "Cuba government announces reforms"]
BASEBALL = ["Cuba beats Japan in baseball classic", "Cuba baseball league resumes after storm",
            "Cuba pitcher joins Tokyo baseball club"]


def no_of(call) -> int:
    return int(re.search(r"#(\d+)", call.text).group(1))


def feedback_rows(h, chat_id=None):
    sql = "SELECT chat_id, guid, kind FROM tg_feedback"
    rows = h.store.conn.execute(sql).fetchall()
    return [r for r in rows if chat_id is None or r[0] == chat_id]


async def instant(h, chat_id, name, **kw):
    await h.api.reply_to(chat_id, f"/subscribe {name}", **kw)
    await h.api.reply_to(chat_id, f"/mode {name} instant", **kw)


async def alerts(h, chats, titles, wl="cuba"):
    """Publish items and wait until every chat got one alert per item; the alerts per chat."""
    before = {c: len(h.api.sent(c)) for c in chats}
    items = h.items(*[(t, wl) for t in titles])
    await h.sink.publish(items)
    for c in chats:
        await h.api.wait_for(lambda c=c: len(h.api.sent(c)) == before[c] + len(titles))
    return items, {c: h.api.sent(c)[before[c]:] for c in chats}


async def press(h, chat_id, data, **kw):
    n = len(h.api.calls_of("answerCallbackQuery"))
    h.api.callback(chat_id, data, **kw)
    await h.api.wait_for(lambda: len(h.api.calls_of("answerCallbackQuery")) == n + 1)
    return h.api.calls_of("answerCallbackQuery")[-1].params.get("text", "")


async def test_three_off_topic_marks_hold_back_a_fourth_in_that_chat_only(tg):
    for chat in (42, 43):
        await instant(tg, chat, "cuba")
    await alerts(tg, (42, 43), KEPT)
    _, sent = await alerts(tg, (42, 43), BASEBALL)
    toasts = [await press(tg, 42, f"off:{no_of(m)}") for m in sent[42]]
    assert all(t.startswith("Marked #") for t in toasts)
    assert "baseball" in toasts[-1] and "held back" in toasts[-1]
    # the keyboard of the pressed alert shows the mark
    edit = tg.api.calls_of("editMessageReplyMarkup", 42)[-1]
    assert edit.params["reply_markup"]["inline_keyboard"][0][0]["text"].endswith("✓")
    assert len(feedback_rows(tg, 42)) == 3 and feedback_rows(tg, 43) == []

    n42, n43 = len(tg.api.sent(42)), len(tg.api.sent(43))
    fourth = tg.items(("Cuba names new baseball coach", "cuba"))
    await tg.sink.publish(fourth)
    await tg.api.wait_for(lambda: len(tg.api.sent(43)) == n43 + 1)       # the other chat gets it
    assert "baseball coach" in tg.api.sent(43)[-1].text
    await tg.drain()
    row = next(r for r in tg.sink.outbox.rows(42) if r.guid == fourth[0].entry.id)
    assert row.state == "held" and len(tg.api.sent(42)) == n42
    # ... and an unrelated Cuba item still reaches chat 42
    await alerts(tg, (42,), ["Cuba announces new energy minister"])

    listing = (await tg.api.reply_to(42, "/filters")).text
    m = re.search(r"(\d+)\. Cuba: “Cuba” with ([^·]+)·", listing)
    assert m and "baseball" in m.group(2) and "1 held" in listing
    removed = await tg.api.reply_to(42, f"/filters remove {m.group(1)}")
    assert "removed" in removed.text and "1 held item" in removed.text
    assert next(r for r in tg.sink.outbox.rows(42)
                if r.guid == fourth[0].entry.id).state == "waiting"     # next digest
    await alerts(tg, (42, 43), ["Cuba baseball federation elects president"])
    assert "No filters" in (await tg.api.reply_to(42, "/filters")).text


async def test_pressing_twice_records_once(tg):
    await instant(tg, 42, "cuba")
    _, sent = await alerts(tg, (42,), ["Cuba baseball league resumes after storm"])
    no = no_of(sent[42][0])
    first = await press(tg, 42, f"off:{no}")
    second = await press(tg, 42, f"off:{no}")
    assert first.startswith("Marked") and "already marked" in second
    assert len(feedback_rows(tg, 42)) == 1
    assert len(tg.api.calls_of("answerCallbackQuery")) == 2     # every press answered
    # the same through the command
    assert "already marked" in (await tg.api.reply_to(42, f"/off {no}")).text
    assert len(feedback_rows(tg, 42)) == 1
    assert "No item #99" in (await press(tg, 42, "off:99"))


def copy_of(h, root_item, title, wl="greenland", feed="AP"):
    h._n += 1
    guid = f"https://news.example/copy{h._n}"
    e = Entry(id=guid, feed=feed, title=title, link=guid, summary="", lang="en",
              published=h.now)
    p = Processed(e, [Hit(wl, wl.capitalize(), "title", wl, "exact")],
                  DupVerdict(root_item.entry.id, "similar", 0.9))
    return h.store.save_processed([p], fetched_at=h.now)


async def test_mute_story_holds_copies_and_follow_ups_in_that_chat_only(tg):
    for chat in (42, 43):
        await instant(tg, chat, "greenland")
    items, sent = await alerts(tg, (42, 43), ["Greenland independence vote set for spring"],
                               wl="greenland")
    toast = await press(tg, 42, f"mute:{no_of(sent[42][0])}")
    assert "muted here until" in toast
    listing = (await tg.api.reply_to(42, "/filters")).text
    assert "muted story until" in listing and "independence vote" in listing
    n42, n43 = len(tg.api.sent(42)), len(tg.api.sent(43))
    copy = copy_of(tg, items[0], "Greenland to hold independence vote in spring - AP")
    follow = tg.items(("Greenland independence vote: parliament confirms spring date",
                       "greenland"))
    await tg.sink.publish(copy + follow)
    await tg.api.wait_for(lambda: len(tg.api.sent(43)) == n43 + 2)
    await tg.drain()
    held = {r.guid: r.state for r in tg.sink.outbox.rows(42)}
    assert held[copy[0].entry.id] == "held" and held[follow[0].entry.id] == "held"
    assert len(tg.api.sent(42)) == n42
    # other Greenland news still arrives in the muted chat
    await alerts(tg, (42, 43), ["Greenland ice sheet loses record mass"], wl="greenland")
    # /mutestory N 7d chooses the duration; after it ends, the story comes through again
    await tg.api.reply_to(42, "/subscribe cuba")
    await tg.api.reply_to(42, "/mode cuba instant")
    _, s2 = await alerts(tg, (42,), ["Cuba fuel shortage deepens as tankers stay away"])
    reply = await tg.api.reply_to(42, f"/mutestory {no_of(s2[42][0])} 7d")
    assert "muted here until 11/27" in reply.text                 # now = 11/20 12:00 JST
    tg.now += timedelta(days=8)
    await alerts(tg, (42,), ["Cuba fuel shortage deepens further as tankers stay away"])


async def test_group_presses_and_settings_are_for_admins(tg):
    group = -500                                # user 1000 created it; 2000 is a member
    await instant(tg, group, "cuba")
    _, sent = await alerts(tg, (group,), BASEBALL[:1])
    no = no_of(sent[group][0])
    for data in (f"off:{no}", f"mute:{no}"):
        assert "Only this chat's admins" in await press(tg, group, data, user_id=2000)
    assert feedback_rows(tg) == []
    assert tg.sink.feedback.db.filters(group) == []
    # anyone may ask why
    k = len(tg.api.sent(group))
    await press(tg, group, f"why:{no}", user_id=2000)
    await tg.api.wait_for(lambda: len(tg.api.sent(group)) == k + 1)
    assert "alias “Cuba”" in tg.api.sent(group)[-1].text
    # a member cannot unsubscribe the group, change its mode, nor remove filters
    r = await tg.api.reply_to(group, "/unsubscribe cuba", user_id=2000)
    assert "Only this chat's admins" in r.text
    await tg.api.reply_to(group, "/mode cuba digest", user_id=2000)
    assert [(s.watchlist, s.mode) for s in tg.sink.outbox.subscriptions(group)] == \
        [("cuba", "instant")]
    tg.api.callback(group, "sub:cuba", user_id=2000)
    await tg.api.wait_for(lambda: "Only this chat" in (tg.api.calls_of(
        "answerCallbackQuery")[-1].params.get("text") or ""))
    assert [s.watchlist for s in tg.sink.outbox.subscriptions(group)] == ["cuba"]
    # nor open the settings to members
    assert "Only this chat's admins" in (await tg.api.reply_to(
        group, "/settings members on", user_id=2000)).text
    # an admin's press acts for the whole group
    assert (await press(tg, group, f"off:{no}")).startswith("Marked")
    assert len(feedback_rows(tg, group)) == 1
    # getChatMember answers are cached briefly: one call per (chat, user)
    asked = {(c.params["chat_id"], c.params["user_id"])
             for c in tg.api.calls_of("getChatMember")}
    assert len(tg.api.calls_of("getChatMember")) == len(asked) == 2
    # the admin opens the settings to everyone: now the member may unsubscribe
    assert "on" in (await tg.api.reply_to(group, "/settings members on")).text
    r = await tg.api.reply_to(group, "/unsubscribe cuba", user_id=2000)
    assert "Unsubscribed" in r.text and tg.sink.outbox.subscriptions(group) == []


async def test_channel_presses_need_a_channel_admin(tg):
    channel = -1001234
    tg.api.chat(channel, "channel", title="News channel")
    tg.api.admins[channel] = {555}
    tg.sink.outbox.ensure_chat(channel, kind="channel", title="News channel", username=None,
                               lang="en", next_digest_at=tg.now + timedelta(hours=8), now=tg.now)
    tg.sink.outbox.subscribe(channel, 0, "cuba", "instant", tg.now)
    _, sent = await alerts(tg, (channel,), BASEBALL[:1])
    no = no_of(sent[channel][0])
    assert "Only this chat's admins" in await press(tg, channel, f"off:{no}", user_id=556)
    assert feedback_rows(tg) == []
    assert (await press(tg, channel, f"off:{no}", user_id=555)).startswith("Marked")
    assert len(feedback_rows(tg, channel)) == 1


async def test_digest_footer_and_commands_in_japanese(tg):
    await tg.api.reply_to(42, "/lang ja")
    await tg.api.reply_to(42, "/subscribe cuba")
    tg.items(*[(t, "cuba") for t in BASEBALL])
    await tg.sink.publish(tg.sink.store.recent_matches(tg.now - timedelta(hours=1), "cuba"))
    n = len(tg.api.sent(42))
    tg.api.message(42, "/digest")
    await tg.api.wait_for(lambda: len(tg.api.sent(42)) == n + 1)
    digest = tg.api.sent(42)[-1].text
    assert "/off 番号" in digest and "/mutestory 番号" in digest
    first = int(re.search(r"（#(\d+)", digest).group(1))
    assert "記録しました" in (await tg.api.reply_to(42, f"/off {first}")).text
    assert "フィルターはありません" in (await tg.api.reply_to(42, "/filters")).text


CUBA_YAML = """\
# Cuba watchlist: keep this comment
name: cuba
title: {en: Cuba, ja: キューバ}
aliases:
  en:
    - Cuba      # the island
    - Havana
"""


async def test_sokuho_feedback_suggests_a_safe_unless_word_that_check_accepts(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    from bot.adapters.config import load_config
    from bot.core.matcher import Matcher

    wdir = tmp_path / "watchlists"
    wdir.mkdir()
    (wdir / "cuba.yaml").write_text(CUBA_YAML, encoding="utf-8")
    (wdir / "feeds.yaml").write_text("feeds: []\n", encoding="utf-8")
    h = await started_harness(tmp_path, admins=(777,))
    try:
        for chat in (42, 43):
            await instant(h, chat, "cuba")
        kept, _ = await alerts(h, (42, 43), KEPT)
        _, sent = await alerts(h, (42, 43), BASEBALL)
        for m in sent[42][:2]:
            await press(h, 42, f"off:{no_of(m)}")
        await press(h, 43, f"off:{no_of(sent[43][2])}")
        await h.drain()
    finally:
        await h.stop()
        await h.api.close()

    root = Path(__file__).resolve().parent.parent
    common = ["--state", str(tmp_path / "state"), "--watchlists", str(wdir),
              "--feeds", str(wdir / "feeds.yaml")]

    def sokuho(*args):
        return subprocess.run([sys.executable, "-m", "bot.cli", *args, *common], cwd=root,
                              capture_output=True, text=True, timeout=60)
    out = sokuho("feedback", "--json")
    assert out.returncode == 0, out.stderr
    top = json.loads(out.stdout)[0]
    assert (top["watchlist"], top["alias"], top["marks"], top["chats"]) == ("cuba", "Cuba", 3, 2)
    assert top["kind"] == "unless" and top["text"] == "baseball"
    assert top["lost_marked"] == 3 and top["lost_kept"] == 0
    text = sokuho("feedback").stdout
    assert "unless “baseball” on alias “Cuba”" in text and "sokuho feedback --apply 1" in text

    applied = sokuho("feedback", "--apply", "1")
    assert applied.returncode == 0, applied.stderr
    yaml_text = (wdir / "cuba.yaml").read_text(encoding="utf-8")
    assert "# Cuba watchlist: keep this comment" in yaml_text and "# the island" in yaml_text
    check = sokuho("check")
    assert check.returncode == 0, check.stderr
    status = sokuho("status")
    assert "Feedback: 3 off-topic mark(s), 0 story mute(s)" in status.stdout, status.stderr
    matcher = Matcher(load_config(wdir, feeds_file=wdir / "feeds.yaml").watchlists)
    for it in kept:                              # every item readers kept still matches
        assert matcher.match(it.entry), it.entry.title
    for title in BASEBALL:                        # the marked ones no longer do
        assert not [x for x in matcher.match(Entry("x", "f", title, "")) if x.alias == "Cuba"]


async def test_weekly_admin_report_applies_a_suggestion_with_a_tap(tmp_path):
    wdir = tmp_path / "watchlists"
    wdir.mkdir()
    (wdir / "cuba.yaml").write_text(CUBA_YAML, encoding="utf-8")
    h = await started_harness(tmp_path, admins=(777,))
    try:
        await instant(h, 42, "cuba")
        await alerts(h, (42,), KEPT)
        _, sent = await alerts(h, (42,), BASEBALL)
        for m in sent[42]:
            await press(h, 42, f"off:{no_of(m)}")
        n = len(h.api.sent(777))
        await h.sink.tick(h.now)                           # first tick: starts the week
        await h.drain()
        assert len(h.api.sent(777)) == n
        h.now += timedelta(days=7)
        await h.sink.tick(h.now)
        await h.api.wait_for(lambda: len(h.api.sent(777)) == n + 1)
        report = h.api.sent(777)[-1]
        assert "“Cuba” (cuba): 3/7 off-topic" in report.text
        assert "unless “baseball” on alias “Cuba”" in report.text
        button = report.params["reply_markup"]["inline_keyboard"][0][0]
        assert button["text"] == "✅ Apply 1" and len(button["callback_data"].encode()) <= 64
        # only the bot's admins may apply
        assert "for admins" in await press(h, 42, button["callback_data"])
        assert "baseball" not in (wdir / "cuba.yaml").read_text(encoding="utf-8")
        toast = await press(h, 777, button["callback_data"])
        assert toast.startswith("Applied in cuba (cuba.yaml): unless “baseball”")
        text = (wdir / "cuba.yaml").read_text(encoding="utf-8")
        assert "unless: [baseball]" in text and "# the island" in text
        assert "already applied" in await press(h, 777, button["callback_data"])
        h.now += timedelta(days=1)                         # not again before another week
        k = len(h.api.sent(777))
        await h.sink.tick(h.now)
        await h.drain()
        assert len(h.api.sent(777)) == k
    finally:
        await h.stop()
        await h.api.close()


async def test_bad_presses_and_arguments_change_nothing(tg):
    await instant(tg, 42, "cuba")
    _, sent = await alerts(tg, (42,), BASEBALL[:1])
    no = no_of(sent[42][0])
    for data in ("off:", "off:abc", "mute:-1", "fb:x", "zzz", "off:" + "9" * 58):
        await press(tg, 42, data)                         # answered, nothing recorded
    assert feedback_rows(tg) == [] and tg.sink.feedback.db.filters(42) == []
    assert "at most 30d" in (await tg.api.reply_to(42, f"/mutestory {no} 40d")).text
    assert "not a duration" in (await tg.api.reply_to(42, f"/mutestory {no} soon")).text
    assert "Usage: /off N" in (await tg.api.reply_to(42, "/off")).text
    assert "Usage: /filters" in (await tg.api.reply_to(42, "/filters remove x")).text
    assert "No filter 5" in (await tg.api.reply_to(42, "/filters remove 5")).text
    assert "Usage: /settings" in (await tg.api.reply_to(42, "/settings members maybe")).text
    assert feedback_rows(tg) == [] and tg.sink.feedback.db.filters(42, active_only=False) == []


async def test_get_chat_member_failure_refuses_and_is_not_cached(tg):
    group = -600
    await instant(tg, group, "cuba")
    _, sent = await alerts(tg, (group,), BASEBALL[:1])
    no = no_of(sent[group][0])
    tg.api.admins[group] = {1000, 3000}                # 3000: an admin not asked about yet
    tg.api.fail("getChatMember", chat_id=group, status=502, description="Bad Gateway", times=3)
    assert "Only this chat's admins" in await press(tg, group, f"off:{no}", user_id=3000)
    assert feedback_rows(tg) == []
    tg.api._failures.clear()
    assert (await press(tg, group, f"off:{no}", user_id=3000)).startswith("Marked")  # asked again


async def test_a_huge_item_number_is_a_usage_error_not_a_crash(tg):
    for cmd in ("/why", "/off", "/mutestory"):
        r = await tg.api.reply_to(42, f"{cmd} {'9' * 40}")
        assert r.text.startswith("Usage:")
