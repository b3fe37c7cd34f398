"""TelegramSink: the Telegram side of `sokuho run` (same asyncio loop as the scheduler).

    sink = TelegramSink(settings, store, get_watchlists)
    await sink.start(); await sink.publish(items); await sink.tick(now); await sink.stop()

publish() writes one outbox row per (subscribed chat/topic, item) in one transaction before
anything is sent; the Sender delivers them (see sender.py), tick() releases due digests.
"""
from __future__ import annotations

import asyncio
import html
import logging
import warnings
from datetime import datetime, timedelta, timezone
from typing import Callable

from telegram import BotCommand, Update
from telegram.error import NetworkError, TelegramError
from telegram.ext import Application, ApplicationBuilder

from bot.adapters.leader import Leadership
from bot.core.model import StoredItem
from bot.telegram import i18n, redact, timeutil
from bot.telegram.feedback import Feedback
from bot.telegram.handlers import Handlers
from bot.telegram.outbox import Outbox
from bot.telegram.pacing import Pacer
from bot.telegram.sender import Sender

log = logging.getLogger("bot.telegram.sink")
# PTB >= 22.2 warns about RetryAfter.retry_after becoming a timedelta; sender.retry_seconds
# handles both forms.
warnings.filterwarnings("ignore", message=r".*`retry_after` will be of type")
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
OUTBOX_CHANNEL = "sokuho_outbox"     # followers NOTIFY the leader of new outbox rows


class TelegramSink:
    def __init__(self, settings, store, get_watchlists: Callable[[], dict], *,
                 clock: Callable[[], datetime] | None = None, poll_timeout: int = 10,
                 pacer: Pacer | None = None, backoff_base: float = 2.0, metrics=None):
        if not settings.telegram_token:
            raise ValueError("no Telegram token: set TELEGRAM_BOT_TOKEN or "
                             "$CREDENTIALS_DIRECTORY/telegram-token")
        redact.install(settings.telegram_token)
        self.settings = settings
        self.store = store
        self.get_watchlists = get_watchlists
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.poll_timeout = poll_timeout
        self._outbox: Outbox | None = None     # lazy: the service opens the store later
        self._feedback: Feedback | None = None
        self.pacer = pacer or Pacer()
        self.backoff_base = backoff_base
        self.metrics = metrics                  # deliveries and 429s are counted by the Sender
        self.app: Application | None = None
        self.sender: Sender | None = None
        self.handlers = Handlers(self)
        self._pruned_at: datetime | None = None
        self.edit_delay = 300.0      # seconds an alert edit waits to gather more outlets
        # several instances on one database: one of them long-polls getUpdates, sends the
        # outbox (so pacing holds per bot token) and releases digests; the others only enqueue
        self.leadership = Leadership(getattr(settings, "database", None), "telegram",
                                     on_acquire=self._lead, on_lose=self._follow,
                                     channel=OUTBOX_CHANNEL, on_notify=self._poke)

    @property
    def leader(self) -> bool:
        return self.leadership.held

    def roles(self) -> list[str]:
        return ["telegram"] if self.leader else []

    @property
    def outbox(self) -> Outbox:
        if self._outbox is None:
            self._outbox = Outbox(self.store)
        return self._outbox

    @property
    def feedback(self) -> Feedback:
        if self._feedback is None:
            self._feedback = Feedback(self.store, self.outbox, self.now)
        return self._feedback

    def now(self) -> datetime:
        return self.clock()

    def _names(self, lang: str) -> dict[str, str]:
        return {n: wl.label(lang) for n, wl in (self.get_watchlists() or {}).items()}

    # ---------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        api = self.settings.telegram_api.rstrip("/")
        app = (ApplicationBuilder().token(self.settings.telegram_token)
               .base_url(f"{api}/bot").base_file_url(f"{api}/file/bot")
               .read_timeout(20).write_timeout(20).connect_timeout(10).pool_timeout(10)
               .build())
        self.handlers.register(app)
        for attempt in range(5):
            try:
                await app.initialize()          # getMe
                break
            except NetworkError as e:
                if attempt == 4:
                    raise
                log.warning("Telegram API not reachable (%s); retrying", e.message)
                await asyncio.sleep(2 ** attempt)
        self.app = app
        await self._set_commands()
        self.sender = Sender(app.bot, self.outbox, self.store, self.pacer, names=self._names,
                             backoff_base=self.backoff_base, clock=self.now,
                             metrics=self.metrics,
                             digest_max=getattr(self.settings, "digest_max_items", 30))
        await app.start()
        await self.leadership.start()
        log.info("Telegram bot @%s started (API %s)%s", app.bot.username, api,
                 "" if self.leader else "; another instance leads getUpdates and delivery, "
                 "this one takes over if it stops")

    async def _lead(self) -> None:
        """This instance became the leader: deliver the outbox, long-poll getUpdates."""
        self.sender.start()
        await self.app.updater.start_polling(timeout=self.poll_timeout, poll_interval=0.0,
                                             allowed_updates=ALLOWED_UPDATES,
                                             bootstrap_retries=-1)

    async def _follow(self) -> None:
        """Leadership lost (or stopping): no more sends or getUpdates from this instance."""
        if self.sender:
            await self.sender.stop()
        app = self.app
        if app is not None and app.updater and app.updater.running:
            await app.updater.stop()

    async def _set_commands(self) -> None:
        try:
            for lang in i18n.LANGS:
                cmds = [BotCommand(n, d) for n, d in i18n.commands(lang)]
                await self.app.bot.set_my_commands(cmds, language_code=None if lang == "en"
                                                   else lang)
        except TelegramError as e:
            log.warning("setMyCommands failed: %s", e.message)

    async def stop(self) -> None:
        """Stop polling and sending; unsent rows stay pending in the outbox for the next start."""
        await self.leadership.stop()
        if self.sender:
            await self.sender.stop()
        app = self.app
        if app is None:
            return
        try:
            if app.updater and app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
        finally:
            await app.shutdown()
            self.app = None

    # ---------------------------------------------------------------- pipeline side
    async def publish(self, items: list[StoredItem]) -> None:
        now = self.now()
        wls = sorted({w for it in items for w in it.watchlists})
        subs = self.outbox.subscribers(wls)
        if not subs:
            return
        by_wl: dict[str, list] = {}
        for s in subs:
            by_wl.setdefault(s.watchlist, []).append(s)
        chats = {}
        rules = self.feedback.rules(sorted({s.chat_id for s in subs}), now)
        cache: dict = {}
        held: dict[int, int] = {}
        rows = []
        for it in items:
            # (chat, topic) -> {watchlist: mode} of the subscriptions the item reaches
            targets: dict[tuple[int, int], dict[str, str]] = {}
            for wl in it.watchlists:
                for s in by_wl.get(wl, ()):
                    targets.setdefault((s.chat_id, s.thread_id), {})[wl] = s.mode
            for (chat_id, thread), modes in targets.items():
                left, fid = self.feedback.holding(rules.get(chat_id, []), it, list(modes), cache)
                if not left:                     # a reader's filter or muted story holds it
                    rows.append((chat_id, thread, it.entry.id, next(iter(modes)), "digest",
                                 "held", fid))
                    held[fid] = held.get(fid, 0) + 1
                    continue
                wl = next((w for w in left if modes[w] == "instant"), left[0])
                mode = modes[wl]
                if chat_id not in chats:
                    chats[chat_id] = self.outbox.chat(chat_id)
                chat = chats[chat_id]
                paused = chat is None or timeutil.is_muted(now, chat.muted_until) or \
                    timeutil.in_quiet(now, chat.quiet, chat.tz)
                if mode == "instant" and not paused:
                    rows.append((chat_id, thread, it.entry.id, wl, "instant", "queued"))
                else:
                    rows.append((chat_id, thread, it.entry.id, wl, "digest", "waiting"))
        n = self.outbox.enqueue(rows, now)
        self.feedback.db.count_held(held)
        log.debug("publish: %d item(s) -> %d new outbox row(s), %d held by readers' filters",
                  len(items), n, sum(held.values()))
        if self.sender and self.leader:
            self.sender.poke()
        elif n:
            try:                       # wake the leader's sender (it also looks every 5 s)
                self.store.notify(OUTBOX_CHANNEL)
            except Exception as e:
                log.debug("could not notify the leader: %s", e)

    def _poke(self) -> None:
        if self.sender:
            self.sender.poke()

    async def also_in(self, pairs: list[tuple[StoredItem, StoredItem]]) -> None:
        """Other outlets reported stories already alerted: each alert sent within the hour is
        edited once to say "also in" (digests read it from the store when they are sent)."""
        now = self.now()
        n = sum(self.outbox.edit_alerts(guid, now, self.edit_delay)
                for guid in dict.fromkeys(first.entry.id for first, _ in pairs))
        if n and self.sender:
            self.sender.poke()

    async def tick(self, now: datetime | None = None) -> None:
        """Release the digests that are due at `now`; wake the sender (it also retries)."""
        now = now or self.now()
        if not self.leader:
            return
        for chat in self.outbox.digest_due(now):
            self.outbox.release(chat.chat_id)
            self.outbox.update_chat(chat.chat_id,
                                    next_digest_at=timeutil.next_digest(now, chat.schedule,
                                                                        chat.tz))
        if self._pruned_at is None or now - self._pruned_at > timedelta(hours=6):
            self._pruned_at = now
            n = self.outbox.prune(now - timedelta(seconds=self.settings.retention))
            if n:
                log.info("outbox: forgot %d delivered row(s) older than the retention", n)
        try:
            await self.weekly_feedback(now)
        except Exception:                       # noqa: BLE001 - never stops the digests
            log.exception("weekly feedback report failed")
        if self.sender:
            self.sender.poke()

    def backfill(self, chat_id: int, thread: int, watchlist: str, now: datetime) -> int:
        """A new subscription: the watchlist's recent matches wait for the next digest."""
        since = now - timedelta(seconds=self.settings.backfill)
        items = self.store.recent_matches(since=since, watchlist=watchlist)
        rows = [(chat_id, thread, it.entry.id, watchlist, "digest", "waiting") for it in items]
        return self.outbox.enqueue(rows, now)

    async def drain(self, timeout: float = 30.0) -> bool:
        return await self.sender.drain(timeout) if self.sender else True

    # ---------------------------------------------------------------- reader feedback, admins
    def feedback_report(self, lang: str, days: float = 30):
        """The admin report of suggested watchlist edits: (HTML text, Apply buttons or None).
        Each offered edit is saved (tg_suggestions) so a tap applies exactly what was shown."""
        from bot.ops import suggest
        from bot.telegram.feedback_cmds import apply_buttons

        now = self.now()
        found = suggest.suggest(self.store, self.get_watchlists() or {}, now, days=days)
        if not found:
            return i18n.t(lang, "fb_none"), None
        lines, ids = [i18n.t(lang, "fb_head", days=f"{days:g}")], []
        for s in found:
            kw = dict(alias=s.alias, watchlist=s.watchlist, marks=s.marks, delivered=s.delivered,
                      share=f"{s.share:.0%}", chats=s.chats)
            if s.kind is None:
                lines.append(i18n.t(lang, "fb_line_none", **kw))
                continue
            ids.append(self.feedback.db.add_suggestion(s.watchlist, s.alias, s.kind, s.text,
                                                       s.lost, now))
            lines.append(i18n.t(lang, "fb_line", n=len(ids), lost=s.lost, marked=s.lost_marked,
                                kept=s.lost_kept, edit=html.unescape(i18n.edit_name(
                                    lang, s.kind, s.text, s.alias)), **kw))
        text = "\n".join(lines)
        return text, apply_buttons(lang, ids)

    def apply_suggestion(self, sid: int, user_id: int | None):
        """Apply saved suggestion `sid` to its watchlist file (the watcher reloads it).
        (EditResult, the Suggestion applied), or None when it was applied already; raises
        yamledit.EditError when refused (the file is unchanged)."""
        from bot.ops import suggest

        row = self.feedback.db.suggestion(sid)
        if row is None or row[6] is not None:
            return None
        _id, wl, alias, kind, text, affected, _applied = row
        s = suggest.Suggestion(wl, alias, 0, 0, 0, kind, text)
        res = suggest.apply(self.settings.watchlists, s)
        self.feedback.db.applied(sid, user_id, self.now())
        log.info("admin %s applied suggestion %s: %s (%s)", user_id, sid, s.describe(), res.path)
        return res, s

    async def weekly_feedback(self, now: datetime) -> bool:
        """Once a week: the report to every admin, when there is something to suggest."""
        if not self.settings.admins or not self.app:
            return False
        last = self.feedback.db.meta("feedback_report_at")
        if last is None:
            self.feedback.db.set_meta("feedback_report_at", now.isoformat())
            return False
        if now - datetime.fromisoformat(last) < timedelta(days=7):
            return False
        self.feedback.db.set_meta("feedback_report_at", now.isoformat())
        return await self.send_feedback_report()

    async def send_feedback_report(self) -> bool:
        sent = False
        for admin in self.settings.admins:
            chat = self.outbox.chat(admin)
            lang = chat.lang if chat else "en"
            text, markup = await asyncio.to_thread(self.feedback_report, lang)
            if markup is None:
                continue
            try:
                await self.pacer.acquire(admin)
                await self.app.bot.send_message(admin, text, parse_mode="HTML",
                                                reply_markup=markup)
                sent = True
            except TelegramError as e:
                log.warning("could not send the feedback report to admin %s: %s", admin,
                            e.message)
        return sent

    async def notify_admins(self, text: str) -> None:
        """Plain-text notice to every admin (feed failures, invalid config). Never raises."""
        if not self.app:
            log.warning("admin notice (Telegram not started): %s", text)
            return
        for admin in self.settings.admins:
            try:
                await self.pacer.acquire(admin)
                await self.app.bot.send_message(admin, text[:4000])
            except TelegramError as e:
                log.warning("could not notify admin %s: %s", admin, e.message)
