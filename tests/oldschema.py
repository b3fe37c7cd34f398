"""A store as an older version of sokuho made it: its migrations only, items written without the
columns later versions added (their INSERT). For migration tests."""
from __future__ import annotations

from contextlib import contextmanager

from bot.adapters import store_sql as Q
from bot.adapters.store import Store

# items as versions before core v6 wrote them: no duplicate signature
V5_INSERT_ITEMS = ("INSERT INTO items (guid, feed, title, link, canonical_link, summary, "
                   "published_at, fetched_at, lang, duplicate_of, dup_reason, dup_evidence) "
                   "VALUES {rows} ON CONFLICT (guid) DO NOTHING RETURNING id, guid")
V5_ITEM_ROW = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
# "to publish" marks as versions before core v7 wrote them: nobody's
V6_INSERT_PENDINGS = ("INSERT INTO publish_pending (item_id) VALUES {rows} "
                      "ON CONFLICT (item_id) DO NOTHING")


@contextmanager
def older_schema(version: int):
    """Inside: Store.open migrates the core component up to `version` only (4 to 7), and
    save_processed writes items and marks as that version did (the columns it knew)."""
    saved = list(Store.MIGRATIONS["core"])
    insert = Store._insert_rows

    def old_insert(c, sql, row, rows):
        if sql == Q.INSERT_ITEMS and version < 6:
            return insert(c, V5_INSERT_ITEMS, V5_ITEM_ROW, [r[:12] for r in rows])
        if sql == Q.INSERT_PENDINGS and version < 7:
            return insert(c, V6_INSERT_PENDINGS, "(?)", [r[:1] for r in rows])
        return insert(c, sql, row, rows)

    Store.MIGRATIONS["core"] = saved[:version]
    Store._insert_rows = staticmethod(old_insert)
    try:
        yield
    finally:
        Store.MIGRATIONS["core"] = saved
        Store._insert_rows = staticmethod(insert)
