"""The outbox worker: sends queued rows, one job per chat at a time, many chats concurrently.

A row is marked sent right after the API call returns (no await in between). Errors:
RetryAfter -> that chat waits (others continue); network/5xx -> backoff; Forbidden or
"chat not found" -> chat deactivated; ChatMigrated -> rows and subscriptions moved;
"can't parse entities"/"too long" -> re-rendered as plain text (split) and sent.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import (BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter,
                            TelegramError, TimedOut)

from bot.core.model import utcnow
from bot.core import render
from bot.core.model import StoredItem
from bot.telegram.outbox import EDIT_WINDOW, Outbox, Row
from bot.telegram.i18n import alert_keyboard, digest_footer, t
from bot.telegram.pacing import Pacer

log = logging.getLogger("bot.telegram.sender")
MAX_ATTEMPTS = 12
FOOTER_ROOM = 120            # visible characters kept free under a digest for the command hint
GONE_ERRORS = ("chat not found", "bot was kicked", "user is deactivated", "chat_write_forbidden",
               "have no rights to send", "not enough rights", "bot is not a member")


def retry_seconds(e: RetryAfter) -> float:
    v = getattr(e, "_retry_after", None)        # timedelta in PTB >= 22.2, no warning
    if isinstance(v, timedelta):
        return v.total_seconds()
    v = e.retry_after
    return v.total_seconds() if isinstance(v, timedelta) else float(v)


@dataclass
class Part:
    text: str
    rows: list[Row]
    html: bool = True


class Sender:
    def __init__(self, bot, outbox: Outbox, store, pacer: Pacer, *,
                 names: Callable[[str], dict[str, str]], on_gone=None,
                 backoff_base: float = 2.0, backoff_max: float = 300.0, clock=None,
                 metrics=None, digest_max: int = 30):
        self.bot = bot
        self.outbox = outbox
        self.store = store
        self.pacer = pacer
        self.names = names                      # lang -> {watchlist: label}
        self.on_gone = on_gone                  # async (chat_id, reason) -> None
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.wake = asyncio.Event()
        self.inflight: dict[int, asyncio.Task] = {}
        self.stopping = False
        self._task: asyncio.Task | None = None
        self.metrics = metrics                  # bot.ops.metrics.Metrics or None
        self.clock = clock or utcnow           # only for the digest header's timestamp
        self.digest_max = digest_max          # items per digest; the rest waits (/digest more)

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> None:
        self.stopping = False
        self._task = asyncio.create_task(self._loop(), name="telegram-outbox")

    async def stop(self, grace: float = 10.0) -> None:
        """No new sends; let in-flight API calls finish (so their rows get marked), then stop."""
        self.stopping = True
        self.wake.set()
        if self.inflight:
            await asyncio.wait(list(self.inflight.values()), timeout=grace)
        for t in list(self.inflight.values()):
            t.cancel()
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass

    def poke(self) -> None:
        self.wake.set()

    async def _loop(self) -> None:
        while not self.stopping:
            try:
                self._dispatch()
            except Exception:
                log.exception("outbox worker: dispatch failed (retrying)")
            nb = self.outbox.next_not_before()
            timeout = 5.0
            if nb is not None:
                timeout = min(timeout, max(0.05, (nb - utcnow()).total_seconds()))
            try:
                await asyncio.wait_for(self.wake.wait(), timeout)
            except asyncio.TimeoutError:
                pass
            self.wake.clear()

    def _dispatch(self) -> None:
        rows = self.outbox.due(utcnow(), exclude=set(self.inflight))
        by_chat: dict[int, list[Row]] = {}
        for r in rows:
            by_chat.setdefault(r.chat_id, []).append(r)
        for chat_id, chat_rows in by_chat.items():
            if self.stopping:
                return
            t = asyncio.create_task(self._job(chat_id, chat_rows), name=f"tg-send-{chat_id}")
            self.inflight[chat_id] = t
        edits: dict[int, list] = {}
        for e in self.outbox.due_edits(utcnow()):
            if e[0].chat_id not in self.inflight:
                edits.setdefault(e[0].chat_id, []).append(e)
        for chat_id, chat_edits in edits.items():
            if self.stopping:
                return
            t = asyncio.create_task(self._edit_job(chat_id, chat_edits), name=f"tg-edit-{chat_id}")
            self.inflight[chat_id] = t

    # ---------------------------------------------------------------- alert edits
    async def _edit_job(self, chat_id: int, edits: list) -> None:
        """Edit sent alerts once to show the other outlets of their story ("also in")."""
        try:
            chat = self.outbox.chat(chat_id)
            for row, message_id, sent_at in edits:
                if self.stopping:
                    return
                now = utcnow()
                item = self.store.item(row.guid)
                if chat is None or not chat.active or item is None:
                    self.outbox.mark_edited(row.id, now, "not edited: chat or item gone")
                    continue
                if sent_at is None or now - sent_at > EDIT_WINDOW:
                    self.outbox.mark_edited(row.id, now, "not edited: alert older than an hour")
                    continue
                if not await self._edit(chat, row, message_id, item):
                    return
        except Exception:
            log.exception("outbox: editing alerts in chat %s failed", chat_id)
        finally:
            self.inflight.pop(chat_id, None)
            self.wake.set()

    async def _edit(self, chat, row: Row, message_id: int, item: StoredItem) -> bool:
        text = render.render_alert_html(item, watchlist=row.watchlist, tz=chat.tz,
                                        lang=chat.lang, no=row.item_no,
                                        names=self.names(chat.lang))
        kw = {"parse_mode": ParseMode.HTML,
              "link_preview_options": LinkPreviewOptions(is_disabled=False)}
        if row.item_no is not None:         # an edit without the keyboard would remove it
            from bot.telegram.feedback_store import FeedbackStore
            fb = FeedbackStore(self.store)
            done = frozenset(k for k, m in (("off", "offtopic"), ("mute", "mute"))
                             if any(x.guid == row.guid for x in fb.marks(chat_id=chat.chat_id,
                                                                         kind=m)))
            kw["reply_markup"] = alert_keyboard(chat.lang, row.item_no, done)
        await self.pacer.acquire(chat.chat_id)
        try:
            await self.bot.edit_message_text(text, chat_id=chat.chat_id, message_id=message_id,
                                             **kw)
            self.outbox.mark_edited(row.id, utcnow())
            return True
        except RetryAfter as e:
            secs = retry_seconds(e)
            self.pacer.block(chat.chat_id, secs)
            self.outbox.retry_edit(row.id, utcnow() + timedelta(seconds=secs),
                                   f"edit: 429 retry after {secs:g}s")
            return False
        except (BadRequest, Forbidden) as e:
            # "message is not modified", deleted message, no rights: the alert stays as it was
            self.outbox.mark_edited(row.id, utcnow(), f"not edited: {e.message}")
            return True
        except TelegramError as e:              # network, timeout, 5xx: again a little later
            self.outbox.retry_edit(row.id, utcnow() + timedelta(seconds=30),
                                   f"edit: {e.message}")
            return False

    async def drain(self, timeout: float = 30.0) -> bool:
        """Wait until nothing is queued and due (tests, benchmark). True if drained."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while loop.time() < end:
            self.poke()
            if not self.inflight and not self.outbox.due(utcnow()):
                return True
            await asyncio.sleep(0.05)
        return False

    # ---------------------------------------------------------------- one chat
    async def _job(self, chat_id: int, rows: list[Row]) -> None:
        try:
            chat = self.outbox.chat(chat_id)
            if chat is None or not chat.active:
                self.outbox.mark_dead([r.id for r in rows], "chat inactive")
                return
            self.outbox.number(rows)
            items = self._items(rows)
            for part in self._parts(chat, rows, items):
                if self.stopping:
                    return
                if not await self._send(chat, part, items):
                    return
        except Exception:
            log.exception("outbox: sending to chat %s failed", chat_id)
        finally:
            self.inflight.pop(chat_id, None)
            self.wake.set()

    def _items(self, rows: list[Row]) -> dict[str, StoredItem]:
        out = {}
        for r in rows:
            if r.guid not in out:
                it = self.store.item(r.guid)
                if it is None:
                    self.outbox.mark_dead([r.id], "item no longer in the store")
                else:
                    out[r.guid] = it
        return out

    def _parts(self, chat, rows: list[Row], items: dict[str, StoredItem]) -> list[Part]:
        names = self.names(chat.lang)
        parts: list[Part] = []
        digest: dict[int, list[Row]] = {}
        for r in rows:
            if r.guid not in items:
                continue
            if r.kind == "instant":
                text = render.render_alert_html(items[r.guid], watchlist=r.watchlist, tz=chat.tz,
                                                lang=chat.lang, no=r.item_no, names=names)
                parts.append(Part(text, [r]))
            else:
                digest.setdefault(r.thread_id, []).append(r)
        for thread_rows in digest.values():
            more = 0
            if len(thread_rows) > self.digest_max:        # a flood: one bounded digest, not 100
                thread_rows = thread_rows[:self.digest_max]
                more = self.outbox.hold_back(chat.chat_id, thread_rows[0].thread_id,
                                             [r.id for r in thread_rows])
            entries = [render.DigestEntry(items[r.guid], r.watchlist, r.item_no)
                       for r in thread_rows]
            by_no = {r.item_no: r for r in thread_rows}
            start = len(parts)
            for text, ents in render.render_digest_parts(entries, tz=chat.tz, lang=chat.lang,
                                                         names=names, now=self.clock(),
                                                         limit=render.LIMIT - FOOTER_ROOM):
                parts.append(Part(text + "\n\n" + digest_footer(chat.lang, [e.no for e in ents]),
                                  [by_no[e.no] for e in ents]))
            if more and len(parts) > start:
                last = parts[-1]
                parts[-1] = Part(last.text + "\n" + t(chat.lang, "digest_more", n=more), last.rows)
        return parts

    def _plain(self, chat, part: Part, items) -> list[Part]:
        names = self.names(chat.lang)
        rows = part.rows
        if len(rows) == 1 and rows[0].kind == "instant":
            r = rows[0]
            text = render.render_alert_plain(items[r.guid], watchlist=r.watchlist, tz=chat.tz,
                                             lang=chat.lang, no=r.item_no, names=names)
            return [Part(text[:4000], rows, html=False)]
        entries = [render.DigestEntry(items[r.guid], r.watchlist, r.item_no) for r in rows]
        by_no = {r.item_no: r for r in rows}
        return [Part(t, [by_no[e.no] for e in ents], html=False)
                for t, ents in render.render_digest_parts(entries, tz=chat.tz, lang=chat.lang,
                                                          names=names, now=self.clock(), plain=True)]

    # ---------------------------------------------------------------- one message
    async def _send(self, chat, part: Part, items) -> bool:
        """Send one part (falling back to plain text). False: stop this chat's job."""
        r0 = part.rows[0]
        ids = [r.id for r in part.rows]
        instant = r0.kind == "instant"
        kw = {}
        if r0.thread_id:
            kw["message_thread_id"] = r0.thread_id
        if part.html:
            kw["parse_mode"] = ParseMode.HTML
        kw["link_preview_options"] = LinkPreviewOptions(is_disabled=not instant)
        if instant and r0.item_no is not None:
            kw["reply_markup"] = alert_keyboard(chat.lang, r0.item_no)
        await self.pacer.acquire(chat.chat_id)
        try:
            msg = await self.bot.send_message(chat.chat_id, part.text, **kw)
            self.outbox.mark_sent(ids, getattr(msg, "message_id", None), utcnow())
            self._count("sent")
            return True
        except RetryAfter as e:
            secs = retry_seconds(e)
            if self.metrics is not None:
                self.metrics.record_429()
            self._count("retried")
            self.pacer.block(chat.chat_id, secs)
            self.outbox.mark_retry(ids, f"429 retry after {secs:g}s",
                                   utcnow() + timedelta(seconds=secs))
            log.warning("chat %s: flood control, retry after %gs", chat.chat_id, secs)
            return False
        except ChatMigrated as e:
            log.info("chat %s migrated to %s: subscriptions and outbox moved",
                     chat.chat_id, e.new_chat_id)
            self.outbox.migrate_chat(chat.chat_id, e.new_chat_id)
            self.pacer.forget(chat.chat_id)
            return False
        except Forbidden as e:
            await self._gone(chat.chat_id, f"forbidden: {e.message}")
            return False
        except BadRequest as e:
            msg_l = e.message.lower()
            if any(s in msg_l for s in GONE_ERRORS):
                await self._gone(chat.chat_id, f"bad request: {e.message}")
                return False
            if "thread not found" in msg_l and r0.thread_id:
                n = self.outbox.drop_thread(chat.chat_id, r0.thread_id, e.message)
                log.warning("chat %s: forum topic %s is gone; its subscriptions are off and %d "
                            "undelivered item(s) dropped", chat.chat_id, r0.thread_id, n)
                return False
            if part.html:
                log.warning("chat %s: Telegram rejected HTML (%s); resending as plain text",
                            chat.chat_id, e.message)
                for p in self._plain(chat, part, items):
                    if not await self._send(chat, p, items):
                        return False
                return True
            return self._retry(chat, part, f"bad request: {e.message}", permanent=True)
        except TimedOut as e:
            # Ambiguous: Telegram may have delivered it. We retry (at-least-once for this case).
            return self._retry(chat, part, f"timed out: {e.message}")
        except NetworkError as e:
            return self._retry(chat, part, f"network: {e.message}")
        except TelegramError as e:
            return self._retry(chat, part, f"telegram: {e.message}")

    def _retry(self, chat, part: Part, error: str, *, permanent: bool = False) -> bool:
        """Transient failures (network, timeouts, 5xx) are retried with capped backoff for as long
        as it takes: an alert is never forgotten because Telegram was down for a while. Only a
        message Telegram keeps rejecting even as plain text is given up after MAX_ATTEMPTS."""
        attempts = max(r.attempts for r in part.rows) + 1
        ids = [r.id for r in part.rows]
        if permanent and attempts >= MAX_ATTEMPTS:
            log.error("chat %s: giving up on %d item(s) after %d attempts: %s",
                      chat.chat_id, len(ids), attempts, error)
            self.outbox.mark_dead(ids, error)
            self._count("failed")
            return True
        delay = min(self.backoff_max, self.backoff_base * 2 ** (attempts - 1))
        for r in part.rows:
            r.attempts = attempts
        self.outbox.mark_retry(ids, error, utcnow() + timedelta(seconds=delay))
        self._count("retried")
        log.warning("chat %s: send failed (%s); retry in %gs", chat.chat_id, error, delay)
        return False

    def _count(self, status: str) -> None:
        if self.metrics is not None:
            self.metrics.record_delivery(status)

    async def _gone(self, chat_id: int, reason: str) -> None:
        self._count("failed")
        n = self.outbox.deactivate(chat_id, reason)
        self.pacer.forget(chat_id)
        log.warning("chat %s deactivated (%s); %d undelivered item(s) dropped for it",
                    chat_id, reason, n)
        if self.on_gone:
            try:
                await self.on_gone(chat_id, reason)
            except Exception:
                log.exception("on_gone hook failed")

