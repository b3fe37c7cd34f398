"""TelegramSink: the Telegram side of `sokuho run` (same asyncio loop as the scheduler).

    sink = TelegramSink(settings, store, get_watchlists)
    await sink.start(); await sink.publish(items); await sink.tick(now); await sink.stop()

publish() writes one outbox row per (subscribed chat/topic, item) in one transaction before
anything is sent; the Sender delivers them (see sender.py), tick() releases due digests.
"""
from __future__ import annotations

import asyncio
import logging
import warnings
from datetime import datetime, timedelta, timezone
from typing import Callable

from telegram import BotCommand, Update
from telegram.error import NetworkError, TelegramError
from telegram.ext import Application, ApplicationBuilder

from bot.core.model import StoredItem
from bot.telegram import i18n, redact, timeutil
from bot.telegram.handlers import Handlers
from bot.telegram.outbox import Outbox
from bot.telegram.pacing import Pacer
from bot.telegram.sender import Sender

log = logging.getLogger("bot.telegram.sink")
# PTB >= 22.2 warns about RetryAfter.retry_after becoming a timedelta; sender.retry_seconds
# handles both forms.
warnings.filterwarnings("ignore", message=r".*`retry_after` will be of type")
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]


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
        self.pacer = pacer or Pacer()
        self.backoff_base = backoff_base
        self.metrics = metrics                  # deliveries and 429s are counted by the Sender
        self.app: Application | None = None
        self.sender: Sender | None = None
        self.handlers = Handlers(self)
        self._pruned_at: datetime | None = None

    @property
    def outbox(self) -> Outbox:
        if self._outbox is None:
            self._outbox = Outbox(self.store)
        return self._outbox

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
                             metrics=self.metrics)
        self.sender.start()
        await app.start()
        await app.updater.start_polling(timeout=self.poll_timeout, poll_interval=0.0,
                                        allowed_updates=ALLOWED_UPDATES, bootstrap_retries=-1)
        log.info("Telegram bot @%s started (API %s)", app.bot.username, api)

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
        rows = []
        for it in items:
            targets: dict[tuple[int, int], tuple[str, str]] = {}
            for wl in it.watchlists:
                for s in by_wl.get(wl, ()):
                    key = (s.chat_id, s.thread_id)
                    cur = targets.get(key)
                    if cur is None or (cur[1] != "instant" and s.mode == "instant"):
                        targets[key] = (wl, s.mode)
            for (chat_id, thread), (wl, mode) in targets.items():
                if chat_id not in chats:
                    chats[chat_id] = self.outbox.chat(chat_id)
                chat = chats[chat_id]
                held = chat is None or timeutil.is_muted(now, chat.muted_until) or \
                    timeutil.in_quiet(now, chat.quiet, chat.tz)
                if mode == "instant" and not held:
                    rows.append((chat_id, thread, it.entry.id, wl, "instant", "queued"))
                else:
                    rows.append((chat_id, thread, it.entry.id, wl, "digest", "waiting"))
        n = self.outbox.enqueue(rows, now)
        log.debug("publish: %d item(s) -> %d new outbox row(s)", len(items), n)
        if self.sender:
            self.sender.poke()

    async def tick(self, now: datetime | None = None) -> None:
        """Release the digests that are due at `now`; wake the sender (it also retries)."""
        now = now or self.now()
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
