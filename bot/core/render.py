"""Rendering of digests and alerts: Telegram HTML and plain text. Pure: no I/O.

Every piece of feed text is escaped; the limit (4096) counts *visible* characters (the text
after Telegram parses the HTML) in UTF-16 code units, as Telegram does. Digests are split on
item boundaries only; a single item is kept short enough (title/summary clipped) to always fit.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from bot.core.model import StoredItem

LIMIT = 4096
TITLE_MAX = 300
SUMMARY_MAX = 280

_LABELS = {
    "en": {"digest": "Digest", "alert": "Alert", "also_in": "also in", "items": "items",
           "item": "item",
           "part": "part", "no_date": "no date", "matched": "matched"},
    "ja": {"digest": "ダイジェスト", "alert": "速報", "also_in": "他の掲載", "items": "件",
           "item": "件",
           "part": "分割", "no_date": "日時不明", "matched": "一致"},
}
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True, slots=True)
class DigestEntry:
    """One item of a digest: the item, the watchlist it is filed under, its number in the chat."""

    item: StoredItem
    watchlist: str
    no: int | None = None


def labels(lang: str) -> dict[str, str]:
    return _LABELS.get(lang, _LABELS["en"])


def esc(s: str) -> str:
    return html.escape(s or "", quote=False)


def visible_len(html_text: str) -> int:
    """Characters Telegram counts after parsing HTML: tags removed, entities decoded, UTF-16."""
    plain = html.unescape(_TAG.sub("", html_text))
    return len(plain.encode("utf-16-le")) // 2


def utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def clip(s: str, n: int) -> str:
    """Whitespace collapsed, then at most n characters (the last one "…" when cut). Only a prefix
    of a long text is collapsed: the collapsed form of a prefix is a prefix of the collapsed
    whole, so once it is longer than n the cut is the same (a 5,000-character summary clipped
    to 300 no longer splits all of it)."""
    s = s or ""
    if len(s) > 2 * n + 8:
        head = " ".join(s[: 2 * n + 8].split())
        if len(head) > n:
            return head[: n - 1].rstrip() + "…"
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1].rstrip() + "…"


def _safe_link(url: str) -> str | None:
    url = (url or "").strip()
    if re.match(r"^https?://[^\s<>\"]+$", url, re.I):
        return url
    return None


def fmt_time(dt: datetime | None, tz: str, lang: str, *, with_date: bool = True) -> str:
    if dt is None:
        return labels(lang)["no_date"]
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    try:
        z = ZoneInfo(tz)
    except Exception:
        z = ZoneInfo("UTC")
    local = dt.astimezone(z)
    abbr = local.tzname() or tz
    return local.strftime("%m/%d %H:%M " if with_date else "%H:%M ") + abbr


def _when(item: StoredItem) -> datetime:
    dt = item.entry.published or item.fetched_at
    if dt is None:
        return datetime.min.replace(tzinfo=timezone.utc)
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _label(names: dict[str, str] | None, wl: str) -> str:
    return (names or {}).get(wl, wl)


# ------------------------------------------------------------------ HTML pieces
def _meta_html(item: StoredItem, tz: str, lang: str) -> str:
    L = labels(lang)
    parts = [esc(item.entry.feed), esc(fmt_time(item.entry.published or item.fetched_at, tz, lang))]
    also = other_outlets(item)
    if also:
        parts.append(f"{L['also_in']}: " + esc(clip(", ".join(also), 200)))
    return " · ".join(parts)


def _title_html(item: StoredItem) -> str:
    title = esc(clip(item.entry.title or item.entry.link or "(untitled)", TITLE_MAX))
    link = _safe_link(item.entry.link)
    if link:
        return f'<a href="{html.escape(link, quote=True)}">{title}</a>'
    return title


def _item_html(e: DigestEntry, tz: str, lang: str) -> str:
    num = f"<b>{e.no}.</b> " if e.no is not None else "• "
    line = num + _title_html(e.item) + "\n    " + _meta_html(e.item, tz, lang)
    return line


def render_alert_html(item: StoredItem, *, watchlist: str, tz: str, lang: str,
                      no: int | None = None, names: dict[str, str] | None = None) -> str:
    """One instant alert: watchlist header, linked title, short summary, source/time/also-in."""
    L = labels(lang)
    head = f"⚡ <b>{esc(_label(names, watchlist))}</b>"
    if no is not None:
        head += f"  #{no}"
    out = [head, _title_html(item)]
    if item.entry.summary:
        out.append(esc(clip(item.entry.summary, SUMMARY_MAX)))
    out.append(_meta_html(item, tz, lang))
    del L
    return "\n".join(out)


def _group(entries: list[DigestEntry]) -> list[tuple[str, list[DigestEntry]]]:
    """Group by watchlist (first appearance order of the newest item), newest first inside."""
    groups: dict[str, list[DigestEntry]] = {}
    for e in sorted(entries, key=lambda e: _when(e.item), reverse=True):
        groups.setdefault(e.watchlist, []).append(e)
    return list(groups.items())


def _split(header_fn, blocks: list, limit: int, measure) -> list[tuple[str, list]]:
    """Pack (group_header, item_text, entry) blocks into messages under `limit` visible chars.

    header_fn(part_no, total) gives the message header; a group header is repeated at the top of
    a message that continues a group. Returns (text, entries in that message) pairs.
    """
    messages: list[tuple[list[str], list]] = []
    cur: list[str] = []
    ents: list = []
    cur_group = None
    size = 0

    def flush():
        nonlocal cur, ents, size, cur_group
        if ents:
            messages.append((cur, ents))
        cur, ents, cur_group = [""], [], None      # [0] = header placeholder
        size = measure(header_fn(99, 99))

    flush()
    for group_header, text, entry in blocks:
        add = ["", group_header] if group_header != cur_group else []
        add.append(text)
        need = sum(measure(a) + 1 for a in add)
        if size + need > limit and ents:
            flush()
            add = ["", group_header, text]
            need = sum(measure(a) + 1 for a in add)
        cur.extend(add)
        ents.append(entry)
        size += need
        cur_group = group_header
    flush()
    total = len(messages)
    out = []
    for i, (lines, es) in enumerate(messages, 1):
        lines[0] = header_fn(i, total)
        out.append(("\n".join(lines), es))
    return out


def render_digest_parts(entries: list[DigestEntry], *, tz: str, lang: str,
                        names: dict[str, str] | None = None, now: datetime | None = None,
                        limit: int = LIMIT, plain: bool = False) -> list[tuple[str, list]]:
    """A digest as messages, each under `limit` visible characters, with the entries each
    message holds: Telegram HTML, or plain text when `plain`."""
    if not entries:
        return []
    L = labels(lang)
    n = len(entries)
    count = f"{n} {L['item'] if n == 1 else L['items']}"
    stamp = fmt_time(now, tz, lang) if now else ""
    e_ = (lambda x: x) if plain else esc

    def header(i, total):
        h = f"{L['digest']} · {count}" if plain else f"📰 <b>{L['digest']}</b> · {count}"
        if stamp:
            h += f" · {e_(stamp)}"
        if total > 1:
            h += f" ({i}/{total})"
        return h

    blocks = []
    for wl, group in _group(entries):
        gh = f"■ {_label(names, wl)}" if plain else f"<b>■ {esc(_label(names, wl))}</b>"
        for e in group:
            blocks.append((gh, _item_plain(e, tz, lang) if plain else _item_html(e, tz, lang), e))
    return _split(header, blocks, limit, utf16_len if plain else visible_len)


# ------------------------------------------------------------------ plain text
def _item_plain(e: DigestEntry, tz: str, lang: str) -> str:
    L = labels(lang)
    it = e.item
    num = f"{e.no}. " if e.no is not None else "- "
    meta = [it.entry.feed, fmt_time(it.entry.published or it.fetched_at, tz, lang)]
    also = other_outlets(it)
    if also:
        meta.append(f"{L['also_in']}: " + clip(", ".join(also), 200))
    lines = [num + clip(it.entry.title or "(untitled)", TITLE_MAX), "    " + " · ".join(meta)]
    if it.entry.link:
        lines.append("    " + clip(it.entry.link, 500))
    return "\n".join(lines)


def render_digest_plain(entries: list[DigestEntry], *, tz: str, lang: str,
                        names: dict[str, str] | None = None, now: datetime | None = None,
                        limit: int = LIMIT) -> list[str]:
    """Plain-text digest messages (the fallback when Telegram rejects HTML), split under limit."""
    return [t for t, _ in render_digest_parts(entries, tz=tz, lang=lang, names=names, now=now,
                                              limit=limit, plain=True)]


def render_alert_plain(item: StoredItem, *, watchlist: str, tz: str, lang: str,
                       no: int | None = None, names: dict[str, str] | None = None) -> str:
    head = f"⚡ {_label(names, watchlist)}" + (f"  #{no}" if no is not None else "")
    body = _item_plain(DigestEntry(item, watchlist, None), tz, lang)
    out = [head, body[2:]]
    if item.entry.summary:
        out.insert(2, clip(item.entry.summary, SUMMARY_MAX))
    return "\n".join(out)


def render_plain_digest(items: list[StoredItem], tz: str = "Asia/Tokyo", lang: str = "en",
                        names: dict[str, str] | None = None) -> str:
    """Console sink: one plain-text digest of stored items, filed under every watchlist they hit
    (an item is listed once, under its first watchlist)."""
    entries = [DigestEntry(it, (it.watchlists or ["-"])[0], i)
               for i, it in enumerate(items, 1)]
    return "\n\n".join(render_digest_plain(entries, tz=tz, lang=lang, names=names,
                                           limit=10**9))


def other_outlets(item: StoredItem) -> list[str]:
    """The other outlets that reported the item's story, in order, without its own feed."""
    return [f for f in dict.fromkeys(item.also_in) if f and f != item.entry.feed]


def render_also_in_plain(first: StoredItem, lang: str = "en") -> str:
    """Console: a story already shown was reported by more outlets ("" when every later report
    came from the story's own outlet: a syndicated copy in the same feed names no one new)."""
    L = labels(lang)
    also = other_outlets(first)
    if not also:
        return ""
    return (f"↳ {clip(first.entry.title or '(untitled)', TITLE_MAX)} ({first.entry.feed}) · "
            f"{L['also_in']}: {clip(', '.join(also), 200)}")
