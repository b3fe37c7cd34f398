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
"""
from __future__ import annotations

import asyncio
import email.utils
import errno
import mimetypes
import random
import time
from dataclasses import dataclass, field
from datetime import timezone
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import aiohttp

__all__ = ["FetchResult", "Fetcher", "backoff_delay", "parse_retry_after", "redact_url"]

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
                 extra_headers: dict[str, str] | None = None):
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
        self._session: aiohttp.ClientSession | None = None
        self._all = asyncio.Semaphore(total_concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}

    async def __aenter__(self) -> "Fetcher":
        connector = aiohttp.TCPConnector(limit=self.total_concurrency,
                                         limit_per_host=self.per_host, ttl_dns_cache=300)
        timeout = aiohttp.ClientTimeout(total=self.total_timeout, sock_connect=self.connect_timeout,
                                        sock_read=self.read_timeout)
        self._session = aiohttp.ClientSession(connector=connector, timeout=timeout,
                                              headers=self._headers, raise_for_status=False,
                                              read_bufsize=_CHUNK)
        return self

    async def __aexit__(self, *exc) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ------------------------------------------------------------------ public
    async def fetch(self, url: str, *, etag: str | None = None,
                    last_modified: str | None = None) -> FetchResult:
        """Fetch one feed. error_kind is one of: "timeout", "connect", "reset", "http_4xx",
        "http_5xx", "too_large", "redirects", "ratelimited", "not_found", "gone", "file",
        "protocol" (malformed response, bad encoding, unsupported scheme/invalid URL)."""
        if _is_local(url):
            return await self._fetch_file(url)
        if self._session is None:
            raise RuntimeError("Fetcher.fetch() called outside 'async with Fetcher(...)'")
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
                    r = await self._get(url, safe, etag, last_modified)
            except Exception as exc:  # noqa: BLE001 - classified below, never propagated
                r = self._classify(url, safe, exc, time.monotonic() - t0)
            r.elapsed = time.monotonic() - t0
            return r

    # ----------------------------------------------------------------- helpers
    async def _get(self, url: str, safe: str, etag: str | None,
                   last_modified: str | None) -> FetchResult:
        assert self._session is not None
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        follow = self.max_redirects > 0
        async with self._session.get(url, headers=headers, allow_redirects=follow,
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


def _guess_type(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix in (".rss", ".atom", ".rdf", ".xml"):
        return None  # let the parser sniff the XML declaration, like for an unknown type
    ctype, _ = mimetypes.guess_type(str(path))
    return ctype
