"""Plain data types shared by every stage. No I/O here."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone


def utcnow() -> datetime:
    """The current time, timezone-aware UTC: the only clock the stages use by default."""
    return datetime.now(timezone.utc)


@dataclass(frozen=True, slots=True)
class Entry:
    """One feed entry after parsing: text fields are plain text (HTML stripped, entities decoded)."""

    id: str                      # guid, else link, else a stable hash (see parse.derive_id)
    feed: str                    # the feed's name (or the source path/URL for ad-hoc runs)
    title: str
    link: str
    summary: str = ""
    published: datetime | None = None   # timezone-aware UTC, or None when the feed gave no date
    lang: str | None = None             # "ja", "en", "es", ... (feed setting or detected)
    categories: tuple[str, ...] = ()    # the feed's own <category>/<dc:subject> terms (evidence)

    def __reduce__(self):
        # pickled by parser workers for every entry: a plain tuple and the constructor (the
        # dataclass default goes through Python-level __getstate__/__setstate__ with fields())
        return (Entry, (self.id, self.feed, self.title, self.link, self.summary, self.published,
                        self.lang, self.categories))


@dataclass(frozen=True, slots=True)
class Hit:
    """Why an entry matched: one alias found in one field."""

    watchlist: str
    alias: str          # the alias as written in the watchlist
    field: str          # "title" or "summary"
    text: str           # the text that matched, as it appears (normalised form)
    kind: str           # "exact", "fuzzy" (typo tolerance) or "context" (ambiguous alias + context)
    score: float = 100.0
    # what the item said for (+) and against (-) this hit (see bot.core.evidence); not stored
    evidence: tuple[str, ...] = field(default=(), compare=False)

    def __reduce__(self):     # as Entry's: a plain tuple on the wire
        return (Hit, (self.watchlist, self.alias, self.field, self.text, self.kind, self.score,
                      self.evidence))

    def as_dict(self) -> dict:
        return {"watchlist": self.watchlist, "alias": self.alias, "field": self.field,
                "text": self.text, "kind": self.kind, "score": round(self.score, 1)}


@dataclass(frozen=True, slots=True)
class DupVerdict:
    """Result of the duplicate check: None means the entry is new."""

    duplicate_of: str | None
    reason: str = ""     # copies: "guid", "url", "title", "similar"; other outlets' reports: "story"
    score: float = 0.0
    evidence: tuple[str, ...] = ()   # for "story": what the reports share (see core/stories.py)


@dataclass(slots=True)
class Processed:
    """An entry after the pure core: matches and duplicate verdict."""

    entry: Entry
    hits: list[Hit] = field(default_factory=list)
    dup: DupVerdict = field(default_factory=lambda: DupVerdict(None))
    canonical_link: str | None = None    # when already computed (duplicate check); else the store does
    dedup_sig: str | None = None         # the duplicate signature as stored (dedup.pack_sig)
    story_sig: str | None = None         # story features as stored (stories.pack_features)

    @property
    def watchlists(self) -> list[str]:
        seen: list[str] = []
        for h in self.hits:
            if h.watchlist not in seen:
                seen.append(h.watchlist)
        return seen


@dataclass(slots=True)
class StoredItem:
    """An item as kept in the store, with what matched and which copies were folded into it."""

    entry: Entry
    hits: list[Hit] = field(default_factory=list)
    duplicate_of: str | None = None
    fetched_at: datetime | None = None
    also_in: list[str] = field(default_factory=list)   # feed names of later duplicate copies
    rowid: int | None = None

    @property
    def watchlists(self) -> list[str]:
        return list(dict.fromkeys(h.watchlist for h in self.hits))
