"""Watchlists as the parser workers get them: plain, immutable copies of the validated models.

A parser worker builds its Matcher from these, never importing pydantic (~0.1 s of CPU per worker
process: its import and the models' class construction). They have every attribute and method
the matcher reads (bot.core.matcher: name, aliases, context, excludes, all_aliases; an alias's
text, kind, match, case, context, needs_context, within, unless, ambiguous), with the same
values: a Matcher built from them matches as one built from the models
(tests/test_prepare_workers.py). They are made in the main process, from models pydantic has
validated; nothing here validates.
"""
from __future__ import annotations

from typing import NamedTuple


class PlainAlias(NamedTuple):
    text: str
    kind: str | None
    match: str
    case: str
    context: tuple[str, ...]
    needs_context: bool
    within: int | None
    unless: tuple[str, ...]

    @property
    def ambiguous(self) -> bool:
        return self.needs_context or bool(self.context)


class PlainWatchlist(NamedTuple):
    name: str
    aliases: dict[str, tuple[PlainAlias, ...]]
    context: tuple[str, ...]
    excludes: tuple[str, ...]
    title: dict[str, str]

    def all_aliases(self) -> list[tuple[str, PlainAlias]]:
        return [(lang, a) for lang, items in self.aliases.items() for a in items]

    def label(self, lang: str = "en") -> str:
        return self.title.get(lang) or self.title.get("en") or self.name


def plain(watchlists) -> list[PlainWatchlist]:
    """Plain copies of validated Watchlist models (plain ones are kept as they are)."""
    out = []
    for w in watchlists:
        if not isinstance(w, PlainWatchlist):
            w = PlainWatchlist(
                w.name,
                {lang: tuple(PlainAlias(a.text, a.kind, a.match, a.case, tuple(a.context),
                                        a.needs_context, a.within, tuple(a.unless))
                             for a in items)
                 for lang, items in w.aliases.items()},
                tuple(w.context), tuple(w.excludes), dict(w.title))
        out.append(w)
    return out
