"""The pure middle of the pipeline: language, matches and duplicate verdict for one entry."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from bot.core.dedup import Deduper
from bot.core.matcher import Matcher
from bot.core.model import Entry, Processed
from bot.core.normalize import detect_lang


class Processor:
    def __init__(self, matcher: Matcher, deduper: Deduper):
        self.matcher = matcher
        self.deduper = deduper

    def process(self, entry: Entry, now: datetime | None = None) -> Processed:
        lang = detect_lang(f"{entry.title} {entry.summary[:300]}", default=entry.lang)
        if lang != entry.lang:
            entry = replace(entry, lang=lang)
        hits = self.matcher.match(entry)
        verdict = self.deduper.process(entry, now)
        return Processed(entry, hits, verdict)
