"""Feed bytes -> ParseResult(list[Entry]) with feedparser (the pool that keeps it off the event
loop is bot.adapters.parse_pool.ParserPool, still importable from here).

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

import calendar
import codecs
import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from bot.core.model import Entry
from bot.core.normalize import strip_controls, strip_html

if TYPE_CHECKING:   # a parser worker imports this module: only what parse_feed needs
    from bot.core.process import Prepared, Preparer

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
    # imported here, not with the module: a main process that parses nothing (its feeds answer
    # 304, or its parser workers parse) never loads feedparser
    import feedparser
    from feedparser.exceptions import ThingsNobodyCaresAboutButMe

    from bot.adapters import feedparser_patch
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


def parse_prepared(body: bytes, kw: dict, preparer: Preparer | None) -> ParseResult:
    """parse_feed, then (with a preparer) normalise and match every entry."""
    res = parse_feed(body, **kw)
    if preparer is not None and res.entries:
        res.prepared = preparer.prepare_all(res.entries)
        res.prepared_by = preparer.version
    return res


def __getattr__(name: str):
    """The pool lives in bot.adapters.parse_pool (it imports asyncio and threading, which a parser
    worker, importing this module for parse_feed, does not need); still importable from here."""
    if name in ("ParserPool", "WORKER_NICE"):
        from bot.adapters import parse_pool
        return getattr(parse_pool, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
