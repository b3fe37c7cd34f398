"""`sokuho status`: feeds and deliveries from the state database, opened read-only.

Safe while the service runs (SQLite WAL: readers never block the writer). The Telegram outbox
tables belong to bot.telegram; they are read defensively (absent = Telegram not configured).
"""
from __future__ import annotations

import os
import sqlite3
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

from bot.ops.health import ago, is_stale

FAIL_THRESHOLD = 3
STALE_AFTER = timedelta(days=2)
PENDING_STATES = ("waiting", "queued")
FAILED_STATES = ("dead", "failed")


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def feed_status(f, now: datetime) -> str:
    if not f.enabled:
        return "disabled"
    if f.error_count >= FAIL_THRESHOLD:
        return "failing"
    if f.error_count:
        return "error"
    if f.last_status is None and f.last_success_at is None:
        return "new"
    if is_stale(f, now, STALE_AFTER):
        return "quiet"
    return "ok"


def until(t: datetime | None, now: datetime) -> str:
    if t is None:
        return "now"
    secs = (t - now).total_seconds()
    if secs <= 0:
        return "due" if secs > -120 else f"overdue {ago(t, now).removesuffix(' ago')}"
    return "in " + ago(now - (t - now), now).removesuffix(" ago")


def validators(f) -> str:
    parts = []
    if f.etag:
        e = f.etag
        parts.append("etag " + (e if len(e) <= 12 else e[:11] + "…"))
    if f.last_modified:
        try:
            parts.append("lm " + parsedate_to_datetime(f.last_modified).strftime("%m-%d %H:%M"))
        except (TypeError, ValueError):
            parts.append("lm " + f.last_modified[:16])
    return ", ".join(parts) or "-"


def delivery(store) -> list[dict] | None:
    """Per chat: pending, sent, failed; None when the Telegram tables do not exist."""
    if not store.has_table("tg_outbox"):
        return None
    conn = store.conn
    cols = store.columns("tg_outbox")
    if not {"chat_id", "state"} <= cols:
        return None
    last_sent = "MAX(o.sent_at)" if "sent_at" in cols else "NULL"
    q = ",".join("?" * len(PENDING_STATES))
    f = ",".join("?" * len(FAILED_STATES))
    rows = conn.execute(
        f"SELECT o.chat_id, SUM(CASE WHEN o.state IN ({q}) THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN o.state = 'sent' THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN o.state IN ({f}) THEN 1 ELSE 0 END),"
        f" {last_sent} FROM tg_outbox o GROUP BY o.chat_id ORDER BY o.chat_id",
        (*PENDING_STATES, *FAILED_STATES)).fetchall()
    names: dict[int, str] = {}
    if store.has_table("tg_chats"):
        ccols = store.columns("tg_chats")
        label = [c for c in ("title", "username") if c in ccols]
        if "chat_id" in ccols and label:
            for r in conn.execute(f"SELECT chat_id, {', '.join(label)} FROM tg_chats"):
                title = r[1] if len(r) > 1 else None
                user = r[2] if len(r) > 2 else None
                names[r[0]] = title or (f"@{user}" if user else "")
    return [{"chat_id": r[0], "chat": names.get(r[0]) or str(r[0]), "pending": r[1] or 0,
             "sent": r[2] or 0, "failed": r[3] or 0, "last_sent_at": r[4]} for r in rows]


def collect(store, now: datetime, *, include_disabled: bool = False) -> dict:
    feeds = store.feeds(include_disabled=True)
    shown = [f for f in feeds if f.enabled or include_disabled]
    polls = [t for f in feeds for t in (f.last_success_at, f.last_error_at) if t]
    return {
        "database": {"path": str(store.path), "engine": store.engine,
                     "size_bytes": store.size_bytes()},
        "counts": store.counts(),
        "last_poll_at": _iso(max(polls) if polls else None),
        "feeds": [{
            "name": f.name, "url": f.url, "status": feed_status(f, now), "enabled": f.enabled,
            "last_success_at": _iso(f.last_success_at), "last_error_at": _iso(f.last_error_at),
            "last_error": f.last_error, "last_error_kind": f.last_error_kind,
            "error_count": f.error_count, "items": f.items_total,
            "last_new_item_at": _iso(f.last_new_item_at), "next_poll_at": _iso(f.next_poll_at),
            "etag": f.etag, "last_modified": f.last_modified, "interval": f.interval,
            "_row": f} for f in shown],
        "hidden_disabled": len(feeds) - len(shown),
        "delivery": delivery(store),
        "feedback": feedback(store),
        "instances": instances(store, now),
    }


ALIVE = 60.0       # seconds: a running instance records a heartbeat every poll tick (15 s)


def instances(store, now: datetime) -> list[dict]:
    """The instances registered in the database, whether they are alive (a recent heartbeat),
    their roles and the feeds they hold leases on."""
    if not store.has_table("instances"):
        return []
    leases = store.leases()
    out = []
    for i in store.instances():
        n, until_ = leases.get(i["name"], (0, None))
        age = (now - i["heartbeat_at"]).total_seconds() if i["heartbeat_at"] else None
        out.append({"name": i["name"], "host": i["host"], "pid": i["pid"],
                    "command": i["command"], "roles": i["roles"],
                    "started_at": _iso(i["started_at"]), "heartbeat_at": _iso(i["heartbeat_at"]),
                    "alive": age is not None and age <= ALIVE,
                    "feeds_leased": n, "lease_until": _iso(until_)})
    return out


def feedback(store) -> dict | None:
    """Readers' feedback: off-topic marks, muted stories, active filters, items held back.
    None when the database has no feedback tables (Telegram never ran, or an older schema)."""
    if not store.has_table("tg_feedback"):
        return None
    from bot.telegram.feedback_store import FeedbackStore
    return FeedbackStore(store).counts()


def human_size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines)


def _cut(s: str, n: int) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[:n - 1] + "…"


def render(data: dict, now: datetime) -> str:
    c = data["counts"]
    last = datetime.fromisoformat(data["last_poll_at"]) if data["last_poll_at"] else None
    out = [f"state  {data['database']['path']} ({human_size(data['database']['size_bytes'])}): "
           f"{c.get('items', 0)} items, {c.get('matched_items', 0)} matched, "
           f"{c.get('duplicates', 0)} duplicates; last poll {ago(last, now)}", ""]
    rows = []
    for d in data["feeds"]:
        f = d["_row"]
        err = "-"
        if f.error_count and f.last_error:
            kind = f"{f.last_error_kind}: " if f.last_error_kind else ""
            err = f"{ago(f.last_error_at, now)}: {_cut(kind + f.last_error, 48)}"
        elif f.last_error_at:
            err = f"{ago(f.last_error_at, now)} (since recovered)"
        rows.append([_cut(f.name, 28), d["status"], ago(f.last_success_at, now), err,
                     str(f.error_count), str(f.items_total),
                     until(f.next_poll_at, now) if f.enabled else "-", validators(f)])
    if rows:
        out.append(table(["FEED", "STATUS", "LAST OK", "LAST ERROR", "ERRORS", "ITEMS",
                          "NEXT POLL", "VALIDATORS"], rows))
    else:
        out.append("no feeds yet (the service adds them from feeds.yaml at start)")
    if data["hidden_disabled"]:
        out.append(f"({data['hidden_disabled']} disabled feed(s) not shown: --all)")
    out.append("")
    dl = data["delivery"]
    if dl is None:
        out.append("Telegram: not configured (no delivery tables in the state database)")
    elif not dl:
        out.append("Telegram: nothing delivered yet")
    else:
        out.append(table(["CHAT", "PENDING", "SENT", "FAILED", "LAST SENT"], [
            [_cut(d["chat"], 32), str(d["pending"]), str(d["sent"]), str(d["failed"]),
             ago(datetime.fromisoformat(d["last_sent_at"]), now) if d["last_sent_at"] else "never"]
            for d in dl]))
    inst = data.get("instances") or []
    if inst:
        out.append("")
        out.append(table(["INSTANCE", "STATE", "COMMAND", "ROLES", "LEASED", "LEASE UNTIL",
                          "HEARTBEAT", "HOST:PID"], [
            [_cut(i["name"], 32), "alive" if i["alive"] else "gone", i["command"],
             ",".join(i["roles"]) or "-", str(i["feeds_leased"]),
             until(datetime.fromisoformat(i["lease_until"]), now) if i["lease_until"] else "-",
             ago(datetime.fromisoformat(i["heartbeat_at"]), now) if i["heartbeat_at"] else "-",
             f"{i['host']}:{i['pid']}"] for i in inst]))
    fb = data.get("feedback")
    if fb is not None:
        out.append(f"Feedback: {fb['offtopic']} off-topic mark(s), {fb['mute']} story mute(s); "
                   f"active: {fb['filters']} filter(s), {fb['muted_stories']} muted stor"
                   f"{'y' if fb['muted_stories'] == 1 else 'ies'}; {fb['held']} item(s) held "
                   "back (details: sokuho feedback)")
    return "\n".join(out)


def for_json(data: dict) -> dict:
    return {**data, "feeds": [{k: v for k, v in d.items() if k != "_row"} for d in data["feeds"]]}


def restore_ownership(db_path: Path) -> None:
    """Run as root on the service's database (DynamicUser=yes owns it), SQLite may have created
    -wal/-shm files owned by root, which the service could then not open. Give them back."""
    if os.geteuid() != 0:
        return
    try:
        st = os.stat(db_path)
    except OSError:
        return
    if st.st_uid == 0:
        return
    for extra in ("-wal", "-shm"):
        p = Path(f"{db_path}{extra}")
        try:
            if p.stat().st_uid == 0:
                os.chown(p, st.st_uid, st.st_gid)
        except OSError:
            pass
