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
import os
import random
import re
import time
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from aiohttp import web

try:  # the same TCP-reset helper as the feed server
    from tests.feedserver import _abort
    from tests.waiting import eventually
except ImportError:  # pragma: no cover (tests/ on sys.path: pytest, the benchmark)
    from feedserver import _abort
    from waiting import eventually

TOKEN = "123456:TEST-AAAAbbbbCCCCddddEEEEffffGGGGhhhh"
BOT_ID = 123456
BOT_USERNAME = "sokuho_test_bot"


# ---------------------------------------------------------------------------- Telegram's text rules
# The fake enforces Telegram's own limits with its own code (never the production renderer's):
# https://core.telegram.org/bots/api#formatting-options and #sendmessage (1-4096 characters
# after entities parsing, counted in UTF-16 code units as Telegram does).
MAX_TEXT = 4096
ALLOWED_TAGS = {   # tag -> allowed attributes (required ones checked below)
    "b": (), "strong": (), "i": (), "em": (), "u": (), "ins": (), "s": (), "strike": (),
    "del": (), "tg-spoiler": (), "span": ("class",), "a": ("href",), "code": ("class",),
    "pre": (), "blockquote": ("expandable",), "tg-emoji": ("emoji-id",)}
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPECIAL = re.compile(r"[<&]")
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\s+[A-Za-z-]+(?:\s*=\s*(?:\"[^\"<]*\"|'[^'<]*'"
                  r"|[^\s\"'<>=]+))?)*)\s*>")
_ATTR = re.compile(r"([A-Za-z-]+)(?:\s*=\s*(?:\"([^\"<]*)\"|'([^'<]*)'|([^\s\"'<>=]+)))?")
_ENTITY = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9A-Fa-f]{1,6})|([A-Za-z]+));")


def _units(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def _entity_error(attr_value: str) -> str | None:
    for m in re.finditer("&", attr_value):
        e = _ENTITY.match(attr_value, m.start())
        if e is None or (e.group(3) and e.group(3) not in NAMED_ENTITIES):
            return "Bad Request: can't parse entities: unsupported HTML entity"
    return None


def _parse_html(text: str) -> tuple[int, str | None]:
    """(visible length in UTF-16 units, error or None) of an HTML-mode message, one linear pass."""
    visible, pos, stack = 0, 0, []
    at = lambda i: len(text[:i].encode("utf-8"))         # noqa: E731 (byte offset, errors only)
    while True:
        m = _SPECIAL.search(text, pos)
        end = m.start() if m else len(text)
        visible += _units(text[pos:end])
        if m is None:
            break
        if text[end] == "&":
            e = _ENTITY.match(text, end)
            if e is None or (e.group(3) and e.group(3) not in NAMED_ENTITIES):
                return visible, ("Bad Request: can't parse entities: unsupported HTML entity "
                                 f"at byte offset {at(end)}" if e else
                                 "Bad Request: can't parse entities: character '&' is reserved "
                                 f"and must be escaped at byte offset {at(end)}")
            if e.group(3):
                ch = NAMED_ENTITIES[e.group(3)]
            else:
                code = int(e.group(1)) if e.group(1) else int(e.group(2), 16)
                if code > 0x10FFFF:
                    return visible, f"Bad Request: can't parse entities: bad entity at {at(end)}"
                ch = chr(code)
            visible += _units(ch)
            pos = e.end()
            continue
        t = _TAG.match(text, end)
        if t is None:
            return visible, ("Bad Request: can't parse entities: unexpected '<' (not a tag; "
                             f"escape it as &lt;) at byte offset {at(end)}")
        closing, name, attrs = t.group(1), t.group(2).lower(), t.group(3)
        if closing:
            if attrs.strip():
                return visible, f"Bad Request: can't parse entities: attributes in end tag " \
                                f"at byte offset {at(end)}"
            if not stack or stack[-1] != name:
                want = f'"</{stack[-1]}>"' if stack else "no end tag"
                return visible, (f"Bad Request: can't parse entities: unmatched end tag at "
                                 f'byte offset {at(end)}, expected {want}, found "</{name}>"')
            stack.pop()
        else:
            if name not in ALLOWED_TAGS:
                return visible, (f'Bad Request: can\'t parse entities: unsupported start tag "{name}" '
                                 f"at byte offset {at(end)}")
            found = {}
            for a in _ATTR.finditer(attrs):
                key = a.group(1).lower()
                if key not in ALLOWED_TAGS[name]:
                    return visible, (f'Bad Request: can\'t parse entities: unsupported attribute '
                                     f'"{key}" of tag "{name}" at byte offset {at(end)}')
                value = next((g for g in a.group(2, 3, 4) if g is not None), "")
                bad = _entity_error(value)
                if bad:
                    return visible, bad
                found[key] = value
            if name == "a" and not found.get("href"):
                return visible, "Bad Request: can't parse entities: <a> without href"
            if name == "span" and found.get("class") != "tg-spoiler":
                return visible, ('Bad Request: can\'t parse entities: tag "span" must have class '
                                 '"tg-spoiler"')
            if name == "tg-emoji" and not found.get("emoji-id", "").isdigit():
                return visible, "Bad Request: can't parse entities: tg-emoji without emoji-id"
            stack.append(name)
        pos = t.end()
    if stack:
        return visible, (f'Bad Request: can\'t parse entities: can\'t find end tag corresponding '
                         f'to start tag "{stack[-1]}"')
    return visible, None


def telegram_text_error(text, parse_mode) -> str | None:
    """The 400 description Telegram would answer for this message text, or None if it is valid."""
    if not isinstance(text, str) or not text.strip():
        return "Bad Request: message text is empty"
    mode = (parse_mode or "").lower()
    if mode == "html":
        n, bad = _parse_html(text)
        if bad:
            return bad
    elif mode:
        return f"Bad Request: unsupported parse_mode {parse_mode!r} (the fake knows HTML only)"
    else:
        n = _units(text)
    if n == 0:
        return "Bad Request: message text is empty"
    if n > MAX_TEXT:
        return "Bad Request: message is too long"
    return None


def visible_units(text: str, parse_mode=None) -> int:
    """Telegram's count of a message's characters (the fake's own parser, not production's)."""
    return _parse_html(text)[0] if (parse_mode or "").lower() == "html" else _units(text)


class BotAPIError(Exception):
    def __init__(self, description: str):
        super().__init__(description)
        self.description = description


@dataclass
class Call:
    """One answered API call: what the bot sent, when it arrived, and the answer it got."""
    method: str
    params: dict
    time: float                    # time.monotonic() when the request arrived
    status: int = 200              # 0: the connection was dropped without an answer
    result: object = None

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
    # a random delay (0..reply_delay s) before each answer is decided and again before it is
    # sent; `make test-stress` sets SOKUHO_FAKE_API_DELAY to shake out timing assumptions
    reply_delay: float = field(default_factory=lambda: float(
        os.environ.get("SOKUHO_FAKE_API_DELAY") or 0))
    rejected: list = field(default_factory=list)     # (method, params, description) 400s

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
        """Wait until pred() holds (bounded). Prefer waiting for the bot's own state (outbox
        rows, the store) over waiting for calls: a recorded call says nothing about whether the
        bot has processed its answer yet."""
        await eventually(pred, timeout, interval, what=lambda: "calls: " + str(
            [(c.method, c.chat_id, c.status) for c in self.calls[-15:]]))

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

    @staticmethod
    def _error(status: int, description: str, parameters: dict | None = None):
        body = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        return status, body, False

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
        """Answer one call. The call is recorded together with the answer it got, at the moment
        the answer is decided: a test that sees a call in `calls` knows its outcome, but NOT that
        the bot has processed the answer yet (that is not observable from here). Tests wait for
        the state they assert (an outbox row marked sent, a stored reply), never for a call."""
        method = request.match_info["method"]
        arrived = time.monotonic()
        params = await self._params(request)
        await self._jitter()
        status, body, drop = await self._answer(request, method, params)
        self.calls.append(Call(method, params, arrived, 0 if drop else status,
                               body.get("result") if body else None))
        await self._jitter()            # the answer reaches the bot a little later
        if drop:
            _abort(request)
            return web.Response(status=500)
        return web.json_response(body, status=status)

    async def _jitter(self) -> None:
        if self.reply_delay > 0:
            await asyncio.sleep(random.uniform(0, self.reply_delay))

    async def _answer(self, request, method: str, params: dict) -> tuple[int, dict | None, bool]:
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        f = self._take_failure(method, params.get("chat_id"))
        if f is not None:
            if f.drop:
                return 0, None, True
            return self._error(f.status, f.description, f.parameters)
        if method in ("sendMessage", "editMessageText"):
            bad = telegram_text_error(params.get("text"), params.get("parse_mode"))
            if bad:
                self.rejected.append((method, params, bad))
                return self._error(400, bad)
        if method == "sendMessage" and self.enforce_limits:
            if self._limited(params.get("chat_id")):
                self.provoked_429 += 1
                return self._error(429, "Too Many Requests: retry after 1", {"retry_after": 1})
        handler = getattr(self, f"m_{method}", None)
        if handler is None:
            return self._error(404, "Not Found: method not found")
        try:
            result = await handler(params)
        except BotAPIError as e:
            return self._error(400, e.description)
        if method == "sendMessage" and self.enforce_limits:
            self._account(params.get("chat_id"))
        return 200, {"ok": True, "result": result}, False

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
        raise BotAPIError(description)

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
            raise BotAPIError("Bad Request: chat not found")
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

    def __init__(self, tmp_path, api: FakeBotAPI, *, admins=(), allowed=(), watchlists=None,
                 metrics=None):
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
                                 backoff_base=0.2, metrics=metrics)
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

    # ---- waiting for the bot's own state (the outbox in the real store), never for calls
    def states(self, chat_id: int) -> list[str]:
        """Outbox row states of a chat, oldest first."""
        return [r.state for r in self.sink.outbox.rows(chat_id)]

    async def until(self, pred, timeout: float = 20.0, what=None):
        return await eventually(pred, timeout, what=what)

    async def settled(self, chat_id: int, timeout: float = 20.0) -> list[str]:
        """Wait until no row of the chat is queued or being sent (all sent, dead or waiting for
        a digest); returns the states."""
        def done():
            st = self.states(chat_id)
            return st if "queued" not in st and chat_id not in self.sink.sender.inflight else None
        await eventually(lambda: done() is not None, timeout,
                         what=lambda: f"chat {chat_id} rows: {self.states(chat_id)}")
        return self.states(chat_id)

    async def drain(self, timeout: float = 30.0) -> None:
        """Everything due is sent (the sender's own view); fails instead of timing out quietly."""
        assert await self.sink.drain(timeout), f"outbox not drained in {timeout}s: " \
            f"{[(r.chat_id, r.state, r.attempts) for r in self.sink.outbox.rows()][-10:]}"


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
