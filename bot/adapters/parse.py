"""Feed bytes -> ParseResult(list[Entry]) with feedparser, plus a pool to keep it off the loop.

    result = parse_feed(fetch.body, feed_name=feed.name, headers=fetch.headers, lang=feed.lang,
                        base_url=fetch.final_url or feed.url)
    async with-less:  pool = ParserPool("thread"); r = await pool.parse(body, feed_name=..., ...)

With `preparer=` (bot.core.process.Preparer), the pool also normalises and matches the entries
where it parses them (in the worker process: both cores work); `result.prepared` then holds one
bot.core.process.Prepared per entry and `result.prepared_by` the watchlists' version.

Rules:
* `failed` when no entries came out AND (the document is not a recognisable feed, e.g. an HTML
  page, or feedparser hit a real XML error). A valid feed with zero entries is not a failure;
  a bozo feed with entries is kept and `bozo` carries the warning text.
* Entry.id: the guid/Atom id as written, else the (resolved) link, else `derive_id(title, date)`.
  `base_url` is applied to links only (with urljoin), never to ids, so ids do not depend on
  where the feed was fetched from.
* Charset: feedparser follows RFC 3023 literally, so a wrong HTTP charset (or text/xml without
  one) turns Shift_JIS into mojibake. `choose_encoding` decides first, from evidence in the bytes:
  strict UTF-8, then the XML declaration, then the HTTP charset, then (lang="ja") EUC-JP/CP932,
  then Windows-1252; multi-byte encodings only "win" when the whole body decodes strictly.
"""
from __future__ import annotations

import asyncio
import calendar
import codecs
import hashlib
import io
import logging
import multiprocessing
import os
import pickle
import queue
import re
import threading
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urljoin

import feedparser
from feedparser.exceptions import ThingsNobodyCaresAboutButMe

from bot.adapters import feedparser_patch
from bot.core.model import Entry
from bot.core.normalize import strip_controls, strip_html
from bot.core.process import Prepared, Preparer

log = logging.getLogger("sokuho.parse")

__all__ = ["ParseResult", "parse_feed", "ParserPool", "derive_id", "choose_encoding",
           "MAX_TITLE", "MAX_SUMMARY"]

MAX_TITLE = 1000
MAX_SUMMARY = 5000


@dataclass
class ParseResult:
    entries: list[Entry]
    bozo: str | None          # warning text when feedparser flagged the feed
    failed: bool              # no entries and not a (well-formed enough) feed
    title: str                # feed title (plain text)
    encoding: str = ""        # encoding the body was decoded with
    duplicates: int = 0       # entries dropped because their id repeated inside the feed
    error_kind: str = "parse"  # when failed: "parse", or "timeout_parse" (over the time budget)
    extra: dict = field(default_factory=dict)
    prepared: list[Prepared] | None = None   # one per entry, when the pool was given a preparer
    prepared_by: int | None = None           # ... and the version of its watchlists


# ------------------------------------------------------------------------------- ids
def derive_id(title: str, date: str) -> str:
    """Stable id for an entry with neither guid nor link: sha1 of 'title|date'."""
    return "sha1:" + hashlib.sha1(f"{title}|{date}".encode("utf-8")).hexdigest()[:20]


# ------------------------------------------------------------------------- charsets
_XML_DECL_ENC = re.compile(rb'^\s*<\?xml[^>]{0,200}?encoding\s*=\s*["\']([A-Za-z0-9._:\-]{1,40})["\']')
_LANG_HINT = re.compile(rb'(?:<(?:dc:)?language>\s*|xml:lang=["\'])([A-Za-z]{2,3})\b')
_UNICODE_MARKERS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE,
                    b"<\x00?\x00", b"\x00<\x00?", b"\x00\x00\x00<", b"<\x00\x00\x00",
                    b"\x4c\x6f\xa7\x94")  # the last one: EBCDIC '<?xm'
# decode with the superset actually used in the wild (WHATWG Encoding Standard)
_SUPERSET = {"shift_jis": "cp932", "iso8859-1": "cp1252", "ascii": "cp1252",
             "gb2312": "gb18030", "gbk": "gb18030", "euc_kr": "cp949"}


def _canonical(name: str | None) -> str | None:
    if not name:
        return None
    try:
        canon = codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None
    return _SUPERSET.get(canon, canon)


def _decodes(body: bytes, enc: str) -> bool:
    try:
        body.decode(enc)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _content_type(headers: dict[str, str]) -> tuple[str, str | None]:
    mime, _, params = (headers.get("content-type") or "").partition(";")
    charset = None
    for p in params.split(";"):
        k, _, v = p.partition("=")
        if k.strip().lower() == "charset":
            charset = v.strip().strip("\"'") or None
    return mime.strip().lower(), charset


def choose_encoding(body: bytes, http_charset: str | None, lang: str | None = None) -> str | None:
    """The encoding to decode `body` with, or None to leave it to feedparser (BOM, UTF-16/32,
    pure ASCII, or no candidate fits)."""
    if body.startswith(_UNICODE_MARKERS) or body.isascii():
        return None
    if _decodes(body, "utf-8"):
        return "utf-8"   # non-ASCII that is valid UTF-8 is UTF-8, whatever anyone declared
    m = _XML_DECL_ENC.match(body[:300])
    declared = _canonical(m.group(1).decode("ascii")) if m else None
    candidates = [declared, _canonical(http_charset)]
    if not lang:  # <language>ja</language> or xml:lang="ja" are ASCII in every candidate
        m = _LANG_HINT.search(body[:4096])
        lang = m.group(1).decode("ascii") if m else None
    if (lang or "").lower().startswith("ja"):
        candidates += ["euc_jp", "cp932"]
    candidates.append("cp1252")
    for enc in candidates:
        if enc and enc not in ("utf-8", "utf-16", "utf-32") and _decodes(body, enc):
            return enc
    return None


def _feedparser_headers(body: bytes, headers: dict | None, lang: str | None):
    hdrs = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
    hdrs.pop("content-location", None)   # ids must not depend on the fetch URL; links: urljoin
    hdrs.pop("content-encoding", None)   # the body is already decoded by the fetcher
    mime, http_charset = _content_type(hdrs)
    enc = choose_encoding(body, http_charset, lang)
    if enc is not None:
        xmlish = mime in ("application/xml", "text/xml") or mime.endswith("+xml")
        if not (xmlish or mime.startswith("text/")):
            mime = "application/xml"   # feedparser ignores charset= on unknown media types
        hdrs["content-type"] = f"{mime}; charset={enc}"
    return hdrs


# --------------------------------------------------------------------------- fields
def _truncate(s: str, limit: int) -> str:
    if len(s) <= limit:
        return s
    cut = s[:limit]
    space = cut.rfind(" ")
    if space >= limit * 0.8:
        cut = cut[:space]
    return cut.rstrip() + "…"


def _lang_tag(value) -> str | None:
    if not value or not isinstance(value, str):
        return None
    primary = value.strip().replace("_", "-").partition("-")[0].lower()
    return primary if primary.isalpha() and 1 < len(primary) < 9 else None


def _published(e) -> datetime | None:
    # dict.get: FeedParserDict.get("updated_parsed") warns and aliases published_parsed
    t = dict.get(e, "published_parsed") or dict.get(e, "updated_parsed")
    if not t:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(t), tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


# An absolute http(s) URL that urljoin returns unchanged, whatever the (plain http(s)) base: no
# whitespace or control character (urlsplit drops some), no bracket (IPv6 netloc checks), no ";"
# in the path (params), no empty query or fragment (urlunsplit drops a bare "?" or "#").
_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9.\-:@%_~!$&'()*+,=]+(?:/[^\s?#;\[\]\\]*)?"
                        r"(?:\?[^\s#\[\]\\]+)?(?:#[^\s\[\]\\]+)?\Z")


def _join(base: str, link: str) -> str:
    """urljoin(base, link), without its cost for the usual absolute link (an equal result)."""
    if _PLAIN_URL.match(link) is not None and _PLAIN_URL.match(base) is not None:
        return link
    return urljoin(base, link)


# The entry's fields are read with dict.get: FeedParserDict.get runs its alias and compatibility
# branches (keymap, "category", "updated", ...) first, and none of the keys read here is one of
# them, so the plain dict lookup gives the same value for a fraction of the cost.
_get = dict.get


def _entry(e, *, feed_name: str, feed_lang: str | None, base_url: str) -> Entry:
    title = _truncate(strip_html(_get(e, "title"), MAX_TITLE), MAX_TITLE)
    raw_summary = _get(e, "summary")
    if not raw_summary:
        content = _get(e, "content")
        if content:
            raw_summary = content[0].get("value")
    summary = _truncate(strip_html(raw_summary, MAX_SUMMARY), MAX_SUMMARY) if raw_summary else ""
    guid = _get(e, "id") or ""
    if guid:
        guid = strip_controls(guid).strip()
    link = _get(e, "link") or ""
    if link:
        link = strip_controls(link).strip()
    if link and link == guid and _get(e, "guidislink") and "://" not in link:
        link = ""   # feedparser copied a non-URL guid into link
    if link and base_url:
        link = _join(base_url, link)
    if ":" in link.split("/", 1)[0] and not link.lower().startswith(("http:", "https:")):
        link = ""   # urn:, tag:, javascript: ... are not links a reader can open
    eid = guid or link or derive_id(title, _get(e, "published") or _get(e, "updated") or "")
    detail = _get(e, "title_detail")
    lang = _lang_tag(_get(detail, "language")) if detail else None
    if lang is None:
        detail = _get(e, "summary_detail")
        lang = _lang_tag(_get(detail, "language")) if detail else None
    tags = _get(e, "tags")
    return Entry(id=eid, feed=feed_name, title=title, link=link, summary=summary,
                 published=_published(e), lang=lang or feed_lang,
                 categories=_categories(tags) if tags else ())


def _categories(tags) -> tuple[str, ...]:
    """<category> / <dc:subject> / Atom category terms: at most 16, each at most 80 characters."""
    out: list[str] = []
    for tag in tags:
        term = strip_html((tag or {}).get("term") or (tag or {}).get("label") or "")[:80]
        if term and term not in out:
            out.append(term)
            if len(out) == 16:
                break
    return tuple(out)


# ---------------------------------------------------------------------------- parse
def parse_feed(body: bytes, *, feed_name: str, headers: dict | None = None,
               lang: str | None = None, base_url: str = "") -> ParseResult:
    """Parse one feed body. Never raises: a parser crash becomes failed=True with the reason."""
    if not body or not body.strip():
        return ParseResult([], "empty document", True, "")
    feedparser_patch.apply()   # once per process: feedparser's hot helpers (guarded, tested)
    try:
        hdrs = _feedparser_headers(body, headers, lang)
        d = feedparser.parse(io.BytesIO(body), response_headers=hdrs,
                             sanitize_html=False, resolve_relative_uris=False)
        feed = d.get("feed") or {}
        feed_lang = _lang_tag(feed.get("language")) or _lang_tag(lang) or lang
        entries: list[Entry] = []
        seen: set[str] = set()
        dups = 0
        for e in d.get("entries") or []:
            ent = _entry(e, feed_name=feed_name, feed_lang=feed_lang, base_url=base_url)
            if ent.id in seen:
                dups += 1
                continue
            seen.add(ent.id)
            entries.append(ent)
    except Exception as exc:  # noqa: BLE001 - a hostile feed must not kill the cycle
        return ParseResult([], f"parser crashed: {type(exc).__name__}: {exc}"[:300], True, "")
    exc = d.get("bozo_exception") if d.get("bozo") else None
    bozo = f"{type(exc).__name__}: {exc}"[:300] if exc is not None else None
    serious = exc is not None and not isinstance(exc, ThingsNobodyCaresAboutButMe)
    failed = not entries and (not d.get("version") or serious)
    return ParseResult(entries, bozo, failed, _truncate(strip_html(feed.get("title"), MAX_TITLE), MAX_TITLE),
                       encoding=d.get("encoding") or "", duplicates=dups)


# ----------------------------------------------------------------------------- pool
# How much lower the parser workers' CPU priority is than the main process's, by default (nice
# increment; SOKUHO_PARSER_NICE). The main process is the serial stage (duplicate check, store, delivery, the watchdog's pings):
# when the cores are contended it goes first, and the workers, which run ahead of it with a
# queue of bodies, take the rest. Measured on 2 cores, a cold poll of 25,000 items: ~5% sooner.
WORKER_NICE = 10


def _worker_init(parent: int, nice: int) -> None:
    """Parser workers leave Ctrl-C to the main process (which shuts the pool down in order) and
    die with it: a main process killed with SIGKILL must not leave orphans parsing nothing.
    They run `nice` below the main process's priority."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        if nice:
            os.nice(nice)
    except (OSError, AttributeError):              # pragma: no cover - not allowed / no nice()
        pass
    try:                                            # Linux: PR_SET_PDEATHSIG
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:                      # the parent died before prctl took effect
        os._exit(0)


def parse_prepared(body: bytes, kw: dict, preparer: Preparer | None) -> ParseResult:
    """parse_feed, then (with a preparer) normalise and match every entry."""
    res = parse_feed(body, **kw)
    if preparer is not None and res.entries:
        res.prepared = preparer.prepare_all(res.entries)
        res.prepared_by = preparer.version
    return res


def _worker_main(conn, parent: int, nice: int) -> None:
    """One parser process. Jobs on its pipe:
      ("config", version, watchlists) -> builds the matcher, answers ("ok", version) or
                                          ("error", text);
      ("parse", body, kwargs, version) -> a ParseResult, its entries prepared when `version` is
                                          the version of the watchlists it holds;
      None                             -> exits (as does a closed pipe)."""
    _worker_init(parent, nice)
    conn.send("ready")
    preparer: Preparer | None = None
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        if job[0] == "config":
            _, version, watchlists = job
            try:
                from bot.core.matcher import Matcher
                preparer = Preparer(Matcher(watchlists), version)
                conn.send(("ok", version))
            except Exception as exc:  # noqa: BLE001 - the main process prepares instead
                preparer = None
                conn.send(("error", f"{type(exc).__name__}: {exc}"[:300]))
            continue
        _, body, kw, version = job
        use = preparer if preparer is not None and version == preparer.version else None
        conn.send(parse_prepared(body, kw, use))


class _Timeout(Exception):
    pass


class _Worker:
    """A parser process the pool can kill on its own (ProcessPoolExecutor can only kill them all)."""

    STARTUP = 60.0   # seconds a new process may take to import feedparser and say "ready"

    def __init__(self, ctx, parent: int, nice: int):
        self.version: int | None = None      # the watchlists it matches with
        self.refused: int | None = None      # a version it could not load (not sent again)
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, parent, nice), daemon=True,
                                name="sokuho-parse")
        self.proc.start()
        child.close()

    def wait_ready(self) -> None:
        if not self.conn.poll(self.STARTUP):
            raise EOFError("parser worker did not start")
        self.conn.recv()

    def configure(self, preparer: Preparer) -> bool:
        """Sends the preparer's watchlists (once per version); False if the worker could not
        build its matcher (the main process then prepares). Raises EOFError if it died."""
        self.conn.send(("config", preparer.version, preparer.watchlists))
        if not self.conn.poll(self.STARTUP):
            raise EOFError("parser worker did not load the watchlists")
        status, detail = self.conn.recv()
        if status != "ok":
            log.warning("parser worker could not load the watchlists (%s): entries are matched "
                        "in the main process", detail)
            self.refused = preparer.version
        self.version = preparer.version if status == "ok" else None
        return status == "ok"

    def call(self, body: bytes, kw: dict, budget: float | None,
             version: int | None = None) -> bytes:
        """The pickled ParseResult (unpickled by _resolve, on the event loop's thread)."""
        self.conn.send(("parse", body, kw, version))
        if not self.conn.poll(budget):
            raise _Timeout
        return self.conn.recv_bytes()

    def stop(self, kill: bool = False) -> None:
        try:
            if kill:
                self.proc.kill()
            else:
                self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.proc.join(2.0)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(2.0)
        self.conn.close()


def _resolve(fut: asyncio.Future, res: "ParseResult | bytes") -> None:
    """On the event loop's thread. A worker's answer arrives pickled and is unpickled here: a
    feeder thread unpickling it would take the GIL from the loop for every result (and keep its
    worker waiting for the next body meanwhile)."""
    if fut.done():
        return
    if res.__class__ is bytes:
        try:
            res = pickle.loads(res)
        except Exception as exc:  # noqa: BLE001 - a garbled answer fails this feed only
            res = ParseResult([], f"parser worker answer unreadable ({type(exc).__name__})",
                              True, "")
    fut.set_result(res)


class ParserPool:
    """Runs parse_feed off the event loop: kind="thread" (default), "process" or "inline".

    Threads keep the loop responsive but share the GIL; processes parse in parallel at the cost
    of pickling bodies/results (see bench/parse_pool_bench.py for figures). Processes use the
    "spawn" start method (safe next to a running event loop and other threads).

    `budget` (seconds) bounds one feed's parse. With processes, a worker over budget is killed
    (SIGKILL) and replaced, and the feed gets a failed result with error_kind "timeout_parse";
    the other workers go on. Threads cannot be killed: the feed is reported the same way at the
    deadline, but the thread finishes its work in the background.

    Processes: one small feeder thread per worker process takes jobs from one FIFO queue (so jobs
    start in the order they were submitted, as with ProcessPoolExecutor), hands the body to its
    process through a pipe and waits at most `budget` for the answer, which the event loop's
    thread unpickles (_resolve).
    """

    def __init__(self, kind: str = "thread", workers: int | None = None,
                 budget: float | None = None, nice: int = WORKER_NICE):
        if kind not in ("thread", "process", "inline"):
            raise ValueError(f"ParserPool kind must be thread, process or inline, not {kind!r}")
        self.kind = kind
        self.nice = nice                  # worker processes: CPU priority below the main process
        self.budget = budget if budget and budget > 0 else None
        self.workers = workers or (min(4, os.cpu_count() or 1) if kind == "thread"
                                   else (os.cpu_count() or 1))
        self._closed = False
        self._lock = threading.Lock()
        self._all: set[_Worker] = set()
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._feeders: list[threading.Thread] = []
        self._ctx = multiprocessing.get_context("spawn")
        self._ex: Executor | None = (
            ThreadPoolExecutor(self.workers, thread_name_prefix="sokuho-parse")
            if kind == "thread" else None)

    # ------------------------------------------------------------------ workers
    def _spawn(self) -> _Worker | None:
        with self._lock:
            if self._closed:
                return None
            w = _Worker(self._ctx, os.getpid(), self.nice)
            self._all.add(w)
        try:
            w.wait_ready()
        except (EOFError, OSError):
            self._drop(w)
            raise
        return w

    def _drop(self, w: _Worker) -> None:
        with self._lock:
            self._all.discard(w)
        w.stop(kill=True)

    def _feed(self) -> None:
        """A feeder thread: keeps one worker process alive and feeds it jobs from the queue."""
        w: _Worker | None = None
        while True:
            if w is None and not self._closed:
                try:
                    w = self._spawn()
                except (EOFError, OSError) as exc:
                    w = None
                    failure = f"parser worker could not start: {exc}"
                else:
                    failure = None
            job = self._jobs.get()
            if job is None:
                break
            body, kw, preparer, fut, loop = job
            if w is None:
                res = ParseResult([], failure or "parser pool closed", True, "")
            else:
                res = self._run(w, body, kw, preparer)
                if res.__class__ is not bytes and (res.error_kind == "timeout_parse"
                                                   or res.extra.get("died")):
                    w = None
            loop.call_soon_threadsafe(_resolve, fut, res)
        if w is not None:
            with self._lock:
                self._all.discard(w)
            w.stop()

    def _run(self, w: _Worker, body: bytes, kw: dict,
             preparer: Preparer | None) -> ParseResult | bytes:
        try:
            version = None
            if preparer is not None:
                if w.version != preparer.version and w.refused != preparer.version:
                    w.configure(preparer)
                version = w.version
            return w.call(body, kw, self.budget, version)
        except _Timeout:
            self._drop(w)
            return self._over_budget()
        except (EOFError, OSError) as exc:            # died: OOM-killed, crashed...
            self._drop(w)
            return ParseResult([], f"parser worker died ({exc or 'exit code ' + str(w.proc.exitcode)})",
                               True, "", extra={"died": True})

    def _over_budget(self) -> ParseResult:
        return ParseResult([], f"parsing took longer than {self.budget:g}s; the parser was "
                               "stopped (feed too large or hostile?)", True, "",
                           error_kind="timeout_parse")

    # ------------------------------------------------------------------ API
    async def parse(self, body: bytes, *, preparer: Preparer | None = None, **kw) -> ParseResult:
        """parse_feed(body, **kw) off the loop; with `preparer`, its entries prepared too (see
        the module docstring)."""
        if self.kind == "inline":
            return parse_prepared(body, kw, preparer)
        if self._closed:
            raise RuntimeError("ParserPool is closed")
        loop = asyncio.get_running_loop()
        if self.kind == "thread":
            fut = loop.run_in_executor(self._ex, parse_prepared, body, kw, preparer)
            try:
                return await asyncio.wait_for(asyncio.shield(fut), self.budget)
            except TimeoutError:
                return self._over_budget()
        if not self._feeders:
            for i in range(self.workers):
                t = threading.Thread(target=self._feed, name=f"sokuho-parse-{i}", daemon=True)
                t.start()
                self._feeders.append(t)
        fut = loop.create_future()
        self._jobs.put((body, kw, preparer, fut, loop))
        return await fut

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for _ in self._feeders:
            self._jobs.put(None)
        for t in self._feeders:
            t.join(5.0)
        with self._lock:
            left, self._all = set(self._all), set()
        for w in left:                                 # still busy after 5 s: killed
            w.stop(kill=True)
        for t in self._feeders:
            t.join(5.0)
        if self._ex is not None:
            self._ex.shutdown(wait=True, cancel_futures=True)
            self._ex = None

    def __enter__(self) -> "ParserPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
