"""Watchlist and feed-list models (validated with pydantic; unknown keys are errors).

Pure: these take already-parsed YAML data. Reading files and mapping errors to file:line:column is
done by bot.adapters.config.
"""
from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.core.watchlist_plain import PlainAlias, PlainWatchlist

NAME_RE = r"^[a-z0-9][a-z0-9_-]{0,63}$"
LANG_RE = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Alias(Strict):
    """One way of naming the subject. A bare string in YAML is `{text: ...}` with defaults."""

    text: str = Field(min_length=1, max_length=200)
    # What the alias names, so the engine applies the right checks (see README, "How matching
    # decides"): person (another given name before it is another person), place (a street, a
    # town elsewhere, a team, a dish or a title of the same name are not the place), org, term.
    kind: Literal["person", "place", "org", "term"] | None = None
    match: Literal["auto", "exact", "fuzzy"] = "auto"
    case: Literal["insensitive", "sensitive"] = "insensitive"
    # Ambiguous aliases count only with context: a word from `context` (or from the watchlist's
    # context when `needs_context` is true) must appear in the item, within `within` characters
    # of the alias when `within` is set.
    context: tuple[str, ...] = ()
    needs_context: bool = False
    within: int | None = Field(default=None, ge=1, le=2000)
    # Veto words: the alias does not count when one of these appears anywhere in the item
    # (e.g. グリーンランド unless 遊園地, the amusement park in Kumamoto).
    unless: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _not_weak(self):
        from bot.core.normalize import weak_alias
        why = weak_alias(self.text, case_sensitive=self.case == "sensitive")
        if why:
            raise ValueError(f"alias {self.text!r} {why}")
        return self

    # read as on the plain copy the parser workers get (bot.core.watchlist_plain): one definition
    ambiguous = PlainAlias.ambiguous


def _alias(v):
    return {"text": v} if isinstance(v, str) else v


AliasIn = Annotated[Alias, Field()]


class Watchlist(Strict):
    name: str = Field(pattern=NAME_RE)
    title: dict[str, str] = Field(default_factory=dict)
    description: str = ""
    urgent: bool = False          # default delivery mode suggestion for new subscribers
    aliases: dict[str, tuple[AliasIn, ...]]
    context: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()

    @field_validator("aliases", mode="before")
    @classmethod
    def _aliases(cls, v):
        if not isinstance(v, dict):
            return v
        out = {}
        for lang, items in v.items():
            if isinstance(items, str):
                items = [items]
            out[lang] = [_alias(i) for i in items] if isinstance(items, list) else items
        return out

    @field_validator("aliases")
    @classmethod
    def _langs(cls, v):
        if not any(v.values()):
            raise ValueError("a watchlist needs at least one alias")
        for lang in v:
            if not re.match(LANG_RE, lang):
                raise ValueError(f"{lang!r} is not a language code (ja, en, es, de, ...)")
        return v

    @field_validator("context", "excludes", mode="before")
    @classmethod
    def _one_or_many(cls, v):
        return [v] if isinstance(v, str) else v

    # as on the plain copy (bot.core.watchlist_plain): one definition
    all_aliases = PlainWatchlist.all_aliases
    label = PlainWatchlist.label


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT = {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(v) -> float:
    """'90s', '5m', '1h', '2d' or a number of seconds -> seconds."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        secs = float(v)
    else:
        m = _DURATION.match(str(v))
        if not m:
            raise ValueError(f"{v!r} is not a duration (use e.g. 90s, 5m, 1h)")
        secs = float(m.group(1)) * _UNIT[m.group(2)]
    if secs <= 0:
        raise ValueError("a duration must be positive")
    return secs


class Feed(Strict):
    name: str = Field(min_length=1, max_length=100)
    url: str = Field(min_length=1)
    lang: str | None = Field(default=None, pattern=LANG_RE)
    interval: float | None = None      # seconds; None = the default
    enabled: bool = True
    # the operator vouches for this feed: it may reach loopback/private/link-local addresses
    allow_private: bool = False

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, v):
        if v is None:
            return None
        secs = parse_duration(v)
        if secs < 30:
            raise ValueError("interval must be at least 30s (be kind to servers)")
        return secs


class FeedDefaults(Strict):
    interval: float = 300.0

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, v):
        return parse_duration(v)


class FeedList(Strict):
    defaults: FeedDefaults = FeedDefaults()
    feeds: tuple[Feed, ...] = ()

    @field_validator("feeds", "defaults", mode="before")
    @classmethod
    def _empty(cls, v, info):
        if v is None:                      # `feeds:` with nothing under it
            return () if info.field_name == "feeds" else FeedDefaults()
        return v

    @model_validator(mode="after")
    def _unique(self):
        seen_names, seen_urls = set(), set()
        for i, f in enumerate(self.feeds):
            if f.name in seen_names:
                raise ValueError(f"feeds[{i}]: duplicate feed name {f.name!r}")
            if f.url in seen_urls:
                raise ValueError(f"feeds[{i}]: duplicate feed url {f.url!r}")
            seen_names.add(f.name)
            seen_urls.add(f.url)
        return self

    def interval_of(self, feed: Feed) -> float:
        return feed.interval or self.defaults.interval
