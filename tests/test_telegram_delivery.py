"""Delivery guarantees: RetryAfter per chat, Forbidden / chat not found, migration, HTML
fallback, 5xx and dropped connections, long digests, restart, and the token kept out of logs."""
from __future__ import annotations

import html
import logging
import re
import sys

from fakebotapi import TOKEN, Harness, started_harness, tg, visible_units  # noqa: F401



async def instant_chats(tg, *chats):
    for c in chats:
        await tg.subscribe(c, "greenland")        # urgent: instant


async def test_retry_after_honoured_for_that_chat_only(tg):
    await instant_chats(tg, 1, 2)
    tg.api.fail("sendMessage", chat_id=1, retry_after=3)
    await tg.sink.publish(tg.items(("Greenland flood", "greenland")))
    assert await tg.settled(2) == ["sent"]
    assert await tg.settled(1) == ["sent"]
    tries = [c for c in tg.api.calls_of("sendMessage", 1) if "flood" in c.text]
    assert [c.status for c in tries] == [429, 200]
    assert tries[1].time - tries[0].time >= 2.9                      # retry_after honoured
    (other,) = [c for c in tg.api.calls_of("sendMessage", 2) if "flood" in c.text]
    assert other.status == 200 and other.time < tries[1].time       # chat 2 was not stalled
    assert sum("flood" in c.text for c in tg.api.sent(1)) == 1


async def test_forbidden_deactivates_chat(tg):
    await instant_chats(tg, 5)
    tg.api.fail("sendMessage", chat_id=5, status=403)
    await tg.sink.publish(tg.items(("Greenland 1", "greenland")))
    await tg.api.wait_for(lambda: tg.sink.outbox.chat(5).active is False)
    assert tg.sink.outbox.subscriptions(5) == []
    assert "blocked" in tg.sink.outbox.chat(5).inactive_reason
    n = len(tg.api.calls_of("sendMessage", 5))
    await tg.sink.publish(tg.items(("Greenland 2", "greenland")))
    await tg.drain()
    assert len(tg.api.calls_of("sendMessage", 5)) == n               # nothing more tried


async def test_chat_not_found_deactivates(tg):
    await instant_chats(tg, 6)
    tg.api.fail("sendMessage", chat_id=6, status=400, description="Bad Request: chat not found")
    await tg.sink.publish(tg.items(("Greenland", "greenland")))
    await tg.api.wait_for(lambda: tg.sink.outbox.chat(6).active is False)
    assert [r.state for r in tg.sink.outbox.rows(6)] == ["dead"]


async def test_migration_moves_subscriptions_and_delivers(tg):
    await instant_chats(tg, -555)
    tg.api.fail("sendMessage", chat_id=-555, migrate_to=-100555)
    await tg.sink.publish(tg.items(("Greenland moved", "greenland")))
    await tg.api.wait_for(lambda: tg.api.sent(-100555))
    assert "Greenland moved" in tg.api.sent(-100555)[0].text
    assert [s.watchlist for s in tg.sink.outbox.subscriptions(-100555)] == ["greenland"]
    assert tg.sink.outbox.subscriptions(-555) == [] and tg.sink.outbox.chat(-555) is None
    await tg.sink.publish(tg.items(("Greenland next", "greenland")))
    await tg.api.wait_for(lambda: len(tg.api.sent(-100555)) == 2)


async def test_cant_parse_entities_resent_as_plain_text(tg):
    await instant_chats(tg, 7)
    tg.api.fail("sendMessage", chat_id=7, status=400,
                description="Bad Request: can't parse entities: unsupported start tag")
    await tg.sink.publish(tg.items(("Greenland <odd> & title", "greenland")))
    assert await tg.settled(7) == ["sent"]
    calls = [c for c in tg.api.calls_of("sendMessage", 7) if "odd" in c.text]
    assert [c.status for c in calls] == [400, 200]
    assert "parse_mode" not in calls[1].params
    assert "Greenland <odd> & title" in calls[1].text                 # plain, unescaped
    await tg.drain()
    assert [r.state for r in tg.sink.outbox.rows(7)] == ["sent"]


async def test_500_and_dropped_connection_retried_then_delivered_once(tg):
    await instant_chats(tg, 8)
    tg.api.fail("sendMessage", chat_id=8, status=500)
    tg.api.fail("sendMessage", chat_id=8, drop=True)
    await tg.sink.publish(tg.items(("Greenland retry", "greenland")))
    assert await tg.settled(8) == ["sent"]
    calls = [c for c in tg.api.calls_of("sendMessage", 8) if "retry" in c.text]
    assert [c.status for c in calls] == [500, 0, 200]
    assert sum("retry" in c.text for c in tg.api.sent(8)) == 1


async def test_long_digest_split_on_item_boundaries(tg):
    tg.sink.sender.digest_max = 100          # under the digest cap: one digest, several messages
    await tg.subscribe(9, "cuba")
    specs = [(f"Cuba item {i:02d} " + "word " * 55 + "& <x>", "cuba", "Feed", i)
             for i in range(50)]
    items = tg.items(*specs)
    await tg.sink.publish(items)
    n = len(tg.api.sent(9))
    tg.api.message(9, "/digest")
    await tg.api.wait_for(lambda: len(tg.api.sent(9)) > n)
    await tg.drain()
    parts = tg.api.sent(9)[n:]
    assert len(parts) >= 3
    seen = []
    for p in parts:
        assert visible_units(p.text, "HTML") <= 4096          # the fake's own count
        seen += re.findall(r"Cuba item (\d\d)", html.unescape(p.text))
    assert sorted(seen) == [f"{i:02d}" for i in range(50)]         # each item exactly once
    assert tg.api.rejected == []                  # never over the limit, never invalid HTML


async def test_restart_resends_pending_exactly_once(tmp_path):
    h = await started_harness(tmp_path)
    await instant_chats(h, 11)
    h.api.fail("sendMessage", chat_id=11, status=502, times=100)     # nothing gets through
    await h.sink.publish(h.items(("Greenland A", "greenland"), ("Greenland B", "greenland")))
    await h.api.wait_for(lambda: any(c.status == 502 for c in h.api.calls))
    await h.sink.stop()                  # in-flight calls finish and their rows are marked
    api = h.api
    api._failures.clear()
    h.store.close()
    h2 = Harness(tmp_path, api)          # same database, new process state
    assert h2.states(11) == ["queued", "queued"]     # nothing sent, nothing lost
    await h2.start()
    try:
        assert await h2.settled(11) == ["sent", "sent"]
        texts = [c.text for c in api.sent(11)]
        assert sum("Greenland A" in t for t in texts) == 1
        assert sum("Greenland B" in t for t in texts) == 1
    finally:
        await h2.stop()
        await api.close()


async def test_token_never_logged(tmp_path, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    logging.getLogger().setLevel(logging.DEBUG)
    handler = logging.StreamHandler(sys.stderr)
    logging.getLogger().addHandler(handler)
    try:
        h = await started_harness(tmp_path)
        await instant_chats(h, 12)
        h.api.fail("sendMessage", chat_id=12, status=500)
        h.api.fail("sendMessage", chat_id=12, drop=True)
        await h.sink.publish(h.items(("Greenland log", "greenland")))
        await h.api.wait_for(lambda: h.api.sent(12) and "log" in h.api.sent(12)[-1].text,
                             timeout=15)
        try:
            raise RuntimeError(f"boom at https://x/bot{TOKEN}/sendMessage")
        except RuntimeError:
            logging.getLogger("telegram.ext").exception("oops %s", TOKEN)
        logging.getLogger("httpx").warning("HTTP Request: POST http://h/bot%s/getMe", TOKEN)
        await h.stop()
        await h.api.close()
    finally:
        logging.getLogger().removeHandler(handler)
    out, err = capfd.readouterr()
    assert caplog.records and "oops" in caplog.text
    secret = TOKEN.split(":")[1]
    assert secret not in caplog.text and secret not in err and secret not in out
    assert "<token>" in caplog.text


async def test_notify_admins_and_outbox_prune(tg):
    await tg.sink.notify_admins("feed Bad is failing: <timeout> & more")
    (m,) = tg.api.sent(777)
    assert m.text == "feed Bad is failing: <timeout> & more" and "parse_mode" not in m.params
    await instant_chats(tg, 13)
    await tg.sink.publish(tg.items(("Greenland old", "greenland")))
    await tg.api.wait_for(lambda: any("old" in c.text for c in tg.api.sent(13)))
    await tg.drain()
    from datetime import timedelta
    await tg.sink.tick(tg.now + timedelta(days=31))          # beyond the 30-day retention
    assert tg.sink.outbox.rows(13) == []


async def test_too_long_digest_resent_as_split_plain_text(tg):
    await tg.subscribe(14, "cuba")
    await tg.sink.publish(tg.items(*[(f"Cuba long {i} <i>", "cuba") for i in range(5)]))
    tg.api.fail("sendMessage", chat_id=14, status=400, description="Bad Request: message is too long")
    n = len(tg.api.sent(14))
    tg.api.message(14, "/digest")
    await tg.api.wait_for(lambda: len(tg.api.sent(14)) > n)
    await tg.drain()
    (plain,) = tg.api.sent(14)[n:]
    assert "parse_mode" not in plain.params
    assert sorted(re.findall(r"Cuba long (\d) <i>", plain.text)) == ["0", "1", "2", "3", "4"]
    assert {r.state for r in tg.sink.outbox.rows(14)} == {"sent"}


async def test_deleted_forum_topic_turns_its_subscriptions_off(tg):
    await tg.api.reply_to(-1007, "/subscribe greenland", thread_id=3)
    tg.api.fail("sendMessage", chat_id=-1007, status=400,
                description="Bad Request: message thread not found")
    await tg.sink.publish(tg.items(("Greenland topic", "greenland")))
    await tg.api.wait_for(lambda: tg.sink.outbox.subscriptions(-1007) == [])
    assert [r.state for r in tg.sink.outbox.rows(-1007)] == ["dead"]
    assert tg.sink.outbox.chat(-1007).active            # the chat itself stays


async def test_transient_failures_are_retried_past_the_attempt_limit(tg):
    """An alert that could not be sent is retried, not forgotten: a long outage (more failures
    than MAX_ATTEMPTS) still ends with the message delivered, once."""
    from bot.telegram.sender import MAX_ATTEMPTS
    await instant_chats(tg, 15)
    tg.sink.sender.backoff_max = 0.2
    tg.api.fail("sendMessage", chat_id=15, status=502, times=MAX_ATTEMPTS + 3)
    await tg.sink.publish(tg.items(("Greenland outage", "greenland")))
    assert await tg.settled(15, timeout=60) == ["sent"]
    calls = [c for c in tg.api.calls_of("sendMessage", 15) if "outage" in c.text]
    assert [c.status for c in calls] == [502] * (MAX_ATTEMPTS + 3) + [200]


def later_report(tg, first, feed, n):
    """Another outlet's report of `first`'s story, stored folded into it."""
    from datetime import timedelta

    from bot.core.model import DupVerdict, Entry, Hit, Processed
    e = Entry(id=f"https://other.example/{feed}/{n}", feed=feed, title=f"{feed}'s own words",
              link=f"https://other.example/{feed}/{n}", summary="", lang="en",
              published=tg.now + timedelta(minutes=n))
    [s] = tg.store.save_processed(
        [Processed(e, [Hit("greenland", "Greenland", "title", "Greenland", "exact")],
                   DupVerdict(first.entry.id, "story", 0.4, ("shared names: Nuuk",)))],
        fetched_at=tg.now)
    return tg.store.item(first.entry.id), s


async def test_an_alert_is_edited_once_to_add_the_other_outlets_of_its_story(tg):
    tg.sink.edit_delay = 0
    await instant_chats(tg, 11)
    [first] = tg.items(("Greenland calls snap election", "greenland", "Wire"))
    await tg.sink.publish([first])
    await tg.api.wait_for(lambda: tg.api.sent(11))
    await tg.drain()
    [msg] = [c for c in tg.api.sent(11) if "snap election" in c.text]
    await tg.sink.also_in([later_report(tg, first, "Harbor", 1)])
    await tg.api.wait_for(lambda: tg.api.edits)
    [edit] = tg.api.edits
    assert edit["chat_id"] == 11 and "snap election" in edit["text"]
    assert "also in: Harbor" in edit["text"] and "also in" not in msg.text
    await tg.sink.also_in([later_report(tg, first, "Ledger", 2)])        # at most one edit
    await tg.drain()
    assert len(tg.api.edits) == 1 and len([c for c in tg.api.sent(11)
                                           if "snap election" in c.text]) == 1


async def test_alert_edits_wait_out_429_and_give_up_on_a_deleted_message(tg):
    from datetime import timedelta
    tg.sink.edit_delay = 0
    await instant_chats(tg, 12, 13)
    [first] = tg.items(("Greenland ice sheet record melt", "greenland", "Wire"))
    await tg.sink.publish([first])
    await tg.api.wait_for(lambda: tg.api.sent(12) and tg.api.sent(13))
    await tg.drain()
    tg.api.fail("editMessageText", chat_id=12, retry_after=1)
    mid = next(c for c in tg.api.sent(13) if "melt" in c.text)
    gone = next(k for k, text in tg.api.texts.items() if k[0] == 13 and "melt" in text)
    del tg.api.texts[gone]                                              # the user deleted it
    await tg.sink.also_in([later_report(tg, first, "Harbor", 1)])
    await tg.api.wait_for(lambda: any(e["chat_id"] == 12 for e in tg.api.edits), timeout=10)
    await tg.drain()
    assert [e["chat_id"] for e in tg.api.edits] == [12]
    assert [c.status for c in tg.api.calls_of("editMessageText", 12)] == [429, 200]
    assert len(tg.api.calls_of("editMessageText", 13)) == 1               # tried once, given up
    assert sum("melt" in c.text for c in tg.api.sent(13)) == 1          # never sent again
    assert mid.status == 200
    # an alert older than an hour is left alone
    [old] = tg.items(("Greenland old alert", "greenland", "Wire"))
    await tg.sink.publish([old])
    await tg.api.wait_for(lambda: any("old alert" in c.text for c in tg.api.sent(12)))
    await tg.drain()
    tg.now += timedelta(hours=2)
    await tg.sink.also_in([later_report(tg, old, "Harbor", 3)])
    await tg.drain()
    assert not any("old alert" in e["text"] for e in tg.api.edits)
