"""Chat commands and buttons. Replies are HTML built from i18n.t (placeholders escaped)."""
from __future__ import annotations

import asyncio
import html
import logging
import re
from dataclasses import dataclass
from datetime import timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, filters

from bot.adapters import yamledit
from bot.core.matcher import Matcher
from bot.core.normalize import fold
from bot.core.render import clip, fmt_time
from bot.core.watchlist import parse_duration
from bot.telegram import i18n, timeutil
from bot.telegram.admin import AdminCommands
from bot.telegram.command import Req, command
from bot.telegram.feedback_cmds import FeedbackCommands, item_no
from bot.telegram.perms import AdminCache
from bot.telegram.i18n import t
from bot.telegram.outbox import Chat

log = logging.getLogger("bot.telegram.handlers")
_CHANNEL_REF = re.compile(r"^(@[A-Za-z0-9_]{4,}|-100\d{5,})$")


@dataclass
class Ctx:
    chat: Chat           # the chat acted upon (a registered channel when targeted)
    thread: int
    lang: str            # language of the person's chat (replies)
    user_id: int | None
    is_admin: bool


class Handlers(AdminCommands, FeedbackCommands):
    def __init__(self, sink):
        self.sink = sink
        self.chat_admins = AdminCache()

    def register(self, app: Application) -> None:
        f = filters.UpdateType.MESSAGE
        for name in ("start", "help", "watchlists", "subscribe", "unsubscribe", "mode",
                     "schedule", "timezone", "quiet", "mute", "digest", "why", "lang",
                     "status", "alias", "exclude", "channel", "off", "mutestory", "filters",
                     "settings", "feedback"):
            app.add_handler(CommandHandler(name, getattr(self, f"cmd_{name}"), filters=f))
        app.add_handler(CallbackQueryHandler(self.on_button))
        app.add_error_handler(self.on_error)

    # ------------------------------------------------------------ context
    def allowed(self, chat_id: int) -> bool:
        s = self.sink.settings
        return not s.allowed_chats or chat_id in s.allowed_chats or chat_id in s.admins

    async def ctx(self, update: Update) -> Ctx | None:
        chat, user, msg = update.effective_chat, update.effective_user, update.effective_message
        if chat is None:
            return None
        lang_guess = i18n.lang_of(user.language_code if user else None)
        if not self.allowed(chat.id):
            log.info("refused chat %s (not in SOKUHO_ALLOWED_CHATS)", chat.id)
            if update.callback_query:
                await update.callback_query.answer(t(lang_guess, "refused"), show_alert=True)
            elif msg:
                await msg.reply_text(t(lang_guess, "refused"))
            return None
        row = self.sink.outbox.chat(chat.id)
        if row is None or not row.active:
            now = self.sink.now()
            row = self.sink.outbox.ensure_chat(
                chat.id, kind=chat.type, title=chat.title or chat.full_name, lang=lang_guess,
                username=chat.username, now=now,
                next_digest_at=timeutil.next_digest(now, timeutil.DEFAULT_SCHEDULE,
                                                    timeutil.DEFAULT_TZ))
        thread = msg.message_thread_id if msg is not None and msg.is_topic_message else 0
        uid = user.id if user else None
        return Ctx(row, thread or 0, row.lang, uid, uid in self.sink.settings.admins)

    async def may_edit(self, update: Update, c: Ctx, *, admins_only: bool = False) -> bool:
        """May this person change the chat (subscriptions, settings, filters, feedback)? In a
        private chat yes; in a group or channel its admins (and the bot's), or everyone after
        /settings members on (unless admins_only)."""
        chat = update.effective_chat
        if c.is_admin or chat is None or chat.type == "private":
            return True
        msg = update.effective_message
        if msg is not None and msg.sender_chat is not None and msg.sender_chat.id == chat.id \
                and update.callback_query is None:
            return True                          # an anonymous admin posting as the group
        if not admins_only and self.sink.feedback.db.members_edit(chat.id):
            return True
        return await self.chat_admins.is_admin(update.get_bot(), chat.id, c.user_id)

    async def target(self, c: Ctx, args: list[str], reply) -> tuple[Ctx, list[str]] | None:
        """A trailing @channel / -100id argument: act on that registered channel (admins)."""
        if not args or not _CHANNEL_REF.match(args[-1]):
            return c, args
        ref = args[-1]
        if not c.is_admin:
            await reply(t(c.lang, "admins_only"))
            return None
        ch = (self.sink.outbox.chat_by_username(ref) if ref.startswith("@")
              else self.sink.outbox.chat(int(ref)))
        if ch is None or ch.kind != "channel" or not ch.active:
            await reply(t(c.lang, "channel_bad", ref=ref, error="not registered (/channel add)"))
            return None
        return Ctx(ch, 0, c.lang, c.user_id, True), args[:-1]

    @staticmethod
    def replier(update: Update):
        async def reply(text: str, **kw):
            return await update.effective_message.reply_text(
                text, parse_mode=ParseMode.HTML, **kw)
        return reply

    def watchlists(self) -> dict:
        return self.sink.get_watchlists() or {}

    def find_wl(self, name: str):
        wls = self.watchlists()
        if name in wls:
            return wls[name]
        low = name.strip().lower()
        for wl in wls.values():
            if wl.name.lower() == low or any(v.lower() == low for v in wl.title.values()):
                return wl
        return None

    def names_text(self) -> str:
        return ", ".join(sorted(self.watchlists())) or "-"

    def keyboard(self, c: Ctx) -> InlineKeyboardMarkup:
        subs = {s.watchlist for s in self.sink.outbox.subscriptions(c.chat.chat_id, c.thread)}
        rows = []
        for name, wl in sorted(self.watchlists().items()):
            mark = "✅" if name in subs else "➕"
            rows.append([InlineKeyboardButton(f"{mark} {wl.label(c.lang)}",
                                              callback_data=f"sub:{name}"[:64])])
        return InlineKeyboardMarkup(rows)

    # ------------------------------------------------------------ subscribe
    def subscribe(self, c: Ctx, wl) -> str:
        now = self.sink.now()
        mode = "instant" if wl.urgent else "digest"
        if not self.sink.outbox.subscribe(c.chat.chat_id, c.thread, wl.name, mode, now):
            return t(c.lang, "already", name=wl.label(c.lang))
        text = t(c.lang, "subscribed", name=wl.label(c.lang), mode=i18n.mode_name(c.lang, mode))
        n = self.sink.backfill(c.chat.chat_id, c.thread, wl.name, now)
        if n:
            text += "\n" + t(c.lang, "backfill", n=n)
        return text

    def unsubscribe(self, c: Ctx, wl) -> str:
        if self.sink.outbox.unsubscribe(c.chat.chat_id, c.thread, wl.name):
            return t(c.lang, "unsubscribed", name=wl.label(c.lang))
        return t(c.lang, "not_subscribed", name=wl.label(c.lang))

    # ------------------------------------------------------------ commands
    @command()
    async def cmd_start(self, r: Req) -> None:
        c, reply = r.c, r.reply
        if not self.watchlists():
            await reply(t(c.lang, "no_watchlists"))
            return
        await reply(t(c.lang, "start", schedule=c.chat.schedule, tz=c.chat.tz),
                    reply_markup=self.keyboard(c))

    @command()
    async def cmd_help(self, r: Req) -> None:
        await r.reply(t(r.lang, "help"))

    @command(target=True)
    async def cmd_watchlists(self, r: Req) -> None:
        c, reply = r.tc, r.reply
        if not self.watchlists():
            await reply(t(c.lang, "no_watchlists"))
            return
        subs = {s.watchlist: s.mode for s in
                self.sink.outbox.subscriptions(c.chat.chat_id, c.thread)}
        lines = [t(c.lang, "watchlists")]
        for name, wl in sorted(self.watchlists().items()):
            mark = "✅" if name in subs else "▫️"
            extra = f" · {i18n.mode_name(c.lang, subs[name])}" if name in subs else ""
            lines.append(f"{mark} <code>{html.escape(name)}</code> — "
                         f"{html.escape(wl.label(c.lang))}{extra}")
        await reply("\n".join(lines), reply_markup=self.keyboard(c))

    async def _sub_cmd(self, r: Req, subscribe: bool) -> None:
        c, reply, tc, args = r.c, r.reply, r.tc, r.args
        if len(args) != 1:
            usage = "/subscribe NAME" if subscribe else "/unsubscribe NAME"
            await reply(t(c.lang, "usage", usage=usage) + "\n" + self.names_text())
            return
        wl = self.find_wl(args[0])
        if wl is None:
            await reply(t(c.lang, "unknown", name=args[0], names=self.names_text()))
            return
        await reply(self.subscribe(tc, wl) if subscribe else self.unsubscribe(tc, wl))

    @command(target=True, edit=True)
    async def cmd_subscribe(self, r: Req) -> None:
        await self._sub_cmd(r, True)

    @command(target=True, edit=True)
    async def cmd_unsubscribe(self, r: Req) -> None:
        await self._sub_cmd(r, False)

    @command(target=True, edit=True)
    async def cmd_mode(self, r: Req) -> None:
        c, reply, tc, args = r.c, r.reply, r.tc, r.args
        if not args or args[-1] not in ("digest", "instant") or len(args) > 2:
            await reply(t(c.lang, "usage", usage="/mode NAME digest|instant"))
            return
        mode = args[-1]
        if len(args) == 1:
            n = self.sink.outbox.set_mode(tc.chat.chat_id, tc.thread, None, mode)
            await reply(t(c.lang, "mode_all", n=n, mode=i18n.mode_name(c.lang, mode)))
            return
        wl = self.find_wl(args[0])
        if wl is None:
            await reply(t(c.lang, "unknown", name=args[0], names=self.names_text()))
            return
        if not self.sink.outbox.set_mode(tc.chat.chat_id, tc.thread, wl.name, mode):
            await reply(t(c.lang, "not_subscribed", name=wl.label(c.lang)))
            return
        await reply(t(c.lang, "mode_set", name=wl.label(c.lang),
                      mode=i18n.mode_name(c.lang, mode)))

    async def _chat_setting(self, r: Req, usage: str, apply) -> None:
        c, reply, tc, args = r.c, r.reply, r.tc, r.args
        if not args:
            await reply(t(c.lang, "usage", usage=usage))
            return
        try:
            text = apply(tc, " ".join(args))
        except ValueError as e:
            text = t(c.lang, "bad_value", error=str(e))
        await reply(text)

    def _next(self, chat: Chat, lang: str, schedule: str, tz: str) -> str:
        nxt = timeutil.next_digest(self.sink.now(), schedule, tz)
        self.sink.outbox.update_chat(chat.chat_id, next_digest_at=nxt)
        return fmt_time(nxt, tz, lang)

    @command(target=True, edit=True)
    async def cmd_schedule(self, r: Req) -> None:
        def apply(c: Ctx, arg: str) -> str:
            sched = timeutil.format_schedule(timeutil.parse_schedule(arg))
            self.sink.outbox.update_chat(c.chat.chat_id, schedule=sched)
            nxt = self._next(c.chat, c.lang, sched, c.chat.tz)
            return t(c.lang, "schedule_set", times=sched, tz=c.chat.tz, next=nxt)
        await self._chat_setting(r, "/schedule 08:00,20:00", apply)

    @command(target=True, edit=True)
    async def cmd_timezone(self, r: Req) -> None:
        def apply(c: Ctx, arg: str) -> str:
            if not timeutil.valid_tz(arg):
                return t(c.lang, "bad_tz", tz=arg)
            self.sink.outbox.update_chat(c.chat.chat_id, tz=arg)
            return t(c.lang, "tz_set", tz=arg,
                     next=self._next(c.chat, c.lang, c.chat.schedule, arg))
        await self._chat_setting(r, "/timezone Asia/Tokyo", apply)

    @command(target=True, edit=True)
    async def cmd_quiet(self, r: Req) -> None:
        def apply(c: Ctx, arg: str) -> str:
            if arg.lower() in ("off", "none", "0"):
                self.sink.outbox.update_chat(c.chat.chat_id, quiet=None)
                return t(c.lang, "quiet_off")
            a, b = timeutil.parse_quiet(arg)
            rng = f"{a:%H:%M}-{b:%H:%M}"
            self.sink.outbox.update_chat(c.chat.chat_id, quiet=rng)
            return t(c.lang, "quiet_set", range=rng, tz=c.chat.tz)
        await self._chat_setting(r, "/quiet 23:00-07:00 | off", apply)

    @command(target=True, edit=True)
    async def cmd_mute(self, r: Req) -> None:
        def apply(c: Ctx, arg: str) -> str:
            if arg.lower() in ("off", "0"):
                self.sink.outbox.update_chat(c.chat.chat_id, muted_until=None)
                return t(c.lang, "unmuted")
            secs = parse_duration(arg)
            if secs > 30 * 86400:
                raise ValueError("at most 30d")
            until = self.sink.now() + timedelta(seconds=secs)
            self.sink.outbox.update_chat(c.chat.chat_id, muted_until=until)
            return t(c.lang, "muted", until=fmt_time(until, c.chat.tz, c.lang))
        await self._chat_setting(r, "/mute 2h | off", apply)

    @command()
    async def cmd_lang(self, r: Req) -> None:
        c, args = r.c, r.args
        if not args or args[0].lower() not in i18n.LANGS:
            await r.reply(t(c.lang, "usage", usage="/lang ja|en"))
            return
        lang = args[0].lower()
        if not await r.may_edit():
            return
        self.sink.outbox.update_chat(c.chat.chat_id, lang=lang)
        await r.reply(t(lang, "lang_set"))

    @command(target=True)
    async def cmd_digest(self, r: Req) -> None:
        c, reply, tc = r.c, r.reply, r.tc
        self.sink.outbox.release(tc.chat.chat_id, tc.thread)
        if not self.sink.outbox.pending_count(tc.chat.chat_id, tc.thread):
            await reply(t(c.lang, "nothing_new"))
            return
        self.sink.sender.poke()

    @command()
    async def cmd_why(self, r: Req) -> None:
        no = item_no(r.args[0]) if len(r.args) == 1 else None
        if no is None:
            await r.reply(t(r.lang, "usage", usage="/why N"))
            return
        await r.reply(self.explain(r.c, no))

    def explain(self, c: Ctx, no: int) -> str:
        row = self.sink.outbox.by_no(c.chat.chat_id, no)
        if row is None:
            return t(c.lang, "why_none", n=no)
        item = self.sink.store.item(row.guid)
        if item is None:
            return t(c.lang, "why_gone", n=no)
        return why_text(c.lang, no, item, self.watchlists())

    # ------------------------------------------------------------ buttons
    async def on_button(self, update: Update, context) -> None:
        q = update.callback_query
        c = await self.ctx(update)
        if not c:
            return
        kind, _, arg = (q.data or "").partition(":")
        if kind in ("off", "mute", "why"):
            await self.press_item(update, c, kind, arg)
        elif kind == "fb":
            await self.press_apply(update, c, arg)
        elif kind == "sub" and not await self.may_edit(update, c):
            await q.answer(t(c.lang, "admins_press"))
        elif kind == "sub":
            wl = self.find_wl(arg)
            if wl is None:
                await q.answer(t(c.lang, "unknown", name=arg, names=self.names_text())[:190])
                return
            subs = {s.watchlist for s in self.sink.outbox.subscriptions(c.chat.chat_id, c.thread)}
            text = self.unsubscribe(c, wl) if wl.name in subs else self.subscribe(c, wl)
            await q.answer(re.sub(r"<[^>]+>", "", html.unescape(text))[:190])
            try:
                await q.edit_message_reply_markup(reply_markup=self.keyboard(c))
            except TelegramError as e:          # "message is not modified" and the like
                log.debug("keyboard update failed: %s", e)
        else:
            await q.answer()

    async def on_error(self, update, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("error while handling an update: %s", context.error,
                  exc_info=context.error)

    async def edit_yaml(self, kind: str, action: str, name: str, text: str, lang: str | None):
        return await asyncio.to_thread(yamledit.edit, self.sink.settings.watchlists, name,
                                       kind=kind, action=action, text=text, lang=lang)


WHY_LINES = 12          # /why lists at most this many distinct matches, then counts the rest
WHY_CLIP = 80           # characters of a matched text or alias shown


def why_text(lang: str, no: int, item, wls: dict) -> str:
    """The /why answer: per watchlist, one line per distinct (alias, field, kind, text) with the
    matcher's evidence as it judges the item now, and what it did not count. At most WHY_LINES
    match lines, then "… and N more": a keyword-stuffed item stays one short message (well
    under Telegram's 4096 characters), whatever the number of hits."""
    lines = [t(lang, "why_head", n=no, title=clip(item.entry.title, 300))]
    shown = rest = 0
    for name in dict.fromkeys(h.watchlist for h in item.hits):
        label = wls[name].label(lang) if name in wls else name
        trace = Matcher([wls[name]]).explain(item.entry) if name in wls else None
        now = {(h.alias, h.field): h for h in trace.hits} if trace else {}
        # the decision as the watchlist stands now, in the item's own words; the stored hits
        # when the watchlist no longer matches the item
        current = bool(trace and trace.hits)
        src = trace.hits if current else [x for x in item.hits if x.watchlist == name]
        distinct: dict[tuple, list] = {}             # distinct match -> [first hit, count]
        for h in src:
            key = (h.alias, h.field, h.kind, fold(h.text))
            distinct.setdefault(key, [h, 0])[1] += 1
        for h, n in distinct.values():
            if shown >= WHY_LINES:
                rest += 1
                continue
            shown += 1
            cur = h if current else now.get((h.alias, h.field))
            line = t(lang, "why_line", watchlist=label, alias=clip(h.alias, WHY_CLIP),
                     text=clip(cur.text if cur else h.text, WHY_CLIP),
                     field=i18n.field_name(lang, h.field), kind=h.kind)
            lines.append(line + (f" ×{n}" if n > 1 else ""))
            for e in (cur.evidence if cur else ())[:4]:
                key = "why_for" if e.startswith("+") else "why_against"
                lines.append(t(lang, key, why=clip(e[2:], 200)))
        if shown < WHY_LINES:
            for alias, fld, text, why in (trace.rejected if trace else ())[:5]:
                lines.append(t(lang, "why_ignored", alias=clip(alias, WHY_CLIP),
                               text=clip(text, WHY_CLIP), why=clip(why, 200),
                               field=i18n.field_name(lang, fld)))
    if rest:
        lines.append(t(lang, "why_more", n=rest))
    out, size = [], 0
    for line in lines:                  # Telegram shows 4096 characters: whole lines only
        if size + len(line) > 3900:
            out.append("…")
            break
        out.append(line)
        size += len(line) + 1
    return "\n".join(out)
