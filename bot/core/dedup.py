"""Duplicate detection (pure): the same story from several outlets counts once.

Exact duplicates: the same guid, or the same canonical URL. Near duplicates: the same story from
another outlet or a reworded wire headline, in the same language, published within the window
(default 48 h). First seen is kept; later copies point to it (to its root when it is itself a copy).

Cost per item does not grow with the window: candidates come from an inverted index over the
title's rarest features, each posting list capped to its most recent entries.
"""
from __future__ import annotations

import re
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime, timezone

from bot.core.model import DupVerdict, Entry
from bot.core.normalize import _STOP_SETS, fold
from bot.core.urlclean import canonical_url

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_STOP = frozenset().union(*_STOP_SETS.values()) | frozenset(
    "update updated exclusive breaking live video watch analysis opinion factbox explainer "
    "s t says said say".split())
# " - Outlet", " | Outlet", "（ロイター）", "【速報】": outlet names and labels around headlines
_SUFFIX = re.compile(r"\s+(?:[-|–—]|\|)\s+[^-|–—]{2,40}$|\s*[|｜]\s*[^|｜]{1,30}$|\s*[（(][^（）()]{1,15}[）)]\s*$")
_PREFIX = re.compile(r"^(?:(?:UPDATE|CORRECTED|REFILE|EXCLUSIVE|BREAKING|WRAPUP|ANALYSIS)"
                     r"(?:\s*\d+)?\s*[-:]\s*|【[^】]{1,12}】\s*|\[[^\]]{1,12}\]\s*)", re.I)
_LATIN = re.compile(r"[a-z0-9]+")
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]+")
_NUM = re.compile(r"\d+(?:[.,]\d+)?")
_CAP = re.compile(r"(?<![\w'])([A-Z][A-Za-z]+)")
_MONTHS = frozenset(
    "january february march april may june july august september october november december "
    "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre".split())


# a follow-up event, not a copy: "X again", "second hearing", 再び, nuevamente
_AGAIN = re.compile(r"\b(?:again|second|another|renewed|fresh|nuevamente|de nuevo|otra vez|segunda|"
                    r"segundo|nueva ronda|erneut|wieder|encore|novamente)\b|再び|再度|改めて|2度目|二度目")


def _again(title: str) -> bool:
    return bool(_AGAIN.search(fold(title)))


def clean_title(title: str) -> str:
    t = title.strip()
    for _ in range(2):
        t2 = _PREFIX.sub("", t)
        m = _SUFFIX.search(t2)
        if m and len(t2[:m.start()]) >= 8:
            t2 = t2[:m.start()]
        if t2 == t:
            break
        t = t2.strip()
    return t


def features(text: str) -> set[str]:
    """Latin words (stop words dropped, crude 6-letter stems) and CJK character bigrams."""
    f = fold(text)
    out = {w if w.isdigit() else w[:6] for w in _LATIN.findall(f) if w not in _STOP}
    for run in _CJK_RUN.findall(f):
        if len(run) == 1:
            out.add(run)
        out.update(run[i:i + 2] for i in range(len(run) - 1))
    return out


@dataclass(slots=True)
class Sig:
    id: str
    root: str
    lang: str | None
    t: float
    key: str
    title: frozenset
    summary: frozenset
    nums: frozenset
    months: frozenset
    caps: frozenset
    again: bool


def signature(entry: Entry, t: float) -> Sig:
    title = clean_title(entry.title)
    key = " ".join(_LATIN.findall(fold(title))) + "".join(_CJK_RUN.findall(fold(title)))
    caps = frozenset(m.lower() for i, m in enumerate(_CAP.findall(title)) if i > 0 or
                     not title.startswith(m))
    words = set(_LATIN.findall(fold(title)))
    return Sig(entry.id, entry.id, entry.lang, t, key, frozenset(features(title)),
               frozenset(features(entry.summary[:400])) if entry.summary else frozenset(),
               frozenset(n.replace(",", ".") for n in _NUM.findall(title)),
               frozenset(words & _MONTHS), caps, _again(title))


def _jaccard(a: frozenset, b: frozenset) -> float:
    if not a or not b:
        return 0.0
    i = len(a & b)
    return i / (len(a) + len(b) - i)


def similar(a: Sig, b: Sig) -> tuple[bool, float, str]:
    """Is b the same story as a? (decision, score, reason)"""
    if a.key and a.key == b.key and len(a.key) >= 10:
        return True, 1.0, "title"
    if a.nums and b.nums and a.nums != b.nums:
        return False, 0.0, "different figures"
    if a.months and b.months and a.months != b.months:
        return False, 0.0, "different months"
    if (a.caps - b.caps) and (b.caps - a.caps) and len(a.caps ^ b.caps) >= 2 and \
            not (a.caps - b.caps) & b.summary and not (b.caps - a.caps) & a.summary:
        # each headline names someone or somewhere the other does not: different events
        if _jaccard(a.title, b.title) < 0.75:
            return False, 0.0, "different names"
    if a.again != b.again:
        return False, 0.0, "follow-up event"
    tj = _jaccard(a.title, b.title)
    small = min(len(a.title), len(b.title))
    tc = len(a.title & b.title) / small if small else 0.0
    if not (a.title - b.title) or not (b.title - a.title):
        # one headline contains the other ("UPDATE 1-..." adds a clause): same story
        if tc >= 0.85 and small >= 4:
            return True, tc, "similar"
        return False, tc, ""
    # each headline has words the other lacks: a rewording, or the same template about another event
    if len(a.summary) >= 3 and len(b.summary) >= 3:
        sj = _jaccard(a.summary, b.summary)
        both = _jaccard(a.title | a.summary, b.title | b.summary)
        if tj >= 0.25 and sj >= 0.15 and both >= 0.28:
            return True, both, "similar"
        return False, both, ""
    if tj >= 0.75:
        return True, tj, "similar"
    return False, tj, ""


class Deduper:
    """In-memory duplicate index. `check` decides, `add` remembers; `process` does both."""

    def __init__(self, window: float = 48 * 3600, *, max_postings: int = 64, probe: int = 8):
        self.window = window
        self.max_postings = max_postings
        self.probe = probe
        self._guid: dict[str, str] = {}
        self._url: dict[str, str] = {}
        self._key: dict[tuple, Sig] = {}
        self._post: dict[str, deque[Sig]] = {}
        self._df: Counter[str] = Counter()
        self._order: deque[tuple[float, Sig, str]] = deque()   # (added_at, sig, canonical url)

    def __len__(self) -> int:
        return len(self._order)

    @staticmethod
    def _time(entry: Entry, now: datetime | None) -> float:
        when = entry.published or now or datetime.now(timezone.utc)
        return (when - _EPOCH).total_seconds()

    def check(self, entry: Entry, now: datetime | None = None) -> DupVerdict:
        if entry.id in self._guid:
            return DupVerdict(self._guid[entry.id], "guid", 1.0)
        url = canonical_url(entry.link) if entry.link else ""
        if url and url in self._url:
            return DupVerdict(self._url[url], "url", 1.0)
        sig = signature(entry, self._time(entry, now))
        return self._near(sig)

    def _near(self, sig: Sig) -> DupVerdict:
        same = self._key.get((sig.lang, sig.key)) if len(sig.key) >= 10 else None
        if same is not None and abs(same.t - sig.t) <= self.window:
            return DupVerdict(same.root, "title", 1.0)
        probes = sorted(sig.title, key=lambda f: self._df.get(f, 0))[: self.probe]
        seen: set[int] = set()
        best: tuple[float, Sig | None, str] = (0.0, None, "")
        for f in probes:
            for cand in reversed(self._post.get(f, ())):
                if id(cand) in seen:
                    continue
                seen.add(id(cand))
                if cand.lang != sig.lang or abs(cand.t - sig.t) > self.window:
                    continue
                ok, score, reason = similar(cand, sig)
                if ok and score > best[0]:
                    best = (score, cand, reason)
        if best[1] is not None:
            return DupVerdict(best[1].root, best[2], round(best[0], 3))
        return DupVerdict(None)

    def add(self, entry: Entry, verdict: DupVerdict | None = None, *, now: datetime | None = None,
            added_at: float | None = None) -> None:
        root = verdict.duplicate_of if verdict and verdict.duplicate_of else entry.id
        self._guid.setdefault(entry.id, root)
        url = canonical_url(entry.link) if entry.link else ""
        if url:
            self._url.setdefault(url, root)
        sig = signature(entry, self._time(entry, now))
        sig.root = root
        if len(sig.key) >= 10:
            self._key.setdefault((sig.lang, sig.key), sig)
        for f in sig.title:
            dq = self._post.get(f)
            if dq is None:
                dq = self._post[f] = deque(maxlen=self.max_postings)
            dq.append(sig)
            self._df[f] += 1
        self._order.append((added_at if added_at is not None else sig.t, sig, url))

    def process(self, entry: Entry, now: datetime | None = None) -> DupVerdict:
        v = self.check(entry, now)
        self.add(entry, v, now=now)
        return v

    def expire(self, before: float) -> int:
        """Forget entries added before `before` (seconds since the epoch). Returns how many."""
        n = 0
        while self._order and self._order[0][0] < before:
            _, sig, url = self._order.popleft()
            n += 1
            if self._guid.get(sig.id) == sig.root:
                self._guid.pop(sig.id, None)
            if url and self._url.get(url) == sig.root:
                self._url.pop(url, None)
            if self._key.get((sig.lang, sig.key)) is sig:
                del self._key[(sig.lang, sig.key)]
            for f in sig.title:
                self._df[f] -= 1
                if self._df[f] <= 0:
                    del self._df[f]
                    self._post.pop(f, None)
                else:
                    dq = self._post.get(f)
                    if dq and dq[0] is sig:
                        dq.popleft()
        return n
