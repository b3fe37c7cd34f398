"""Admin commands (users in settings.admins): /status, /alias, /exclude, /channel."""
from __future__ import annotations

import html
import logging
import re

from telegram.error import TelegramError

from bot.adapters.yamledit import EditError
from bot.core.render import fmt_time
from bot.telegram import timeutil
from bot.telegram.command import Req, command
from bot.telegram.i18n import t

log = logging.getLogger("bot.telegram.admin")


class AdminCommands:
    """Mixin of Handlers (uses ctx, replier, sink; commands use bot.telegram.command)."""

    @command(admin=True)
    async def cmd_status(self, r: Req) -> None:
        c = r.c
        store, tz = self.sink.store, c.chat.tz
        lines = [t(c.lang, "status_head")]
        try:
            feeds = store.feeds()
        except Exception as e:                     # noqa: BLE001 - report, don't crash
            feeds = []
            lines.append(f"feeds: error {html.escape(str(e))}")
        failing = [f for f in feeds if getattr(f, "error_count", 0)]
        lines.append(f"feeds: {len(feeds) - len(failing)} ok, {len(failing)} failing")
        for f in failing[:20]:
            when = fmt_time(f.last_error_at, tz, c.lang) if f.last_error_at else "?"
            lines.append(f"  ✗ {html.escape(f.name)} ({f.error_count}×, {when}): "
                         f"{html.escape((f.last_error or '')[:200])}")
        times = [x for f in feeds for x in (f.last_success_at, f.last_error_at) if x]
        if times:
            lines.append(f"last cycle: {fmt_time(max(times), tz, c.lang)}")
        ob = self.sink.outbox.counts()
        lines.append("outbox: " + ", ".join(f"{k} {v}" for k, v in sorted(ob.items())) or "empty")
        fb = self.sink.feedback.db.counts()
        lines.append("feedback: " + ", ".join(f"{k} {v}" for k, v in fb.items()) +
                     " (/feedback for suggestions)")
        try:
            counts = store.counts()
            lines.append("store: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        except Exception:                           # noqa: BLE001
            pass
        await r.reply("\n".join(lines))

    async def _edit(self, r: Req, kind: str) -> None:
        c, reply, args = r.c, r.reply, r.args
        usage = f'/{kind} add|remove WATCHLIST [lang] "text"'
        if len(args) < 3 or args[0] not in ("add", "remove"):
            await reply(t(c.lang, "usage", usage=usage))
            return
        action, name, rest = args[0], args[1], args[2:]
        lang = None
        # /alias add LIST es "text": a 2-3 letter word before the text is the language (the
        # watchlist validation rejects codes that are not languages); quote multi-word text.
        if kind == "alias" and len(rest) >= 2 and re.fullmatch(r"[A-Za-z]{2,3}", rest[0]):
            lang, rest = rest[0], rest[1:]
        text = " ".join(rest)
        try:
            res = await self.edit_yaml(kind, action, name, text, lang)
        except EditError as e:
            await reply(t(c.lang, "edit_err", error=str(e)))
            return
        except OSError as e:
            await reply(t(c.lang, "edit_err", error=f"{e.strerror or e}"))
            return
        log.info("admin %s: %s %s %r in %s", c.user_id, kind, res.action, res.text, res.path)
        what = kind if c.lang == "en" else ("別名" if kind == "alias" else "除外語")
        action_t = res.action if c.lang == "en" else ("追加しました" if action == "add"
                                                      else "削除しました")
        if kind == "alias" and res.lang:
            what += f" ({res.lang})"
        await reply(t(c.lang, "edit_ok", what=what, action=action_t, name=name,
                      file=res.path.name, text=res.text))

    @command(admin=True)
    async def cmd_alias(self, r: Req) -> None:
        await self._edit(r, "alias")

    @command(admin=True)
    async def cmd_exclude(self, r: Req) -> None:
        await self._edit(r, "exclude")

    @command(admin=True)
    async def cmd_channel(self, r: Req) -> None:
        c, reply, args, update = r.c, r.reply, r.args, r.update
        ob = self.sink.outbox
        if not args or args[0] == "list":
            chans = ob.channels()
            listing = ", ".join(f"{ch.title or ''} {('@' + ch.username) if ch.username else ch.chat_id}"
                                f"{'' if ch.active else ' (inactive)'}" for ch in chans) or "-"
            await reply(t(c.lang, "channels", list=listing))
            return
        if len(args) != 2 or args[0] not in ("add", "remove"):
            await reply(t(c.lang, "usage", usage="/channel add|remove @name|-100id"))
            return
        ref = args[1]
        chat_ref = ref if ref.startswith("@") else (int(ref) if ref.lstrip("-").isdigit() else None)
        if chat_ref is None:
            await reply(t(c.lang, "channel_bad", ref=ref, error="use @name or -100…"))
            return
        if args[0] == "remove":
            ch = ob.chat_by_username(ref) if ref.startswith("@") else ob.chat(chat_ref)
            if ch is None or ch.kind != "channel":
                await reply(t(c.lang, "channel_bad", ref=ref, error="not registered"))
                return
            ob.deactivate(ch.chat_id, f"removed by admin {c.user_id}")
            await reply(t(c.lang, "channel_removed", ref=ref))
            return
        try:
            info = await update.get_bot().get_chat(chat_ref)
        except TelegramError as e:
            await reply(t(c.lang, "channel_bad", ref=ref, error=e.message))
            return
        if info.type != "channel":
            await reply(t(c.lang, "channel_bad", ref=ref, error=f"it is a {info.type}, not a channel"))
            return
        now = self.sink.now()
        ob.ensure_chat(info.id, kind="channel", title=info.title, username=info.username,
                       lang=c.lang, now=now, owner_id=c.user_id,
                       next_digest_at=timeutil.next_digest(now, timeutil.DEFAULT_SCHEDULE,
                                                           timeutil.DEFAULT_TZ))
        ob.update_chat(info.id, owner_id=c.user_id)
        cref = f"@{info.username}" if info.username else str(info.id)
        await reply(t(c.lang, "channel_added", title=info.title or cref, ref=cref))
