"""The pure middle of the pipeline: language, matches and duplicate verdict for one entry."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from bot.core.dedup import Deduper
from bot.core.matcher import Matcher
from bot.core.model import Entry, Processed
from bot.core.normalize import detect_lang, prep


class Processor:
    def __init__(self, matcher: Matcher, deduper: Deduper):
        self.matcher = matcher
        self.deduper = deduper

    def process(self, entry: Entry, now: datetime | None = None) -> Processed:
        # normalise once; language guess, matching and dedup all read the same folded text
        tp = prep(entry.title)
        sp = prep(entry.summary) if entry.summary else ""
        head = f"{tp} {sp[:300]}"
        lang = detect_lang(head, default=entry.lang, folded=head.lower())
        if lang != entry.lang:
            entry = replace(entry, lang=lang)
        hits = self.matcher.match(entry, (tp, sp))
        verdict = self.deduper.process(entry, now, folded_summary=sp[:400].lower(),
                                       prepped_title=tp, hits=hits, prepped_summary=sp[:400])
        return Processed(entry, hits, verdict)
