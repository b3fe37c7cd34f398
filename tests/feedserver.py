"""A programmable local HTTP server for feed tests and benchmarks (127.0.0.1, random port).

    server = FeedServer(); await server.start()          # or use the `feed_server` fixture
    url = server.route("/feed.xml", body=make_rss([...]), etag='"v1"')
    server.route("/slow", body=b"...", delay=5)          # 5 s before the headers
    server.route("/drip", body=b"x" * 100, drip=0.5, chunk_size=10)   # slow trickle
    server.route("/reset", reset="before_headers")       # or reset="mid_body"
    server.route("/bomb", endless=True)                  # never-ending chunked body
    server.route("/gz", body=xml, gzip=True)             # Content-Encoding: gzip
    server.route("/a", redirect="/b"); server.route("/b", redirect="/a")   # loop
    server.route("/busy", status=429, headers={"Retry-After": "120"})
    urls = server.add_many(200, items=50, latency=0.05)  # benchmark feeds /many/<i>.xml
    server.requests_for("/feed.xml")[-1].headers["If-None-Match"]
    await server.close()

Every request is recorded (path, method, headers) in `server.requests`; `server.max_active`
is the highest number of requests handled at once. A route with
`etag` and/or `last_modified` answers 304 when the request's If-None-Match / If-Modified-Since
match them exactly. `body` may be bytes, str (UTF-8 encoded) or a callable(request) -> bytes.
Unknown paths get 404.
"""
from __future__ import annotations

import asyncio
import gzip as gzip_mod
import socket
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from xml.sax.saxutils import escape

from aiohttp import web

__all__ = ["FeedServer", "Route", "Recorded", "make_rss", "make_atom", "gzip_bomb"]


@dataclass
class Route:
    body: bytes | str | Callable[[web.Request], bytes] = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = "application/rss+xml; charset=utf-8"
    delay: float = 0.0            # seconds before sending the status line and headers
    drip: float = 0.0             # seconds between body chunks (slow server)
    chunk_size: int = 16 * 1024
    reset: str | None = None      # "before_headers" | "mid_body": abort the TCP connection (RST)
    gzip: bool = False            # gzip-encode the body (sets Content-Encoding: gzip)
    precompressed: bool = False   # body is already gzip data (e.g. gzip_bomb()): sent as is
    endless: bool = False         # stream `body` (or filler) forever, chunked, no Content-Length
    content_length: int | None = None   # lie about Content-Length (to test up-front checks)
    redirect: str | None = None   # path or URL for a 302 Location
    etag: str | None = None
    last_modified: str | None = None
    hits: int = 0


@dataclass
class Recorded:
    path: str
    method: str
    headers: dict[str, str]       # as sent (case-insensitive lookups via .get on original keys)

    def header(self, name: str) -> str | None:
        low = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == low), None)


class FeedServer:
    def __init__(self, host: str = "127.0.0.1"):
        self.host = host
        self.port: int | None = None
        self.routes: dict[str, Route] = {}
        self.requests: list[Recorded] = []
        self.active = 0            # requests being handled right now
        self.max_active = 0        # high-water mark of `active` (concurrency-limit tests)
        self._gate: int = 0        # see hold_until_active()
        self._gate_open = asyncio.Event()
        self._runner: web.AppRunner | None = None

    # ----------------------------------------------------------------- lifecycle
    async def start(self) -> "FeedServer":
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> "FeedServer":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.close()

    # ----------------------------------------------------------------- programming
    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def route(self, path: str, **kw) -> str:
        """Program `path` (see Route for keywords); returns its absolute URL."""
        self.routes[path] = Route(**kw)
        return self.url(path)

    def add_many(self, n: int, *, items: int = 50, latency: float = 0.0, prefix: str = "/many/",
                 **route_kw) -> list[str]:
        """Add `n` synthetic RSS feeds of `items` entries each, answering after `latency` s."""
        urls = []
        for i in range(n):
            body = make_rss([{"title": f"Feed {i} item {j}: news about topic {j % 17}",
                              "link": f"https://example.org/{i}/{j}", "guid": f"f{i}-{j}",
                              "description": f"<p>Body of item {j} of feed {i}.</p>"}
                             for j in range(items)], title=f"Feed {i}")
            urls.append(self.route(f"{prefix}{i}.xml", body=body, delay=latency, **route_kw))
        return urls

    def hold_until_active(self, n: int) -> None:
        """Concurrency tests: hold every request until `n` are being handled at once (then all
        proceed), so reaching a client's limit does not depend on timing; a client that never
        allows `n` at once makes its requests wait (the test then times out, not passes)."""
        self._gate = n
        self._gate_open.clear()

    def requests_for(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    # ----------------------------------------------------------------- handler
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(Recorded(request.path, request.method, dict(request.headers)))
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            if self._gate:
                if self.active >= self._gate:
                    self._gate_open.set()
                await asyncio.wait_for(self._gate_open.wait(), 30)
            return await self._respond(request)
        finally:
            self.active -= 1

    async def _respond(self, request: web.Request) -> web.StreamResponse:
        route = self.routes.get(request.path)
        if route is None:
            return web.Response(status=404, text="no such route")
        route.hits += 1
        if route.delay:
            await asyncio.sleep(route.delay)
        if route.reset == "before_headers":
            _abort(request)
            return web.Response(status=500)  # never reaches the client: transport is gone
        if route.redirect:
            loc = route.redirect if "://" in route.redirect else self.url(route.redirect)
            return web.Response(status=302, headers={"Location": loc, **route.headers})
        headers = dict(route.headers)
        if route.etag:
            headers["ETag"] = route.etag
        if route.last_modified:
            headers["Last-Modified"] = route.last_modified
        if _not_modified(route, request):
            return web.Response(status=304, headers=headers)
        body = route.body(request) if callable(route.body) else route.body
        body = body.encode("utf-8") if isinstance(body, str) else body
        if route.content_type and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = route.content_type
        if route.gzip or route.precompressed:
            body = body if route.precompressed else gzip_mod.compress(body)
            headers["Content-Encoding"] = "gzip"
        if route.endless:
            return await self._stream_forever(request, route, headers, body or b"<x/>" * 4096)
        if route.content_length is not None:
            headers["Content-Length"] = str(route.content_length)
        elif route.reset != "mid_body":
            headers["Content-Length"] = str(len(body))
        if not (route.drip or route.reset == "mid_body" or route.content_length is not None):
            return web.Response(status=route.status, body=body, headers=headers)
        resp = web.StreamResponse(status=route.status, headers=headers)
        await resp.prepare(request)
        if route.reset == "mid_body":
            await resp.write(body[: max(1, len(body) // 2)])
            await asyncio.sleep(0.05)
            _abort(request)
            return resp
        try:
            for i in range(0, len(body), route.chunk_size):
                await resp.write(body[i:i + route.chunk_size])
                if route.drip:
                    await asyncio.sleep(route.drip)
            await resp.write_eof()
        except ConnectionError:   # the client gave up (timeout test): fine
            pass
        return resp

    async def _stream_forever(self, request, route: Route, headers, chunk: bytes):
        headers.pop("Content-Length", None)
        resp = web.StreamResponse(status=route.status, headers=headers)
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        try:
            while True:
                await resp.write(chunk)
                if route.drip:
                    await asyncio.sleep(route.drip)
        except (ConnectionError, RuntimeError):   # client went away: that is the point
            pass
        return resp


def _abort(request: web.Request) -> None:
    """Close the connection with a TCP RST (SO_LINGER 0), not a polite FIN."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    transport.abort()


def _not_modified(route: Route, request: web.Request) -> bool:
    if not (route.etag or route.last_modified):
        return False
    inm = request.headers.get("If-None-Match")
    ims = request.headers.get("If-Modified-Since")
    if inm is None and ims is None:
        return False
    if inm is not None and (not route.etag or route.etag not in [t.strip() for t in inm.split(",")]):
        return False
    if ims is not None and inm is None and ims != route.last_modified:
        return False
    return True


def gzip_bomb(decompressed_size: int, chunk: int = 2**20) -> bytes:
    """A small gzip stream that inflates to `decompressed_size` zero bytes."""
    co = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(chunk)
    parts = [co.compress(zeros) for _ in range(decompressed_size // chunk)]
    parts.append(co.compress(bytes(decompressed_size % chunk)))
    parts.append(co.flush())
    return b"".join(parts)


# --------------------------------------------------------------------- feed builders
def _date(d: datetime | str | None) -> str | None:
    if d is None or isinstance(d, str):
        return d
    return format_datetime(d if d.tzinfo else d.replace(tzinfo=timezone.utc))


def make_rss(items: list[dict], *, title: str = "Test feed", encoding: str = "utf-8",
             declare: str | None = "", language: str | None = None,
             link: str = "https://example.org/") -> bytes:
    """RSS 2.0 bytes in `encoding`. Item keys: title, link, guid, description, pubDate
    (datetime or string), lang (xml:lang), raw (verbatim inner XML). Absent keys are omitted.
    `declare`: "" declares `encoding` in the XML declaration, None omits the declaration,
    any other string is declared instead (to build a lying declaration)."""
    out = []
    decl = encoding if declare == "" else declare
    if decl is not None:
        out.append(f'<?xml version="1.0" encoding="{decl}"?>')
    out.append(f'<rss version="2.0"><channel><title>{escape(title)}</title>'
               f'<link>{escape(link)}</link><description>test</description>')
    if language:
        out.append(f"<language>{language}</language>")
    for it in items:
        attr = f' xml:lang="{it["lang"]}"' if it.get("lang") else ""
        out.append(f"<item{attr}>")
        for key in ("title", "link", "guid", "description"):
            if it.get(key) is not None:
                out.append(f"<{key}>{escape(str(it[key]))}</{key}>")
        if it.get("pubDate") is not None:
            out.append(f"<pubDate>{_date(it['pubDate'])}</pubDate>")
        out.append(it.get("raw", ""))
        out.append("</item>")
    out.append("</channel></rss>")
    return "\n".join(out).encode(encoding)


def make_atom(entries: list[dict], *, title: str = "Test atom", lang: str | None = None) -> bytes:
    """Atom 1.0 UTF-8 bytes. Entry keys: id, title, link, summary, content, updated."""
    lang_attr = f' xml:lang="{lang}"' if lang else ""
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           f'<feed xmlns="http://www.w3.org/2005/Atom"{lang_attr}><title>{escape(title)}</title>'
           '<id>urn:test:feed</id><updated>2025-01-01T00:00:00Z</updated>']
    for e in entries:
        out.append("<entry>")
        if e.get("id"):
            out.append(f"<id>{escape(e['id'])}</id>")
        out.append(f"<title>{escape(e.get('title', ''))}</title>")
        if e.get("link"):
            out.append(f'<link rel="alternate" href="{escape(e["link"])}"/>')
        if e.get("updated"):
            out.append(f"<updated>{e['updated']}</updated>")
        if e.get("summary") is not None:
            out.append(f'<summary type="html">{escape(e["summary"])}</summary>')
        if e.get("content") is not None:
            out.append(f'<content type="html">{escape(e["content"])}</content>')
        out.append("</entry>")
    out.append("</feed>")
    return "\n".join(out).encode("utf-8")
