"""Reader feedback (pure): which words set the items a chat marked off-topic apart from the items
it kept, and whether a new item falls under a learned filter or a muted story.

- `words(text)`: the item's words in folded form (NFKC, case and accents folded): Latin words of
  3+ letters minus stop words, katakana runs and kanji runs of 2+ characters.
- `distinctive(marked, kept)`: log-odds ratio with a symmetric Dirichlet prior over document
  frequencies (Monroe, Colaresi & Quinn 2008, "Fightin' Words"): a word scores high when it is in
  many marked items and few kept ones; z = delta / sd keeps a word seen in two items from
  outranking one seen in twenty.
- `WordFilter.holds(hits, words)`: an item is held back when it matched the filter's alias (in its
  watchlist) and contains one of the filter's words.
- `follows(story, item)`: a later item is a follow-up of a muted story when its headline shares
  enough of the story's content features (dedup's features, alias words left out).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from bot.core.dedup import clean_title, features_folded
from bot.core.model import Hit
from bot.core.normalize import _STOP_SETS, fold, prep

_WORD = re.compile(r"[a-z][a-z0-9'’-]{2,}|[\u30a1-\u30fa\u30fc]{2,}|[\u4e00-\u9fff]{2,}")
_STOP = frozenset().union(*_STOP_SETS.values()) | frozenset(
    "about also been but can could did does had here how into just like may might most much must "
    "now only other our out said says some such them then there these they those through under "
    "until very were what when where which while who why would you your year years day days "
    "week today yesterday news report reports update live video photos".split())
MAX_WORDS = 400          # per item: bounded work for very long summaries


def words(text: str) -> frozenset[str]:
    """The distinct content words of a text, folded (the form `unless` words are matched in)."""
    out = set()
    for w in _WORD.findall(fold(text or "")):
        w = w.strip("'’-")
        if len(w) >= 2 and w not in _STOP and not w.isdigit():
            out.add(w)
            if len(out) >= MAX_WORDS:
                break
    return frozenset(out)


def item_words(title: str, summary: str = "") -> frozenset[str]:
    return words(f"{title}\n{summary[:2000]}")


@dataclass(frozen=True, slots=True)
class Scored:
    word: str
    z: float            # log-odds / its standard deviation
    marked: int         # marked items containing the word
    kept: int           # kept items containing the word


def distinctive(marked: Sequence[frozenset[str]], kept: Sequence[frozenset[str]], *,
                min_marked: int = 2, alpha: float = 0.5, min_z: float = 1.5,
                exclude: Iterable[str] = (), limit: int = 3,
                max_kept_share: float = 1.0) -> list[Scored]:
    """Words that set `marked` documents apart from `kept` ones, best first.

    A word qualifies when it is in at least `min_marked` marked documents, is more frequent there
    than among the kept ones, and its z-score reaches `min_z`; `max_kept_share` caps the share of
    kept documents that may contain it (0.0: in none of them)."""
    n1, n0 = len(marked), len(kept)
    if n1 < min_marked:
        return []
    skip = set(exclude)
    df1: dict[str, int] = {}
    for doc in marked:
        for w in doc:
            if w not in skip:
                df1[w] = df1.get(w, 0) + 1
    cand = {w: a for w, a in df1.items() if a >= min_marked}
    if not cand:
        return []
    df0 = dict.fromkeys(cand, 0)
    for doc in kept:
        for w in cand.keys() & doc:
            df0[w] += 1
    out = []
    for w, a in cand.items():
        b = df0[w]
        if n0 and (b / n0 > max_kept_share or a / n1 <= b / n0):
            continue                  # the prior alone must not make a word look distinctive
        delta = (math.log((a + alpha) / (n1 - a + alpha))
                 - math.log((b + alpha) / (n0 - b + alpha)))
        if delta <= 0:
            continue
        sd = math.sqrt(1 / (a + alpha) + 1 / (n1 - a + alpha) + 1 / (b + alpha)
                       + 1 / (n0 - b + alpha))
        z = delta / sd
        if z >= min_z:
            out.append(Scored(w, round(z, 3), a, b))
    out.sort(key=lambda s: (-s.z, -s.marked, s.word))
    return out[:limit]


def alias_words(hits: Iterable[Hit]) -> frozenset[str]:
    """Words of the aliases and matched texts themselves: in every item of the alias, never
    distinctive."""
    out: set[str] = set()
    for h in hits:
        out |= words(h.alias) | words(h.text)
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class WordFilter:
    """Hold back items of `watchlist` that matched `alias` and contain one of `words`."""

    id: int
    watchlist: str
    alias: str
    words: frozenset[str]

    def holds(self, hits: Iterable[Hit], item_words: frozenset[str]) -> bool:
        if not self.words & item_words:
            return False
        return any(h.watchlist == self.watchlist and h.alias == self.alias for h in hits)


# ------------------------------------------------------------------ muted stories
def story_features(title: str, ignore: Iterable[str] = ()) -> frozenset[str]:
    """Content features of a headline (dedup's stems and CJK bigrams) minus the alias words."""
    feats = features_folded(clean_title(prep(title or "")).lower())
    drop = {w[:6] for w in ignore}
    return frozenset(f for f in feats if f not in drop)


def follows(story: frozenset[str], item: frozenset[str], *, min_shared: int = 2,
            min_share: float = 0.5) -> bool:
    """Is a headline with features `item` a follow-up of (or the same as) the muted `story`?
    At least `min_shared` features in common, covering `min_share` of the shorter headline."""
    if not story or not item:
        return False
    shared = len(story & item)
    return shared >= min_shared and shared / min(len(story), len(item)) >= min_share


@dataclass(frozen=True, slots=True)
class StoryMute:
    id: int
    root: str                    # guid of the story's first copy
    features: frozenset[str]

    def holds(self, guid: str, root: str | None, features: frozenset[str]) -> bool:
        return guid == self.root or root == self.root or follows(self.features, features)
