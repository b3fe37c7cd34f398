"""Reader feedback in the chat (mixin of Handlers): the 👎/🔇/❓ buttons under alerts, /off N,
/mutestory N [3d], /filters [remove N], /settings members on|off, and for the bot's admins
/feedback (suggested watchlist edits, applied with a tap)."""
from __future__ import annotations

import asyncio
import html
import logging
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError

from bot.adapters.yamledit import EditError
from bot.core.render import fmt_time
from bot.core.watchlist import parse_duration
from bot.telegram import feedback as fbmod
from bot.telegram.command import Req, command
from bot.telegram.i18n import edit_name, t

log = logging.getLogger("bot.telegram.feedback_cmds")


def item_no(arg: str | None) -> int | None:
    """An item number from a command argument or callback data ("12", "#12"); None otherwise."""
    arg = (arg or "").lstrip("#")
    return int(arg) if arg.isdigit() and len(arg) <= 9 else None


def toast(text: str) -> str:
    """An HTML message as a callback toast (plain text, at most 200 characters)."""
    plain = html.unescape(re.sub(r"<[^>]+>", "", text))
    return plain if len(plain) <= 200 else plain[:199] + "…"


class FeedbackCommands:
    """Uses ctx, replier, may_edit, sink (see handlers.Handlers)."""

    # ------------------------------------------------------------ acting on item N
    def _offtopic(self, c, no: int, user_id) -> str:
        row = self.sink.outbox.by_no(c.chat.chat_id, no)
        if row is None:
            return t(c.lang, "item_none", n=no)
        out = self.sink.feedback.offtopic(c.chat.chat_id, row, user_id)
        if out is None:
            return t(c.lang, "why_gone", n=no)
        if not out.recorded:
            return t(c.lang, "off_again", n=no)
        if out.filter is not None:
            return t(c.lang, "off_filter", n=no, alias=out.filter.subject,
                     words=", ".join(out.filter.words))
        return t(c.lang, "off_more", n=no)

    def _mute(self, c, no: int, seconds: float, user_id) -> str:
        row = self.sink.outbox.by_no(c.chat.chat_id, no)
        if row is None:
            return t(c.lang, "item_none", n=no)
        out = self.sink.feedback.mute(c.chat.chat_id, row, seconds, user_id)
        if out is None:
            return t(c.lang, "why_gone", n=no)
        return t(c.lang, "mute_done", n=no, until=fmt_time(out.filter.until, c.chat.tz, c.lang))

    async def _item_cmd(self, r: Req, usage: str, act) -> None:
        c, reply, args = r.c, r.reply, r.args
        no = item_no(args[0]) if args else None
        if no is None:
            await reply(t(c.lang, "usage", usage=usage))
            return
        if not await r.may_edit(refusal="admins_press"):
            return
        try:
            text = await asyncio.to_thread(act, c, no, args[1:])
        except ValueError as e:
            text = t(c.lang, "bad_value", error=str(e))
        await reply(text)

    @command()
    async def cmd_off(self, r: Req) -> None:
        await self._item_cmd(r, "/off N",
                             lambda c, no, _a: self._offtopic(c, no, c.user_id))

    @command()
    async def cmd_mutestory(self, r: Req) -> None:
        def act(c, no, rest):
            secs = parse_duration(rest[0]) if rest else fbmod.MUTE_DEFAULT
            if secs > fbmod.MUTE_MAX:
                raise ValueError("at most 30d")
            return self._mute(c, no, secs, c.user_id)
        await self._item_cmd(r, "/mutestory N [3d]", act)

    # ------------------------------------------------------------ /filters
    def filters_text(self, c) -> str:
        rows = self.sink.feedback.db.filters(c.chat.chat_id, now=self.sink.now())
        if not rows:
            return t(c.lang, "filters_none")
        wls = self.watchlists()
        lines = [t(c.lang, "filters_head")]
        for f in rows:
            label = wls[f.watchlist].label(c.lang) if f.watchlist in wls else f.watchlist
            if f.kind == "story":
                lines.append(t(c.lang, "filter_story", id=f.id, title=(f.label or "")[:120],
                               held=f.held, until=fmt_time(f.until, c.chat.tz, c.lang)))
            else:
                lines.append(t(c.lang, "filter_words", id=f.id, watchlist=label, alias=f.subject,
                               words=", ".join(f.words), marks=f.marks, held=f.held))
        return "\n".join(lines)

    @command()
    async def cmd_filters(self, r: Req) -> None:
        c, reply, args = r.c, r.reply, r.args
        if not args:
            await reply(self.filters_text(c))
            return
        fid = item_no(args[1]) if len(args) == 2 else None
        if fid is None or args[0] not in ("remove", "rm", "del"):
            await reply(t(c.lang, "usage", usage="/filters [remove N]"))
            return
        if not await r.may_edit():
            return
        f, n = self.sink.feedback.db.remove_filter(c.chat.chat_id, fid, self.sink.now())
        if f is None:
            await reply(t(c.lang, "filter_unknown", id=fid))
            return
        log.info("chat %s: filter %s removed by %s (%d held item(s) released)",
                 c.chat.chat_id, fid, c.user_id, n)
        await reply(t(c.lang, "filter_removed", id=fid, n=n))

    # ------------------------------------------------------------ /settings
    @command()
    async def cmd_settings(self, r: Req) -> None:
        c, reply = r.c, r.reply
        args = [a.lower() for a in r.args]
        db = self.sink.feedback.db

        def state(on: bool) -> str:
            return t(c.lang, "on") if on else t(c.lang, "off_word")
        if not args:
            await reply(t(c.lang, "settings_show", members=state(db.members_edit(c.chat.chat_id))))
            return
        if len(args) != 2 or args[0] != "members" or args[1] not in ("on", "off"):
            await reply(t(c.lang, "usage", usage="/settings members on|off"))
            return
        # opening or closing the settings is for admins only, whatever the current setting
        if not await r.may_edit(admins_only=True):
            return
        db.set_members_edit(c.chat.chat_id, args[1] == "on")
        await reply(t(c.lang, "settings_members", members=state(args[1] == "on")))

    # ------------------------------------------------------------ buttons
    async def press_item(self, update: Update, c, kind: str, arg: str) -> None:
        q = update.callback_query
        no = item_no(arg)
        if no is None:
            await q.answer()
            return
        if kind == "why":
            await q.answer()
            await update.get_bot().send_message(
                c.chat.chat_id, self.explain(c, no), parse_mode="HTML",
                message_thread_id=c.thread or None)
            return
        if not await self.may_edit(update, c):
            await q.answer(t(c.lang, "admins_press"), show_alert=False)
            return
        # learning reads the chat's recent items: off the event loop
        if kind == "off":
            text = await asyncio.to_thread(self._offtopic, c, no, c.user_id)
        else:
            text = await asyncio.to_thread(self._mute, c, no, fbmod.MUTE_DEFAULT, c.user_id)
        await q.answer(toast(text))
        done = frozenset(k for k, m in (("off", "offtopic"), ("mute", "mute"))
                         if self._marked(c.chat.chat_id, no, m))
        try:
            from bot.telegram.i18n import alert_keyboard
            await q.edit_message_reply_markup(reply_markup=alert_keyboard(c.lang, no, done))
        except TelegramError as e:              # "message is not modified" and the like
            log.debug("keyboard update failed: %s", e)

    def _marked(self, chat_id: int, no: int, kind: str) -> bool:
        row = self.sink.outbox.by_no(chat_id, no)
        return bool(row) and any(m.guid == row.guid
                                 for m in self.sink.feedback.db.marks(chat_id=chat_id, kind=kind))

    # ------------------------------------------------------------ admins: suggestions
    @command(admin=True)
    async def cmd_feedback(self, r: Req) -> None:
        text, markup = await asyncio.to_thread(self.sink.feedback_report, r.lang)
        await r.reply(text, reply_markup=markup)

    async def press_apply(self, update: Update, c, arg: str) -> None:
        q = update.callback_query
        if not c.is_admin:
            await q.answer(t(c.lang, "admins_only"))
            return
        sid = item_no(arg)
        if sid is None:
            await q.answer()
            return
        try:
            res = await asyncio.to_thread(self.sink.apply_suggestion, sid, c.user_id)
        except EditError as e:
            await q.answer(toast(t(c.lang, "edit_err", error=str(e))), show_alert=True)
            return
        except OSError as e:
            await q.answer(toast(t(c.lang, "edit_err", error=f"{e.strerror or e}")),
                           show_alert=True)
            return
        if res is None:
            await q.answer(t(c.lang, "fb_already", id=arg))
            return
        edit, sug = res
        text = t(c.lang, "fb_applied", name=edit.watchlist, file=edit.path.name,
                 what=html.unescape(edit_name(c.lang, sug.kind, sug.text, sug.alias)))
        await q.answer(toast(text))
        await update.get_bot().send_message(c.chat.chat_id, text, parse_mode="HTML")


def apply_buttons(lang: str, ids: list[int]) -> InlineKeyboardMarkup | None:
    if not ids:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(t(lang, "fb_apply_btn", n=i + 1),
                                                       callback_data=f"fb:{sid}")
                                  for i, sid in enumerate(ids[j:j + 3], j)]
                                 for j in range(0, len(ids), 3)])
