"""Who may change a chat: in private chats the person; in groups and channels the chat's admins
(getChatMember, cached briefly), the bot's own admins (SOKUHO_ADMINS), and everyone when an admin
opened the settings with /settings members on."""
from __future__ import annotations

import logging
import time

from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError

log = logging.getLogger("bot.telegram.perms")
ADMIN_STATUSES = (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)
TTL = 60.0                    # seconds an answer of getChatMember is trusted
MAX_ENTRIES = 10_000          # a stranger's group cannot grow the cache without bound


class AdminCache:
    def __init__(self, ttl: float = TTL, clock=time.monotonic):
        self.ttl = ttl
        self.clock = clock
        self._seen: dict[tuple[int, int], tuple[bool, float]] = {}

    async def is_admin(self, bot, chat_id: int, user_id: int | None) -> bool:
        if user_id is None:
            return False
        key = (chat_id, user_id)
        now = self.clock()
        got = self._seen.get(key)
        if got is not None and got[1] > now:
            return got[0]
        try:
            member = await bot.get_chat_member(chat_id, user_id)
        except TelegramError as e:          # not cached: the next press asks again
            log.warning("getChatMember(%s, %s) failed: %s", chat_id, user_id, e.message)
            return False
        ok = member.status in ADMIN_STATUSES
        if len(self._seen) >= MAX_ENTRIES:
            self._seen = {k: v for k, v in self._seen.items() if v[1] > now}
            if len(self._seen) >= MAX_ENTRIES:
                self._seen.clear()
        self._seen[key] = (ok, now + self.ttl)
        return ok

    def forget(self, chat_id: int) -> None:
        for k in [k for k in self._seen if k[0] == chat_id]:
            del self._seen[k]
