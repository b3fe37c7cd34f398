"""The shared multilingual lexicon (bot/data/lexicon.yaml), compiled for fast look-ups.

Package data read once at first use, like the watchlist schema: no network, no user files. The
words describe classes (sports, food, streets, office titles...) that the matcher's general checks
use for every watchlist; see bot.core.evidence.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from bot.core.normalize import fold

_TOKEN = re.compile(r"[a-z0-9]+")


@dataclass
class WordSet:
    """Latin words and phrases (folded token tuples) and CJK substrings."""

    single: frozenset[str] = frozenset()
    multi: tuple[tuple[str, ...], ...] = ()
    cjk: tuple[str, ...] = ()
    _cjk_re: re.Pattern | None = field(default=None, repr=False)
    # look-up aids (same answers, fewer Python steps): the phrases by first and by last token,
    # in `multi` order
    _by_first: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict, repr=False)
    _by_last: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict, repr=False)

    def __post_init__(self):
        first: dict[str, list] = {}
        last: dict[str, list] = {}
        for m in self.multi:
            first.setdefault(m[0], []).append(m)
            last.setdefault(m[-1], []).append(m)
        self._by_first = {k: tuple(v) for k, v in first.items()}
        self._by_last = {k: tuple(v) for k, v in last.items()}

    @classmethod
    def of(cls, words) -> "WordSet":
        single, multi, cjk = set(), set(), set()
        for w in words or ():
            f = fold(str(w)).strip()
            if not f:
                continue
            if f.isascii():
                toks = tuple(_TOKEN.findall(f))
                if len(toks) == 1:
                    single.add(toks[0])
                elif toks:
                    multi.add(toks)
            else:
                cjk.add(f)
        cjk_sorted = tuple(sorted(cjk, key=len, reverse=True))
        rx = re.compile("|".join(map(re.escape, cjk_sorted))) if cjk_sorted else None
        return cls(frozenset(single), tuple(sorted(multi)), cjk_sorted, rx)

    def find(self, tokens: list[str], folded: str) -> list[str]:
        """Every word of the set in a text given as folded tokens and folded text."""
        single = self.single
        out = [] if single.isdisjoint(tokens) else list(filter(single.__contains__, tokens))
        if self.multi and not self._by_first.keys().isdisjoint(tokens):
            for m in self.multi:
                k = len(m)
                for i in range(len(tokens) - k + 1):
                    if tokens[i] == m[0] and tuple(tokens[i:i + k]) == m:
                        out.append(" ".join(m))
        if self._cjk_re is not None and not folded.isascii():
            out.extend(self._cjk_re.findall(folded))
        return out

    def starts(self, tokens: list[str], i: int) -> str | None:
        """The word of the set that starts at token i, if any (longest phrase first)."""
        if i >= len(tokens):
            return None          # (a phrase never matches past the end: tokens[i:] is empty)
        for m in self._by_first.get(tokens[i], ()):
            if tuple(tokens[i:i + len(m)]) == m:
                return " ".join(m)
        return tokens[i] if tokens[i] in self.single else None

    def ends(self, tokens: list[str], i: int) -> str | None:
        """The word of the set that ends at token i (inclusive), if any."""
        if not 0 <= i < len(tokens):
            return self._ends_outside(tokens, i)
        for m in self._by_last.get(tokens[i], ()):
            k = len(m)
            if i - k + 1 >= 0 and tuple(tokens[i - k + 1:i + 1]) == m:
                return " ".join(m)
        return tokens[i] if tokens[i] in self.single else None

    def _ends_outside(self, tokens: list[str], i: int) -> str | None:
        """`ends` for an index outside the list (negative ones count from the end in a slice)."""
        for m in self.multi:
            k = len(m)
            if i - k + 1 >= 0 and tuple(tokens[i - k + 1:i + 1]) == m:
                return " ".join(m)
        return None

    def cjk_prefix(self, s: str) -> str | None:
        if not self.cjk or not s.startswith(self.cjk):
            return None
        return next((w for w in self.cjk if s.startswith(w)), None)

    def cjk_suffix(self, s: str) -> str | None:
        if not self.cjk or not s.endswith(self.cjk):
            return None
        return next((w for w in self.cjk if s.endswith(w)), None)


def _merge(d) -> list[str]:
    if isinstance(d, dict):
        return [w for v in d.values() for w in (v or ())]
    return list(d or ())


@dataclass
class Lexicon:
    domains: dict[str, WordSet]
    news: WordSet
    sections: dict[str, WordSet]
    street_after: WordSet
    street_before: WordSet
    town_after: WordSet
    town_before: WordSet
    ja_local: WordSet
    ja_town_after: tuple[str, ...]
    business_after: WordSet
    business_before: WordSet
    titles: WordSet
    former: WordSet
    kana_heads: frozenset[str]
    kana_heads_raw: tuple[str, ...]
    actors: WordSet
    name_heads: frozenset[str]
    places: WordSet
    _domain_keys: tuple | None = field(default=None, repr=False, compare=False)

    def domain_keys(self) -> tuple[frozenset[str], frozenset[str], re.Pattern | None]:
        """What a domain word (of any domain) starts and ends with, as a token: a single word
        or a phrase's first token; a single word or a phrase's last token; and (CJK) a pattern
        matching each CJK domain word. A text with none of them holds no domain word."""
        keys = self._domain_keys
        if keys is None:
            first: set[str] = set()
            last: set[str] = set()
            cjk: set[str] = set()
            for ws in self.domains.values():
                first.update(ws.single, (m[0] for m in ws.multi))
                last.update(ws.single, (m[-1] for m in ws.multi))
                cjk.update(ws.cjk)
            rx = re.compile("|".join(map(re.escape, sorted(cjk)))) if cjk else None
            keys = self._domain_keys = (frozenset(first), frozenset(last), rx)
        return keys

    @classmethod
    def from_data(cls, d: dict) -> "Lexicon":
        return cls(
            domains={k: WordSet.of(_merge(v)) for k, v in d["domains"].items()},
            news=WordSet.of(_merge(d["news"])),
            sections={k: WordSet.of(v) for k, v in d["sections"].items()},
            street_after=WordSet.of(d["streets"]["after"]),
            street_before=WordSet.of(d["streets"]["before"]),
            town_after=WordSet.of(d["towns"]["after"]),
            town_before=WordSet.of(d["towns"]["before"]),
            ja_local=WordSet.of(d["towns"]["ja_prefix"]),
            ja_town_after=tuple(d["towns"]["ja_after"]),
            business_after=WordSet.of(d["business_after"]),
            business_before=WordSet.of(d["business_before"]),
            titles=WordSet.of(_merge(d["titles"])),
            former=WordSet.of(_merge(d["former"])),
            kana_heads=frozenset(fold(w) for w in d["kana_heads"]),
            kana_heads_raw=tuple(d["kana_heads"]),
            actors=WordSet.of(d["actors"]),
            name_heads=WordSet.of(d["name_heads"]).single,
            places=WordSet.of(d["places"]),
        )


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    return Lexicon.from_data(lexicon_data())


# bot/data/lexicon.json: the same data as JSON, with the sha256 of the lexicon.yaml it was made
# from (`make lexicon-json`). Every process that matches (each parser worker) reads the lexicon:
# JSON takes ~0.2 ms where the YAML parser takes ~30 ms with its import. A JSON copy made from
# another text than the YAML's is ignored (the YAML is parsed), so the YAML stays the source.
TWIN = "data/lexicon.json"


def lexicon_data(*, twin: bool = True) -> dict:
    files = resources.files("bot")
    text = files.joinpath("data/lexicon.yaml").read_text(encoding="utf-8")
    if twin:
        try:
            made = json.loads(files.joinpath(TWIN).read_text(encoding="utf-8"))
            if made.get("yaml_sha256") == _digest(text):
                return made["data"]
        except (OSError, ValueError, AttributeError, KeyError):
            pass
    from ruamel.yaml import YAML
    return YAML(typ="safe").load(text)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def twin_json() -> str:
    """The text of bot/data/lexicon.json for the current lexicon.yaml."""
    text = resources.files("bot").joinpath("data/lexicon.yaml").read_text(encoding="utf-8")
    return json.dumps({"yaml_sha256": _digest(text), "data": lexicon_data(twin=False)},
                      ensure_ascii=False, separators=(",", ":")) + "\n"
