"""The one preamble of every chat command, as a decorator.

    class Handlers:
        @command(target=True, edit=True)          # may act on a channel; changes the chat
        async def cmd_mode(self, r: Req) -> None:
            await r.reply(...)

`command(...)` resolves the person's chat (allow-list, first contact registers the chat; a
refused chat has been answered and the handler is not called), splits the arguments, and then,
in this order:
- admin=True: bot admins only (settings.admins); others are told so;
- target=True: a trailing @channel / -100id argument makes a registered channel the chat acted
  upon (bot admins only), the argument is removed from r.args;
- edit=True: the person must be allowed to change the chat (Handlers.may_edit); otherwise they
  are told so. A handler whose change is conditional calls `await r.may_edit()` itself.
The handler gets one Req. Handlers are methods of Handlers (or its mixins): self.ctx,
self.replier, self.target and self.may_edit come from there.
"""
from __future__ import annotations

import functools
import shlex
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from telegram import Update

from bot.telegram.i18n import t


def split_args(text: str | None) -> list[str]:
    """Arguments after the command, honouring quotes ("Padrino López")."""
    rest = (text or "").split(maxsplit=1)
    rest = rest[1] if len(rest) > 1 else ""
    rest = rest.replace("\u201c", '"').replace("\u201d", '"')
    try:
        return shlex.split(rest)
    except ValueError:
        return rest.split()


@dataclass
class Req:
    """One command being handled."""
    handlers: Any                  # the Handlers instance
    update: Update
    c: Any                         # Ctx of the person's chat (replies go there, in its language)
    reply: Callable[..., Awaitable]
    args: list[str]
    tc: Any                        # Ctx of the chat acted upon: c, or a channel (target=True)

    @property
    def lang(self) -> str:
        return self.c.lang

    async def may_edit(self, *, admins_only: bool = False,
                       refusal: str = "admins_settings") -> bool:
        """May the person change the chat acted upon? If not, they are told (`refusal`)."""
        if self.tc.chat.chat_id != self.c.chat.chat_id:
            return True                # a channel: target() already required a bot admin
        if await self.handlers.may_edit(self.update, self.c, admins_only=admins_only):
            return True
        await self.reply(t(self.lang, refusal))
        return False


def command(*, admin: bool = False, target: bool = False, edit: bool = False):
    def wrap(fn: Callable[[Any, Req], Awaitable[None]]):
        @functools.wraps(fn)
        async def handler(self, update: Update, context=None) -> None:
            c = await self.ctx(update)
            if not c:
                return
            reply = self.replier(update)
            if admin and not c.is_admin:
                await reply(t(c.lang, "admins_only"))
                return
            args = split_args(update.effective_message.text)
            tc = c
            if target:
                got = await self.target(c, args, reply)
                if not got:
                    return
                tc, args = got
            r = Req(self, update, c, reply, args, tc)
            if edit and not await r.may_edit():
                return
            await fn(self, r)
        return handler
    return wrap
