"""Plain pieces of the state store: StoreError (and mapping sqlite3 errors to it), FeedState,
row -> object mapping. The Store itself is in store.py; the SQL in store_sql.py."""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.adapters.store_sql import from_ts
from bot.core.model import Entry, StoredItem

CHUNK = 500      # max parameters per IN (...) list, and rows per page in recent_entries


class StoreError(Exception):
    """A state-database failure, worded for an operator: which file and what went wrong.
    `kind` is one of: readonly, full, locked, notadb, corrupt, newer_schema, missing, io, other."""

    def __init__(self, message: str, *, path: Path | str | None = None, kind: str = "other"):
        super().__init__(message)
        self.path = Path(path) if path is not None else None
        self.kind = kind


_CAUSES = {   # primary SQLite result code -> (kind, plain words)
    5: ("locked", "the database is locked by another process (gave up after waiting {busy:g}s)"),
    6: ("locked", "the database is locked by another connection"),
    8: ("readonly", "the database file or its directory is read-only"),
    10: ("io", "disk I/O error"),
    11: ("corrupt", "the database file is corrupt"),
    13: ("full", "the disk is full (or the database reached its size limit)"),
    14: ("readonly", "cannot create or open the database file (directory missing, read-only or "
                     "not permitted)"),
    23: ("readonly", "permission denied"),
    26: ("notadb", "the file is not an SQLite database (or it is corrupt or encrypted)"),
}


def _free_bytes(directory: Path) -> int | None:
    try:
        st = os.statvfs(directory)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def convert_error(exc: BaseException, path: Path, action: str, busy: float) -> StoreError:
    code = getattr(exc, "sqlite_errorcode", None)
    kind, cause = _CAUSES.get(code & 0xFF if code is not None else -1, ("other", str(exc)))
    cause = cause.format(busy=busy)
    if kind == "readonly" and not os.access(path.parent, os.W_OK):
        cause = f"the directory {path.parent} is read-only or not writable"
    if kind in ("io", "full", "other"):
        free = _free_bytes(path.parent)
        if free is not None and free < 1 << 20:   # an I/O error on a full disk: say so
            kind, cause = "full", f"the disk holding {path.parent} is full ({free // 1024} KiB free)"
    err = StoreError(f"state database {path}: {cause} (while {action}; sqlite: {exc})",
                     path=path, kind=kind)
    err.__cause__ = exc
    return err


@dataclass
class FeedState:
    url: str
    name: str
    lang: str | None
    interval: float
    enabled: bool
    etag: str | None = None
    last_modified: str | None = None
    next_poll_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_kind: str | None = None
    last_error_at: datetime | None = None
    error_count: int = 0
    items_total: int = 0
    last_new_item_at: datetime | None = None
    last_status: str | None = None

    @classmethod
    def _from_row(cls, r) -> "FeedState":
        return cls(url=r[0], name=r[1], lang=r[2], interval=float(r[3]), enabled=bool(r[4]),
                   etag=r[5], last_modified=r[6], next_poll_at=from_ts(r[7]),
                   last_success_at=from_ts(r[8]), last_error=r[9], last_error_kind=r[10],
                   last_error_at=from_ts(r[11]), error_count=r[12], items_total=r[13],
                   last_new_item_at=from_ts(r[14]), last_status=r[15])


def item_from_row(r) -> StoredItem:
    # r: id, guid, feed, title, link, summary, published_at, lang, duplicate_of, fetched_at
    e = Entry(id=r[1], feed=r[2], title=r[3], link=r[4], summary=r[5],
              published=from_ts(r[6]), lang=r[7])
    return StoredItem(entry=e, duplicate_of=r[8], fetched_at=from_ts(r[9]), rowid=r[0])


def chunks(seq: list, n: int = CHUNK):
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def marks(n: int) -> str:
    return ", ".join("?" * n)
