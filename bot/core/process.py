"""The pure middle of the pipeline: language, matches and duplicate verdict for one entry.

Two steps, so that the first can run beside the parser (in a parser worker process, on another
core) and only the second needs the duplicate index of the main process:

* `prepare(entry, matcher) -> Prepared`: language, watchlist hits, and the per-entry part of the
  duplicate check (bot.core.dedup.prepare: canonical URL, copy signature, story features), all
  from one normalisation of title and summary. Stateless given the watchlists; picklable.
* `Processor.decide(entry, prepared, now) -> Processed`: the duplicate verdict (Deduper.process
  with the prepared part: only the index lookups are left).

`Processor.process(entry)` does both, in this process.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from bot.core.dedup import Deduper
from bot.core.dedup import Prepared as DedupPrepared
from bot.core.dedup import prepare as dedup_prepare
from bot.core.model import Entry, Hit, Processed
from bot.core.normalize import ascii_words, detect_lang, prep
from bot.core.watchlist_plain import plain

if TYPE_CHECKING:   # imported when a matcher is built: the main process of a poll may need none
    from bot.core.matcher import Matcher

SUMMARY_KEPT = 400     # characters of the prepped summary the duplicate check reads
HEAD = 300             # ... and the language guess
assert HEAD <= SUMMARY_KEPT     # (prepare: a summary the head holds whole is kept whole)

_versions = itertools.count(1)


@dataclass(slots=True)
class Prepared:
    """The per-entry step's result: what `decide` needs beside the entry itself."""

    lang: str | None          # detected language (the entry's own when unsure)
    hits: list[Hit] = field(default_factory=list)
    dedup: DedupPrepared | None = None     # the duplicate check's per-entry part

    def __reduce__(self):     # a plain tuple on the wire (no field names)
        return (Prepared, (self.lang, self.hits, self.dedup))


def prepare(entry: Entry, matcher: Matcher) -> Prepared:
    """Normalise once; language guess and matching read the same folded text."""
    tp = prep(entry.title)
    sp = prep(entry.summary) if entry.summary else ""
    head = f"{tp} {sp[:HEAD]}"
    folded = head.lower()
    # a summary the head holds whole: the language guess and the matcher read the same words
    # and the same folded text
    if len(sp) <= HEAD:
        words = set(ascii_words(folded))
        both = folded
    else:
        words = both = None
    lang = detect_lang(head, default=entry.lang, folded=folded, words=words)
    if lang != entry.lang:
        entry = replace(entry, lang=lang)
    hits = matcher.match(entry, (tp, sp), words=words, folded=both)
    if both is not None and len(folded) == len(head):
        # the head held the whole summary (shorter than SUMMARY_KEPT) and lower() kept every
        # length: the summary's part of it is sp.lower() (lower() reads no context across " ")
        fs = folded[len(tp) + 1:]
    else:
        sp = sp[:SUMMARY_KEPT]
        fs = sp.lower()
    return Prepared(lang, hits, dedup_prepare(entry, tp, sp, hits, folded_summary=fs))


class Preparer:
    """`prepare` for one set of watchlists, under a version number that changes with every
    (re)load: a parser worker holding another version is sent the watchlists first (their plain
    form, bot.core.watchlist_plain: a worker never imports pydantic).

    Given `watchlists=` instead of a matcher, the matcher is built on first use: the main process
    of a poll whose entries are all prepared in the parser workers never builds one."""

    def __init__(self, matcher: Matcher | None = None, version: int | None = None, *,
                 watchlists: list | None = None):
        if matcher is None and watchlists is None:
            raise TypeError("Preparer needs a matcher or watchlists")
        self._matcher = matcher
        if matcher is not None:
            watchlists = matcher.watchlists
        self._models = list(watchlists.values() if isinstance(watchlists, dict) else watchlists)
        self._plain: list | None = None
        self.version = version if version is not None else next(_versions)

    @property
    def matcher(self) -> Matcher:
        if self._matcher is None:
            from bot.core.matcher import Matcher
            self._matcher = Matcher(self._models)
        return self._matcher

    @property
    def built(self) -> bool:
        """Whether this process has built the matcher."""
        return self._matcher is not None

    @property
    def watchlists(self) -> list:
        """What a parser worker builds its matcher from."""
        if self._plain is None:
            self._plain = plain(self._models)
        return self._plain

    def prepare(self, entry: Entry) -> Prepared:
        return prepare(entry, self.matcher)

    def prepare_all(self, entries: list[Entry]) -> list[Prepared]:
        return [prepare(e, self.matcher) for e in entries]


class Processor:
    def __init__(self, matcher: Matcher | None, deduper: Deduper, *,
                 watchlists: list | None = None):
        """`watchlists` instead of a matcher: built on first need (see Preparer)."""
        self.deduper = deduper
        self.preparer = Preparer(matcher, watchlists=watchlists)

    @property
    def matcher(self) -> Matcher:
        return self.preparer.matcher

    def prepare(self, entry: Entry) -> Prepared:
        return prepare(entry, self.preparer.matcher)

    def decide(self, entry: Entry, prepared: Prepared, now: datetime | None = None) -> Processed:
        """The duplicate verdict for an entry prepared (here or in a parser worker)."""
        if prepared.lang != entry.lang:
            entry = replace(entry, lang=prepared.lang)
        d = prepared.dedup
        verdict = self.deduper.process(entry, now, hits=prepared.hits, prepared=d)
        if d is None:
            return Processed(entry, prepared.hits, verdict)
        return Processed(entry, prepared.hits, verdict, d.url, d.packed(), d.story_packed)

    def process(self, entry: Entry, now: datetime | None = None) -> Processed:
        return self.decide(entry, self.prepare(entry), now)
