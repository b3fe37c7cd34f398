"""HTTP (and local file) fetcher for feeds: one aiohttp session, bounded concurrency, hard limits.

`Fetcher.fetch` never raises for network or HTTP problems: it returns a `FetchResult` whose
`error` (human readable, names the URL) and `error_kind` (machine readable) say what went wrong.

    async with Fetcher(user_agent="sokuho/0.1 (+https://example.org/bot)") as f:
        r = await f.fetch(url, etag=state.etag, last_modified=state.last_modified)
        if r.not_modified: ...        # 304: nothing to parse, keep validators
        elif r.ok: parse(r.body, headers=r.headers)
        else: next_poll = now + backoff_delay(errors + 1, retry_after=r.retry_after)

Limits: a global semaphore (`total_concurrency`) and one semaphore per host (`per_host`) are taken
*before* the request starts, so the aiohttp timeouts only measure time spent on the wire, not
time queued behind other feeds of the same host. The TCPConnector carries the same limits as a
backstop. The body is read in chunks and abandoned as soon as it exceeds `max_body`
(decompressed bytes: aiohttp inflates gzip/deflate incrementally, so a gzip bomb is cut off
early instead of being inflated in memory).

Private networks: a feed must not make sokuho connect to loopback, private (RFC 1918, CGNAT,
ULA), link-local (cloud metadata at 169.254.169.254), unspecified, multicast or reserved
addresses. The check is made on the address actually connected to, in the connector's socket
factory, so a redirect hop and a name that resolves (or re-resolves: DNS rebinding) to such an
address are refused like a literal one, before any packet is sent. `allow_private=True` (the
operator's SOKUHO_ALLOW_PRIVATE_NETWORKS, or `allow_private: true` on one feed in feeds.yaml)
lifts it; the fetcher then uses a second session, so a connection made for an allowed feed is
never reused for another one.
"""
from __future__ import annotations

import asyncio
import email.utils
import functools
import errno
import ipaddress
import logging
import socket
import mimetypes
import random
import time
from dataclasses import dataclass, field
from datetime import timezone
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import aiohttp

__all__ = ["FetchResult", "Fetcher", "backoff_delay", "parse_retry_after", "redact_url",
           "BlockedAddress", "blocked_reason"]

log = logging.getLogger("sokuho.fetch")

ACCEPT = ("application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
          "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5")
_CHUNK = 64 * 1024


@dataclass
class FetchResult:
    url: str
    status: int | None                   # HTTP status, 200 for a file path, None when no response
    body: bytes | None                   # None on 304 or error
    headers: dict[str, str] = field(default_factory=dict)   # lower-cased keys
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None             # human-readable, names the URL; None on success / 304
    error_kind: str | None = None        # see module docstring of Fetcher.fetch
    retry_after: float | None = None     # seconds, from Retry-After on 429/503
    elapsed: float = 0.0                 # seconds on the wire (queueing for a slot excluded)
    final_url: str | None = None         # URL after redirects (None for files / failures)

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def ok(self) -> bool:
        """True when the fetch succeeded (2xx with a body, or 304). Check `not_modified` first."""
        return self.error is None


def redact_url(url: str) -> str:
    """The URL without user:password (safe for logs and error messages)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP-date (a past date gives 0.0)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now_ts = time.time() if now is None else now
    return max(0.0, when.timestamp() - now_ts)


def backoff_delay(error_count: int, *, base: float = 60, cap: float = 6 * 3600,
                  retry_after: float | None = None, rng=random.random) -> float:
    """Seconds to wait before polling a failing feed again.

    Exponential (`base * 2**(error_count-1)`, capped at `cap`) with "equal jitter": uniformly in
    [exp/2, exp], so it is never 0 and retries of many feeds spread out. Never below
    `retry_after`; a Retry-After beyond `cap` is clamped to `cap` (a broken server cannot
    silence a feed for days).
    """
    if base <= 0 or cap <= 0:
        raise ValueError("backoff_delay: base and cap must be > 0")
    n = max(1, int(error_count))
    exp = min(cap, base * 2.0 ** min(n - 1, 64))
    r = min(max(float(rng()), 0.0), 1.0)
    delay = exp / 2 + r * exp / 2
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(float(retry_after), cap))
    return min(delay, cap)


# --------------------------------------------------------------------- private networks
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def blocked_reason(address: str) -> str | None:
    """Why a feed may not connect to this IP address (None: a public address)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
                                      if ip in _NAT64 else None)
        if embedded is not None:
            return blocked_reason(str(embedded))
    for attr, what in (("is_unspecified", "unspecified"), ("is_loopback", "loopback"),
                       ("is_link_local", "link-local"), ("is_multicast", "multicast")):
        if getattr(ip, attr):
            return f"{what} address"
    if ip.is_private:
        return "private-network address"
    if not ip.is_global:     # CGNAT 100.64/10, documentation, benchmarking, reserved ranges
        return "non-public (reserved) address"
    return None


class BlockedAddress(OSError):
    """Raised (before connecting) for an address a feed may not reach."""

    def __init__(self, address: str, reason: str):
        super().__init__(errno.EACCES, f"sokuho refused to connect to {address}: {reason} "
                                       "(allow with SOKUHO_ALLOW_PRIVATE_NETWORKS or "
                                       "allow_private: true on the feed)")
        self.address = address


def _public_only(exceptions: tuple = ()):
    """An aiohttp socket_factory: the address about to be connected to must be public (or in
    one of the `exceptions` networks)."""
    return functools.partial(_public_only_socket, tuple(exceptions))


def _public_only_socket(exceptions: tuple, addr_info) -> socket.socket:
    family, type_, proto, _, sockaddr = addr_info
    reason = blocked_reason(str(sockaddr[0]))
    if reason is not None and exceptions:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if any(ip.version == net.version and ip in net for net in exceptions):
            reason = None
    if reason is not None:
        log.warning("refused a connection to %s: %s", sockaddr[0], reason)
        raise BlockedAddress(str(sockaddr[0]), reason)
    sock = socket.socket(family=family, type=type_, proto=proto)
    sock.setblocking(False)
    return sock


def _is_local(url: str) -> bool:
    scheme = urlsplit(url).scheme.lower()
    return scheme in ("", "file") or (len(scheme) == 1 and url[1:2] == ":")  # C:\ paths


def _local_path(url: str) -> Path:
    parts = urlsplit(url)
    if parts.scheme.lower() == "file":
        return Path(unquote(parts.path))
    return Path(url).expanduser()


class Fetcher:
    def __init__(self, *, user_agent: str, total_concurrency: int = 32, per_host: int = 4,
                 connect_timeout: float = 10.0, read_timeout: float = 30.0,
                 total_timeout: float = 60.0, max_body: int = 10 * 2**20, max_redirects: int = 5,
                 extra_headers: dict[str, str] | None = None, allow_private: bool = False,
                 allow_networks: tuple[str, ...] = ()):
        if not user_agent:
            raise ValueError("Fetcher needs an honest, non-empty user_agent")
        self.user_agent = user_agent
        self.total_concurrency = total_concurrency
        self.per_host = per_host
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.total_timeout = total_timeout
        self.max_body = max_body
        self.max_redirects = max_redirects
        self._headers = {"User-Agent": user_agent, "Accept": ACCEPT,
                         "Accept-Encoding": "gzip, deflate", **(extra_headers or {})}
        self.allow_private = allow_private
        # networks reachable even when private ones are refused (e.g. one intranet host)
        self.allow_networks = tuple(ipaddress.ip_network(n) for n in allow_networks)
        self._session: aiohttp.ClientSession | None = None            # public addresses only
        self._open_session: aiohttp.ClientSession | None = None       # private allowed
        self._entered = False
        self._all = asyncio.Semaphore(total_concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}

    def _new_session(self, *, public_only: bool) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self.total_concurrency, limit_per_host=self.per_host, ttl_dns_cache=300,
            socket_factory=_public_only(self.allow_networks) if public_only else None)
        timeout = aiohttp.ClientTimeout(total=self.total_timeout, sock_connect=self.connect_timeout,
                                        sock_read=self.read_timeout)
        return aiohttp.ClientSession(connector=connector, timeout=timeout,
                                     headers=self._headers, raise_for_status=False,
                                     read_bufsize=_CHUNK)

    def _session_for(self, allow_private: bool | None) -> aiohttp.ClientSession:
        if not self._entered:
            raise RuntimeError("Fetcher.fetch() called outside 'async with Fetcher(...)'")
        if self.allow_private or allow_private:
            if self._open_session is None:
                self._open_session = self._new_session(public_only=False)
            return self._open_session
        if self._session is None:
            self._session = self._new_session(public_only=True)
        return self._session

    async def __aenter__(self) -> "Fetcher":
        self._entered = True
        return self

    async def __aexit__(self, *exc) -> None:
        self._entered = False
        for attr in ("_session", "_open_session"):
            session = getattr(self, attr)
            setattr(self, attr, None)
            if session is not None:
                await session.close()

    # ------------------------------------------------------------------ public
    async def fetch(self, url: str, *, etag: str | None = None,
                    last_modified: str | None = None,
                    allow_private: bool | None = None) -> FetchResult:
        """Fetch one feed. error_kind is one of: "timeout", "connect", "reset", "http_4xx",
        "http_5xx", "too_large", "redirects", "ratelimited", "not_found", "gone", "file",
        "blocked" (a private/loopback/link-local address: see the module docstring),
        "protocol" (malformed response, bad encoding, unsupported scheme/invalid URL).
        `allow_private` lets this one feed reach private networks (feeds.yaml allow_private)."""
        if _is_local(url):
            return await self._fetch_file(url)
        session = self._session_for(allow_private)
        safe = redact_url(url)
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            return FetchResult(url, None, None, error=f"{safe}: unsupported URL scheme {scheme!r}",
                               error_kind="protocol")
        host = (urlsplit(url).hostname or "").lower()
        sem = self._hosts.setdefault(host, asyncio.Semaphore(self.per_host))
        async with self._all, sem:
            t0 = time.monotonic()
            try:
                async with asyncio.timeout(self.total_timeout + 1.0):  # belt and braces
                    r = await self._get(session, url, safe, etag, last_modified)
            except Exception as exc:  # noqa: BLE001 - classified below, never propagated
                r = self._classify(url, safe, exc, time.monotonic() - t0)
            r.elapsed = time.monotonic() - t0
            return r

    # ----------------------------------------------------------------- helpers
    async def _get(self, session: aiohttp.ClientSession, url: str, safe: str, etag: str | None,
                   last_modified: str | None) -> FetchResult:
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        follow = self.max_redirects > 0
        async with session.get(url, headers=headers, allow_redirects=follow,
                                     max_redirects=self.max_redirects + 1) as resp:
            # (aiohttp raises once the redirect count reaches its max: +1 = follow exactly N)
            hdrs: dict[str, str] = {}
            for k, v in resp.headers.items():
                k = k.lower()
                hdrs[k] = f"{hdrs[k]}, {v}" if k in hdrs else v
            res = FetchResult(url, resp.status, None, hdrs, etag=hdrs.get("etag", etag),
                              last_modified=hdrs.get("last-modified", last_modified),
                              final_url=str(resp.url))
            status, reason = resp.status, resp.reason or ""
            if status == 304:
                return res
            if not 200 <= status < 300:
                self._http_error(res, safe, status, reason)
                resp.close()  # do not drain an error body we will not use
                return res
            length = resp.content_length
            if length is not None and length > self.max_body:
                resp.close()
                return self._too_large(res, safe, f"Content-Length {length}")
            buf = bytearray()
            async for chunk in resp.content.iter_chunked(_CHUNK):
                buf += chunk
                if len(buf) > self.max_body:
                    resp.close()  # abandon the stream: drop the connection
                    return self._too_large(res, safe, f"more than {len(buf)} bytes read")
            res.body = bytes(buf)
            return res

    def _http_error(self, res: FetchResult, safe: str, status: int, reason: str) -> None:
        if status in (429, 503):
            res.retry_after = parse_retry_after(res.headers.get("retry-after"))
        if status == 429:
            kind = "ratelimited"
        elif status == 404:
            kind = "not_found"
        elif status == 410:
            kind = "gone"
        elif 400 <= status < 500:
            kind = "http_4xx"
        elif status >= 500:
            kind = "http_5xx"
        else:   # 3xx we could not follow (no Location, or redirects disabled)
            kind = "redirects"
        msg = f"{safe}: HTTP {status} {reason}".rstrip()
        if res.retry_after is not None:
            msg += f" (retry after {res.retry_after:.0f}s)"
        res.error, res.error_kind = msg, kind

    def _too_large(self, res: FetchResult, safe: str, detail: str) -> FetchResult:
        res.body = None
        res.error = f"{safe}: response body over the {self.max_body}-byte limit ({detail})"
        res.error_kind = "too_large"
        return res

    def _classify(self, url: str, safe: str, exc: BaseException, elapsed: float) -> FetchResult:
        def fail(kind: str, msg: str, status: int | None = None) -> FetchResult:
            return FetchResult(url, status, None, error=f"{safe}: {msg}", error_kind=kind)

        if isinstance(exc, aiohttp.TooManyRedirects):
            status = exc.history[-1].status if exc.history else None
            return fail("redirects", f"more than {self.max_redirects} redirects (loop?)", status)
        if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
            what = "connect" if isinstance(exc, aiohttp.ConnectionTimeoutError) else (
                "read" if isinstance(exc, aiohttp.SocketTimeoutError) else "total")
            limit = {"connect": self.connect_timeout, "read": self.read_timeout,
                     "total": self.total_timeout}[what]
            return fail("timeout", f"timed out after {elapsed:.1f}s ({what} timeout {limit:g}s)")
        if isinstance(exc, aiohttp.ClientConnectorError) and _blocked(exc.os_error):
            return fail("blocked", f"{exc.os_error.strerror or exc.os_error}")
        if isinstance(exc, aiohttp.ClientConnectorError):
            return fail("connect", f"cannot connect: {exc.os_error.strerror or exc.os_error}")
        if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientConnectionResetError,
                            ConnectionResetError, BrokenPipeError)):
            return fail("reset", f"connection reset by server ({type(exc).__name__})")
        if isinstance(exc, aiohttp.ClientPayloadError):
            text = str(exc)
            if "encoding" in text.lower() and "not completed" not in text:
                return fail("protocol", f"bad response body: {text}")
            return fail("reset", f"connection closed mid-body ({text})")
        if isinstance(exc, aiohttp.ClientOSError):
            if exc.errno in (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED):
                return fail("reset", f"connection reset by server ({exc.strerror or exc})")
            return fail("connect", f"network error: {exc}")
        if isinstance(exc, (aiohttp.ClientError, ValueError)):
            return fail("protocol", f"{type(exc).__name__}: {exc}")
        return fail("protocol", f"unexpected {type(exc).__name__}: {exc}")

    async def _fetch_file(self, url: str) -> FetchResult:
        t0 = time.monotonic()
        path = _local_path(url)
        limit = self.max_body

        def read() -> bytes | None:
            with open(path, "rb") as fh:
                data = fh.read(limit + 1)
            return None if len(data) > limit else data

        try:
            body = await asyncio.to_thread(read)
        except OSError as exc:
            return FetchResult(url, None, None, error=f"{path}: cannot read file: "
                               f"{exc.strerror or exc}", error_kind="file",
                               elapsed=time.monotonic() - t0)
        if body is None:
            return FetchResult(url, None, None, error=f"{path}: file over the {limit}-byte limit",
                               error_kind="too_large", elapsed=time.monotonic() - t0)
        ctype = _guess_type(path)
        headers = {"content-type": ctype} if ctype else {}
        return FetchResult(url, 200, body, headers, elapsed=time.monotonic() - t0)


def _blocked(exc: OSError | None) -> bool:
    return isinstance(exc, BlockedAddress) or (
        isinstance(exc, OSError) and exc.errno == errno.EACCES and "sokuho refused" in str(exc))


def _guess_type(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix in (".rss", ".atom", ".rdf", ".xml"):
        return None  # let the parser sniff the XML declaration, like for an unknown type
    ctype, _ = mimetypes.guess_type(str(path))
    return ctype
