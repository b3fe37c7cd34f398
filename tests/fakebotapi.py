"""A fake Telegram Bot API server for tests and the benchmark (aiohttp, 127.0.0.1, random port).

    api = FakeBotAPI(token); await api.start()      # or the `fake_api` fixture
    settings.telegram_api = api.root                # the bot calls {root}/bot{token}/METHOD
    api.message(chat_id=42, text="/start", lang="ja")          # inject an update
    api.callback(chat_id=42, data="sub:cuba", message_id=7)
    api.fail("sendMessage", chat_id=42, status=429, retry_after=2)   # next matching call fails
    api.fail("sendMessage", status=400, description="Bad Request: can't parse entities: ...")
    api.fail("sendMessage", drop=True)              # close the connection without an answer
    await api.wait_for(lambda: len(api.sent(42)) == 3)
    api.enforce_limits = True                       # 429 when Telegram's limits are violated

Group admins (getChatMember): `api.admins[chat_id] = {user ids}`; a group without an entry has
one admin, its creator, user 1000 (the default sender of group messages and presses).

Every call is recorded in `api.calls` (method, params, time, status). `api.sent(chat)` are the
sendMessage calls that succeeded (the messages a user would see).
"""
from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from aiohttp import web

try:  # the same TCP-reset helper as the feed server
    from tests.feedserver import _abort
except ImportError:  # pragma: no cover
    from feedserver import _abort

TOKEN = "123456:TEST-AAAAbbbbCCCCddddEEEEffffGGGGhhhh"
BOT_ID = 123456
BOT_USERNAME = "sokuho_test_bot"


@dataclass
class Call:
    method: str
    params: dict
    time: float
    status: int = 200

    @property
    def chat_id(self):
        return self.params.get("chat_id")

    @property
    def text(self) -> str:
        return self.params.get("text", "")


@dataclass
class Failure:
    method: str
    chat_id: int | None = None
    status: int = 500
    description: str = "Internal Server Error"
    parameters: dict | None = None
    drop: bool = False
    times: int = 1


@dataclass
class FakeBotAPI:
    token: str = TOKEN
    enforce_limits: bool = False
    max_poll_wait: float = 1.0
    calls: list[Call] = field(default_factory=list)
    chats: dict = field(default_factory=dict)        # id -> chat dict (type, title, username)
    admins: dict = field(default_factory=dict)       # chat id -> set of admin user ids
    provoked_429: int = 0

    def __post_init__(self):
        self._updates: list[dict] = []
        self._update_ids = itertools.count(1)
        self._msg_ids: dict = {}
        self._failures: list[Failure] = []
        self._new_update = asyncio.Event()
        self._last: dict = {}
        self._group: dict = {}
        self._global: deque = deque()
        self._runner = None
        self.port = None
        self.texts: dict = {}        # (chat_id, message_id) -> the text as the user sees it now
        self.edits: list[dict] = []  # successful editMessageText calls on bot messages

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> "FakeBotAPI":
        app = web.Application(client_max_size=20 * 2**20)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------ test API
    def fail(self, method: str, *, chat_id: int | None = None, status: int = 500,
             description: str | None = None, retry_after: int | None = None,
             migrate_to: int | None = None, drop: bool = False, times: int = 1) -> None:
        params = {}
        if retry_after is not None:
            status, params["retry_after"] = 429, retry_after
            description = description or f"Too Many Requests: retry after {retry_after}"
        if migrate_to is not None:
            status, params["migrate_to_chat_id"] = 400, migrate_to
            description = description or "Bad Request: group chat was upgraded to a supergroup chat"
        desc = description or {403: "Forbidden: bot was blocked by the user",
                               400: "Bad Request: chat not found"}.get(status,
                                                                       "Internal Server Error")
        self._failures.append(Failure(method, chat_id, status, desc, params or None, drop, times))

    def chat(self, chat_id: int, type: str | None = None, **kw) -> dict:
        if chat_id not in self.chats:
            t = type or ("private" if chat_id > 0 else
                         "supergroup" if str(chat_id).startswith("-100") else "group")
            c = {"id": chat_id, "type": t}
            if t == "private":
                c["first_name"] = kw.pop("first_name", f"User{chat_id}")
            else:
                c["title"] = kw.pop("title", f"Chat {chat_id}")
            c.update(kw)
            self.chats[chat_id] = c
        return self.chats[chat_id]

    def _user(self, user_id: int, lang: str | None) -> dict:
        u = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
        if lang:
            u["language_code"] = lang
        return u

    def message(self, chat_id: int, text: str, *, user_id: int | None = None,
                lang: str | None = "en", thread_id: int | None = None,
                chat_type: str | None = None) -> dict:
        chat = self.chat(chat_id, chat_type)
        msg = {"message_id": self._next_msg(chat_id), "date": int(time.time()), "chat": chat,
               "from": self._user(user_id or (chat_id if chat_id > 0 else 1000), lang),
               "text": text}
        if text.startswith("/"):
            msg["entities"] = [{"type": "bot_command", "offset": 0,
                                "length": len(text.split()[0])}]
        if thread_id:
            msg["message_thread_id"] = thread_id
            msg["is_topic_message"] = True
        return self._push({"message": msg})

    def callback(self, chat_id: int, data: str, *, message_id: int = 1,
                 user_id: int | None = None, lang: str | None = "en",
                 thread_id: int | None = None) -> dict:
        chat = self.chat(chat_id)
        m = {"message_id": message_id, "date": int(time.time()), "chat": chat, "text": "menu",
             "from": {"id": BOT_ID, "is_bot": True, "first_name": "sokuho",
                      "username": BOT_USERNAME}}
        if thread_id:
            m["message_thread_id"] = thread_id
            m["is_topic_message"] = True
        cq = {"id": f"cb{next(self._update_ids)}", "chat_instance": "ci", "data": data,
              "from": self._user(user_id or (chat_id if chat_id > 0 else 1000), lang),
              "message": m}
        return self._push({"callback_query": cq})

    def _push(self, body: dict) -> dict:
        u = {"update_id": next(self._update_ids), **body}
        self._updates.append(u)
        self._new_update.set()
        return u

    def calls_of(self, method: str, chat_id: int | None = None) -> list[Call]:
        return [c for c in self.calls if c.method == method
                and (chat_id is None or c.chat_id == chat_id)]

    def sent(self, chat_id: int | None = None) -> list[Call]:
        """Successful sendMessage calls (to a chat)."""
        return [c for c in self.calls_of("sendMessage", chat_id) if c.status == 200]

    async def wait_for(self, pred, timeout: float = 10.0, interval: float = 0.02) -> None:
        end = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > end:
                raise AssertionError(f"condition not met within {timeout}s; calls: "
                                     f"{[(c.method, c.chat_id, c.status) for c in self.calls[-15:]]}")
            await asyncio.sleep(interval)

    async def reply_to(self, chat_id: int, text: str, timeout: float = 10.0, **kw) -> Call:
        """Inject a message and wait for the bot's next successful sendMessage to that chat."""
        before = len(self.sent(chat_id))
        self.message(chat_id, text, **kw)
        await self.wait_for(lambda: len(self.sent(chat_id)) > before, timeout)
        return self.sent(chat_id)[before]

    # ------------------------------------------------------------ server
    def _next_msg(self, chat_id) -> int:
        self._msg_ids[chat_id] = self._msg_ids.get(chat_id, 0) + 1
        return self._msg_ids[chat_id]

    async def _params(self, request: web.Request) -> dict:
        params: dict = dict(request.query)
        ctype = request.content_type or ""
        if request.can_read_body:
            if ctype == "application/json":
                params.update(await request.json())
            elif ctype.startswith("multipart/"):
                post = await request.post()
                params.update({k: v for k, v in post.items() if isinstance(v, str)})
            else:
                raw = (await request.read()).decode("utf-8")
                params.update(dict(parse_qsl(raw, keep_blank_values=True)))
        out = {}
        for k, v in params.items():
            if isinstance(v, str) and v[:1] in "{[" :
                try:
                    v = json.loads(v)
                except ValueError:
                    pass
            elif isinstance(v, str) and v.lstrip("-").isdigit() and k in (
                    "chat_id", "message_thread_id", "message_id", "offset", "timeout", "limit"):
                v = int(v)
            out[k] = v
        return out

    def _error(self, status: int, description: str, parameters: dict | None = None):
        body = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=status)

    def _take_failure(self, method: str, chat_id) -> Failure | None:
        for f in self._failures:
            if f.method == method and (f.chat_id is None or f.chat_id == chat_id):
                f.times -= 1
                if f.times <= 0:
                    self._failures.remove(f)
                return f
        return None

    def _limited(self, chat_id) -> bool:
        now = time.monotonic()
        last = self._last.get(chat_id)
        bad = last is not None and now - last < 0.95
        if isinstance(chat_id, int) and chat_id < 0:
            dq = self._group.setdefault(chat_id, deque())
            while dq and dq[0] <= now - 60:
                dq.popleft()
            bad = bad or len(dq) >= 20
        while self._global and self._global[0] <= now - 1.0:
            self._global.popleft()
        bad = bad or len(self._global) >= 30
        return bad

    def _account(self, chat_id) -> None:
        now = time.monotonic()
        self._last[chat_id] = now
        if isinstance(chat_id, int) and chat_id < 0:
            self._group.setdefault(chat_id, deque()).append(now)
        self._global.append(now)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params = await self._params(request)
        call = Call(method, params, time.monotonic())
        self.calls.append(call)
        if request.match_info["token"] != self.token:
            call.status = 401
            return self._error(401, "Unauthorized")
        f = self._take_failure(method, params.get("chat_id"))
        if f is not None:
            call.status = 0 if f.drop else f.status
            if f.drop:
                _abort(request)
                return web.Response(status=500)
            return self._error(f.status, f.description, f.parameters)
        if method == "sendMessage" and self.enforce_limits:
            if self._limited(params.get("chat_id")):
                self.provoked_429 += 1
                call.status = 429
                return self._error(429, "Too Many Requests: retry after 1", {"retry_after": 1})
        handler = getattr(self, f"m_{method}", None)
        if handler is None:
            call.status = 404
            return self._error(404, "Not Found: method not found")
        result = await handler(params)
        if method == "sendMessage" and self.enforce_limits:
            self._account(params.get("chat_id"))
        return web.json_response({"ok": True, "result": result})

    # ------------------------------------------------------------ methods
    async def m_getMe(self, p):
        return {"id": BOT_ID, "is_bot": True, "first_name": "sokuho", "username": BOT_USERNAME,
                "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False}

    async def m_getUpdates(self, p):
        offset = int(p.get("offset") or 0)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        timeout = min(float(p.get("timeout") or 0), self.max_poll_wait)
        if not self._updates and timeout > 0:
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(), timeout)
            except asyncio.TimeoutError:
                pass
        return list(self._updates[: int(p.get("limit") or 100)])

    async def m_sendMessage(self, p):
        chat_id = p["chat_id"]
        chat = self.chats.get(chat_id) or self.chat(chat_id) if isinstance(chat_id, int) else \
            {"id": -1001, "type": "channel", "title": str(chat_id)}
        msg = {"message_id": self._next_msg(chat_id), "date": int(time.time()), "chat": chat,
               "text": p.get("text", "")}
        self.texts[(chat_id, msg["message_id"])] = msg["text"]
        if p.get("message_thread_id"):
            msg["message_thread_id"] = p["message_thread_id"]
            msg["is_topic_message"] = True
        return msg

    async def m_editMessageText(self, p):
        """Bot messages: edits the text the user sees (errors as Telegram answers them);
        inline messages: True."""
        if "inline_message_id" in p:
            return True
        key = (p.get("chat_id"), int(p.get("message_id") or 0))
        if key not in self.texts:
            return self._bad("Bad Request: message to edit not found")
        if self.texts[key] == p.get("text", ""):
            return self._bad("Bad Request: message is not modified: specified new message "
                             "content and reply markup are exactly the same")
        self.texts[key] = p.get("text", "")
        self.edits.append(p)
        return {"message_id": key[1], "date": int(time.time()), "edit_date": int(time.time()),
                "chat": self.chats.get(key[0]) or {"id": key[0], "type": "private"},
                "text": self.texts[key]}

    @staticmethod
    def _bad(description: str):
        raise web.HTTPBadRequest(text=json.dumps(
            {"ok": False, "error_code": 400, "description": description}),
            content_type="application/json")

    async def m_editMessageReplyMarkup(self, p):
        return True

    async def m_answerCallbackQuery(self, p):
        return True

    async def m_setMyCommands(self, p):
        return True

    async def m_deleteWebhook(self, p):
        return True

    async def m_close(self, p):
        return True

    async def m_logOut(self, p):
        return True

    async def m_getChatMember(self, p):
        chat_id, user_id = int(p["chat_id"]), int(p["user_id"])
        admins = self.admins.get(chat_id)
        if admins is None:
            status = "creator" if user_id == 1000 else "member"
        else:
            status = "administrator" if user_id in admins else "member"
        user = self._user(user_id, None)
        if status == "member":
            return {"status": "member", "user": user}
        if status == "creator":
            return {"status": "creator", "user": user, "is_anonymous": False}
        rights = ("can_be_edited", "can_manage_chat", "can_delete_messages",
                  "can_manage_video_chats", "can_restrict_members", "can_promote_members",
                  "can_change_info", "can_invite_users", "can_post_stories", "can_edit_stories",
                  "can_delete_stories")
        return {"status": "administrator", "user": user, "is_anonymous": False,
                **{r: r != "can_be_edited" for r in rights}}

    async def m_getChat(self, p):
        ref = p.get("chat_id")
        chat = None
        if isinstance(ref, str) and ref.startswith("@"):
            chat = next((c for c in self.chats.values()
                         if c.get("username", "").lower() == ref[1:].lower()), None)
        elif ref in self.chats:
            chat = self.chats[ref]
        if chat is None:
            raise web.HTTPBadRequest(text=json.dumps(
                {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}),
                content_type="application/json")
        return {**chat, "accent_color_id": 0, "max_reaction_count": 11,
                "accepted_gift_types": {"unlimited_gifts": False, "limited_gifts": False,
                                        "unique_gifts": False, "premium_subscription": False,
                                        "gifts_from_channels": False}}




# ---------------------------------------------------------------------------- test harness
WATCHLISTS = {
    "venezuela": {"name": "venezuela", "title": {"en": "Venezuela", "ja": "ベネズエラ"},
                  "aliases": {"en": ["Venezuela", "Maduro"], "es": ["Padrino López"]}},
    "cuba": {"name": "cuba", "title": {"en": "Cuba", "ja": "キューバ"},
             "aliases": {"en": ["Cuba", "Havana"]}},
    "greenland": {"name": "greenland", "title": {"en": "Greenland", "ja": "グリーンランド"},
                  "urgent": True, "aliases": {"en": ["Greenland"], "ja": ["グリーンランド"]}},
}


class Harness:
    """A real Store in tmp_path + TelegramSink talking to a FakeBotAPI, with an injected clock."""

    def __init__(self, tmp_path, api: FakeBotAPI, *, admins=(), allowed=(), watchlists=None):
        from datetime import datetime, timezone

        from bot.adapters.store import Store
        from bot.core.watchlist import Watchlist
        from bot.settings import Settings
        from bot.telegram.pacing import Pacer
        from bot.telegram.sink import TelegramSink

        self.api = api
        self.tmp = tmp_path
        self.now = datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc)   # 12:00 Asia/Tokyo
        self.store = Store.open(tmp_path / "state" / "sokuho.db")
        self.settings = Settings.from_env({"TELEGRAM_BOT_TOKEN": api.token})
        self.settings.telegram_api = api.root
        self.settings.admins = tuple(admins)
        self.settings.allowed_chats = tuple(allowed)
        self.settings.watchlists = tmp_path / "watchlists"
        self.wl = {k: Watchlist.model_validate(v)
                   for k, v in (watchlists or WATCHLISTS).items()}
        # fast pacing for tests (the benchmark uses real limits)
        self.sink = TelegramSink(self.settings, self.store, lambda: self.wl,
                                 clock=lambda: self.now, poll_timeout=1,
                                 pacer=Pacer(per_chat=0.0, group_per_min=1000,
                                             global_per_sec=1000),
                                 backoff_base=0.2)
        self._n = 0

    async def start(self):
        await self.sink.start()
        return self

    async def stop(self):
        await self.sink.stop()
        self.store.close()

    def items(self, *specs, fetched_at=None):
        """specs: (title, watchlist[, feed[, minutes_ago]]) -> stored items (saved in the store)."""
        from datetime import timedelta

        from bot.core.model import Entry, Hit, Processed
        batch = []
        for spec in specs:
            title, wl = spec[0], spec[1]
            feed = spec[2] if len(spec) > 2 else "Reuters"
            ago = spec[3] if len(spec) > 3 else 0
            self._n += 1
            guid = f"https://news.example/{self._n}"
            e = Entry(id=guid, feed=feed, title=title, link=guid + "?a=1&b=2",
                      summary=f"summary of {title}", lang="en",
                      published=self.now - timedelta(minutes=ago))
            batch.append(Processed(e, [Hit(wl, wl.capitalize(), "title", wl, "exact")]))
        return self.store.save_processed(batch, fetched_at=fetched_at or self.now)

    async def subscribe(self, chat_id, name, **kw):
        return await self.api.reply_to(chat_id, f"/subscribe {name}", **kw)


async def started_harness(tmp_path, **kw):
    api = await FakeBotAPI().start()
    h = Harness(tmp_path, api, **kw)
    await h.start()
    return h


try:
    import pytest_asyncio

    @pytest_asyncio.fixture
    async def fake_api():
        api = await FakeBotAPI().start()
        try:
            yield api
        finally:
            await api.close()

    @pytest_asyncio.fixture
    async def tg(tmp_path):
        """A started Harness (no admins, no allow-list); stopped after the test."""
        h = await started_harness(tmp_path, admins=(777,))
        try:
            yield h
        finally:
            await h.stop()
            await h.api.close()
except ImportError:        # the benchmark runs without pytest
    pass
