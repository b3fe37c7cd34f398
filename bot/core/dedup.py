"""Duplicate detection (pure): the same story from several outlets counts once.

Exact duplicates: the same guid, or the same canonical URL. Near duplicates: the same story from
another outlet or a reworded wire headline, in the same language, published within the window
(default 48 h). First seen is kept; later copies point to it (to its root when it is itself a copy).

Cost per item does not grow with the window: candidates come from an inverted index over the
title's rarest features, each posting list capped to its most recent entries.
"""
from __future__ import annotations

import re
import sys
from hashlib import blake2b
from collections import Counter, deque
from itertools import chain, filterfalse
from operator import itemgetter

try:
    from collections import _count_elements     # Counter.update's C loop, on any dict
except ImportError:                                 # pragma: no cover (other Pythons)
    def _count_elements(mapping, iterable):
        get = mapping.get
        for x in iterable:
            mapping[x] = get(x, 0) + 1
from datetime import datetime, timezone

from bot.core.model import DupVerdict, Entry
from bot.core.normalize import _STOP_SETS, fold, prep
from bot.core.urlclean import canonical_url

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_STOP = frozenset().union(*_STOP_SETS.values()) | frozenset(
    "update updated exclusive breaking live video watch analysis opinion factbox explainer "
    "s t says said say".split())
# " - Outlet", " | Outlet", "（ロイター）", "【速報】": outlet names and labels around headlines
_SUFFIX = re.compile(r"\s+(?:[-|–—]|\|)\s+[^-|–—]{2,40}$|\s*[|｜]\s*[^|｜]{1,30}$|\s*[（(][^（）()]{1,15}[）)]\s*$")
_PREFIX = re.compile(r"^(?:(?:UPDATE|CORRECTED|REFILE|EXCLUSIVE|BREAKING|WRAPUP|ANALYSIS)"
                     r"(?:\s*\d+)?\s*[-:]\s*|【[^】]{1,12}】\s*|\[[^\]]{1,12}\]\s*)", re.I)
# the first characters _PREFIX can start with (any case): most headlines skip it at once
_PREFIX_FIRST = frozenset("UuCcRrEeBbWwAa【[")
# (a pattern written "[x][x]*" rather than "[x]+" starts with its class: the regex engine then
# scans for that class in C; "[x]+" is tried at every position)
_LATIN = re.compile(r"[a-z0-9][a-z0-9]*")
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af][\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]*")
# feature runs skip hiragana: in Japanese headlines it is mostly particles (に, を, が, は, の),
# which, like stop words, make unrelated headlines look alike
_CJK_CONTENT = re.compile(r"[\u30a0-\u30ff\u4e00-\u9fff\uac00-\ud7af]+")
_NUM = re.compile(r"\d\d*(?:[.,]\d+)?")
# a capitalised word not preceded by a word character or an apostrophe (the lookbehind after the
# first letter: the search then only stops at capitals)
_CAP = re.compile(r"[A-Z](?<![\w'][A-Z])[A-Za-z]+")
_MONTHS = frozenset(
    "january february march april may june july august september october november december "
    "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre".split())


# a follow-up event, not a copy: "X again", "second hearing", 再び, nuevamente
_AGAIN = re.compile(r"\b(?:again|second|another|renewed|fresh|nuevamente|de nuevo|otra vez|segunda|"
                    r"segundo|nueva ronda|erneut|wieder|encore|novamente)\b|再び|再度|改めて|2度目|二度目")


# The same three suffix shapes read backwards from the end (an anchored match on the reversed
# title): `_SUFFIX.search` tries every position of the headline; these look at its tail only.
# Only where the suffix starts matters: the leftmost start of the search is the longest reversed
# match (each ends with a greedy run of the spaces before the separator).
_SUFFIX_REV = (re.compile(r"[^-|–—]{2,40}\s+[-|–—]\s+"), re.compile(r"[^|｜]{1,30}\s*[|｜]\s*"),
               re.compile(r"\s*[）)][^（）()]{1,15}[（(]\s*"))


# a suffix needs one of these separators, or a closing bracket last (most headlines have neither)
_SUFFIX_SEP = re.compile("[-|–—｜]")
_SUFFIX_LAST = frozenset(")）")


def _suffix_start(t: str) -> int:
    """Where `_SUFFIX.search(t)` would start (t without trailing whitespace), or -1."""
    if t[-1] not in _SUFFIX_LAST and _SUFFIX_SEP.search(t) is None:
        return -1                               # (the greedy runs below backtrack ~70 steps)
    r = t[::-1]
    end = 0
    for p in _SUFFIX_REV:
        m = p.match(r)
        if m is not None and m.end() > end:
            end = m.end()
    return len(t) - end if end else -1


def clean_title(title: str) -> str:
    t = title.strip()
    for _ in range(2):
        t2 = _PREFIX.sub("", t) if t[:1] in _PREFIX_FIRST else t
        if t2 and not t2[-1].isspace():
            start = _suffix_start(t2)
        else:                                   # only when the prefix took the whole title
            m = _SUFFIX.search(t2)
            start = m.start() if m else -1
        if start >= 8:
            t2 = t2[:start]
        if t2 == t:
            break
        t = t2.strip()
    return t


_intern = sys.intern


def _stem(w: str) -> str:
    return _intern(w[:6])


# the character bigrams of every _CJK_CONTENT run, and the runs of one character, each in one pass:
# the pairs at even offsets of each run, then those at odd offsets (a pair preceded by a CJK
# character, non-overlapping: after one, the next odd pair starts two further on); each pattern
# starts with the character class, which the regex engine scans for in C (a pattern starting with
# a look-around is tried at every position)
_C = "[\u30a0-\u30ff\u4e00-\u9fff\uac00-\ud7af]"
_CJK_EVEN = re.compile(_C + _C)
_CJK_ODD = re.compile(_C + "(?<=" + _C + _C + ")" + _C)
_CJK_SINGLE = re.compile(_C + "(?<!" + _C + ".)(?!" + _C + ")")


def _cjk_features(f: str, out: set) -> None:
    """CJK bigrams of each content run (and a run of one character itself)."""
    out.update(map(_intern, _CJK_EVEN.findall(f)))
    out.update(map(_intern, _CJK_ODD.findall(f)))
    one = _CJK_SINGLE.findall(f)
    if one:
        out.update(map(_intern, one))


_first6 = itemgetter(slice(None, 6))            # w[:6], in C
_is_stop = _STOP.__contains__


def _word_iter(words):
    """The words' features (stop words dropped, the first 6 letters of the rest), interned."""
    return map(_intern, map(_first6, filterfalse(_is_stop, words)))


def _word_features(words) -> set[str]:
    return set(_word_iter(words))


def features_folded(f: str) -> set[str]:
    """Features of already-folded text: Latin words (stop words dropped, crude 6-letter stems)
    and CJK character bigrams (kanji, katakana, hangul). Interned: the index holds each distinct
    feature once."""
    out = _word_features(_LATIN.findall(f))
    if not f.isascii():
        _cjk_features(f, out)
    return out


_EMPTY: frozenset = frozenset()


def _interned(xs) -> frozenset:
    return frozenset(map(_intern, xs)) if xs else _EMPTY


def _sig_from(id, root, lang, t, key, title, nums, months, caps, again, sfold, summary):
    """Unpickling (a Sig made in a parser worker): the index keeps each feature string once."""
    sig = Sig(id, root, lang, t, key, _interned(title), nums, months, _interned(caps), again, sfold)
    if summary is not None:
        sig._summary = _interned(summary)
        sig._sfold = None
    return sig


def _fs(x) -> frozenset:
    """A feature set as a frozenset (an indexed Sig keeps its sets as tuples)."""
    return x if x.__class__ is frozenset else frozenset(x)


# Sig._summary while Sig._sfold holds the raw (not yet folded) summary
_RAW = object()
# Sig._summary while Sig._sfold is a function reading the raw summary of a stored item (its id ->
# text): a warmed index does not hold the window's summaries, it reads the few it compares
_STORED = object()


class Sig:
    """What the index keeps of an entry. Summary features are computed only when a candidate
    gets that far (most are decided on the headline alone).

    Memory: a Sig being checked holds its feature sets as frozensets; once indexed (compact())
    it holds them as tuples (a third of the size; similar() only needs one side as a set), the
    raw summary without a wrapper, and the index's bookkeeping (`added`, `url`) in its slots."""

    __slots__ = ("id", "root", "lang", "t", "key", "title", "nums", "months", "caps", "again",
                 "_sfold", "_summary", "added", "url")

    def __init__(self, id, root, lang, t, key, title, nums, months, caps, again, sfold):
        self.id, self.root, self.lang, self.t, self.key = id, root, lang, t, key
        self.title, self.nums, self.months, self.caps, self.again = title, nums, months, caps, again
        self.set_summary(sfold)

    def set_summary(self, sfold) -> None:
        """`sfold`: the folded summary (str), or (raw summary,) to fold on first need."""
        if sfold.__class__ is tuple:
            self._sfold, self._summary = sfold[0], _RAW
        else:
            self._sfold, self._summary = sfold, None

    def summary_from(self, read) -> None:
        """The summary is the stored item's: `read(id)` gives its raw text on first need."""
        self._sfold, self._summary = read, _STORED

    def __reduce__(self):
        summary, sfold = self._summary, self._sfold
        if summary is _STORED:
            summary, sfold = _RAW, sfold(self.id)[:400]
        if summary is _RAW:
            summary, sfold = None, (sfold,)
        return _sig_from, (self.id, self.root, self.lang, self.t, self.key, _fs(self.title),
                           _fs(self.nums), _fs(self.months), _fs(self.caps), self.again, sfold,
                           summary)

    def compact(self) -> None:
        """As kept in the index: feature sets as tuples (the same iteration order)."""
        self.title = tuple(self.title)
        self.caps = tuple(self.caps)
        self.nums = tuple(self.nums)
        self.months = tuple(self.months)
        if self.lang.__class__ is str:
            self.lang = _intern(self.lang)      # one "en" for the index, not one per stored row

    @property
    def summary(self) -> frozenset:
        summary = self._summary
        if summary is None or summary is _RAW or summary is _STORED:
            sfold = self._sfold
            if summary is _STORED:              # a stored item's: read on first need
                summary, sfold = _RAW, sfold(self.id)[:400]
            if summary is _RAW:                 # raw summary: folded on first need
                sfold = fold(sfold)[:400]
            summary = self._summary = frozenset(features_folded(sfold)) if sfold else _EMPTY
            self._sfold = None
        return summary


# "again", "second", ...: _AGAIN can only match (its words stand between word boundaries) where
# one of these is a Latin word of the headline (the characters around a match are no [a-z0-9]),
# or where the headline holds 再, 度目 or 改めて (its CJK forms)
_AGAIN_WORDS = frozenset("again second another renewed fresh nuevamente nuevo vez segunda segundo "
                         "ronda erneut wieder encore novamente".split())


def signature(entry: Entry, t: float, folded_summary: str | None = None,
              prepped_title: str | None = None) -> Sig:
    title = clean_title(prepped_title if prepped_title is not None else prep(entry.title))
    ft = title.lower()
    words = _LATIN.findall(ft)
    key = " ".join(words)
    ascii_ = ft.isascii()
    # (accented Latin has no CJK run: no bigram to look for)
    if ascii_ or not (runs := _CJK_RUN.findall(ft)):
        feats = frozenset(_word_iter(words))
    else:
        key += "".join(runs)
        feats = frozenset(chain(_word_iter(words), map(_intern, _CJK_EVEN.findall(ft)),
                                map(_intern, _CJK_ODD.findall(ft)),
                                map(_intern, _CJK_SINGLE.findall(ft))))
    # the headline key is only ever compared for equality, and only from 10 characters on: kept
    # as a 16-byte digest (a third of the headline's size; a collision is a 2**-128 chance)
    key = blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest() \
        if len(key) >= 10 else ""
    caps = _CAP.findall(title)
    if caps:
        if title.startswith(caps[0]):
            del caps[0]
        caps = frozenset(map(_intern, map(str.lower, map(_first6, caps)))) if caps else _EMPTY
    else:
        caps = _EMPTY
    if folded_summary is None:
        # folded when a candidate first gets as far as the summaries (most never do)
        sfold = (entry.summary[:400],) if entry.summary else ""
    else:
        sfold = folded_summary[:400]
    nums = _NUM.findall(title)
    again = bool(_AGAIN.search(ft)) if (not _AGAIN_WORDS.isdisjoint(words) or (
        not ascii_ and ("再" in ft or "度目" in ft or "改めて" in ft))) else False
    return Sig(entry.id, entry.id, entry.lang, t, key, feats,
               frozenset(n.replace(",", ".") for n in nums) if nums else _EMPTY,
               _MONTHS.intersection(words) or _EMPTY, caps, again, sfold)


def _jaccard(a: frozenset, b: frozenset) -> float:
    if not a or not b:
        return 0.0
    i = len(a & b)
    return i / (len(a) + len(b) - i)


def similar(a: Sig, b: Sig) -> tuple[bool, float, str]:
    """Is b the same story as a? (decision, score, reason)"""
    if a.key and a.key == b.key and len(a.key) >= 10:
        return True, 1.0, "title"
    at, bt = a.title, b.title
    # an indexed Sig keeps tuples: intersect with whichever side is a set
    if bt.__class__ is frozenset:
        shared = len(bt.intersection(at))
    elif at.__class__ is frozenset:
        shared = len(at.intersection(bt))
    else:
        shared = len(frozenset(at).intersection(bt))
    small = min(len(at), len(bt))
    if not small:
        return False, 0.0, ""
    tj = shared / (len(at) + len(bt) - shared)
    tc = shared / small
    if tj < 0.25 and tc < 0.85:
        return False, tj, ""                    # no rule below can accept: decided cheaply
    if a.nums and b.nums and _fs(a.nums) != _fs(b.nums):
        return False, 0.0, "different figures"
    if a.months and b.months and _fs(a.months) != _fs(b.months):
        return False, 0.0, "different months"
    ac, bc = a.caps, b.caps
    only_a = _fs(ac).difference(bc) if ac else _EMPTY
    only_b = _fs(bc).difference(ac) if bc else _EMPTY
    if only_a and only_b and not only_a & b.summary and not only_b & a.summary:
        # each headline names someone or somewhere the other does not: different events
        return False, 0.0, "different names"
    if a.again != b.again:
        return False, 0.0, "follow-up event"
    if shared == len(at) or shared == len(bt):
        # one headline contains the other ("UPDATE 1-..." adds a clause): same story
        if tc >= 0.85 and small >= 4:
            return True, tc, "similar"
        return False, tc, ""
    # each headline has words the other lacks: a rewording, or the same template about another event
    sa, sb = a.summary, b.summary
    if len(sa) >= 3 and len(sb) >= 3:
        sj = _jaccard(sa, sb)
        both = _jaccard(sa.union(at), sb.union(bt))
        if tj >= 0.25 and sj >= 0.15 and both >= 0.28:
            return True, both, "similar"
        return False, both, ""
    if tj >= 0.75:
        return True, tj, "similar"
    return False, tj, ""



def add_postings(post: dict, df: dict, terms, obj, cap: int) -> None:
    """Index `obj` under each term: postings keep the newest `cap` entries (trimmed in batches
    at 2 x cap, so the cost per add stays constant) and `df` counts every add."""
    get, top = post.get, 2 * cap
    for term in terms:
        lst = get(term)
        if lst is None:
            post[term] = [obj]
        else:
            lst.append(obj)
            if len(lst) > top:
                del lst[:-cap]
    _count_elements(df, terms)              # df[term] += 1 for each, in C


def drop_postings(post: dict, df: dict, terms, obj, *, single: bool = False) -> None:
    """Expire `obj` (the oldest entry) from each term's postings, as add_postings added it
    (`single`: as _add_sig did: a posting of one is the object itself, no entry for none)."""
    for term in terms:
        left = df.get(term, 0) - 1
        if left <= 0:
            df.pop(term, None)
            post.pop(term, None)
        else:
            df[term] = left
            lst = post.get(term)
            if single and lst is obj:
                del post[term]
            elif lst and lst.__class__ is list and lst[0] is obj:
                del lst[0]
                if single and len(lst) == 1:
                    post[term] = lst[0]


def _add_sig(post: dict, df: dict, terms, sig: Sig, cap: int) -> None:
    """add_postings for the copy index, where most features are in one headline only: a term's
    postings are the Sig itself while there is one, a list from the second on (no list each)."""
    get, top = post.get, 2 * cap
    for term in terms:
        lst = get(term)
        if lst is None:
            post[term] = sig
        elif lst.__class__ is list:
            lst.append(sig)
            if len(lst) > top:
                del lst[:-cap]
        else:
            post[term] = [lst, sig]
    _count_elements(df, terms)


def _probes(df: dict, title, k: int) -> list:
    """The features of `title` the index holds (`df`: how many of its items hold each), in term
    order; when more than `k`, the `k` rarest, ties in term order. What _near looks up. (Only
    features already in the index can find anything, and the rarest are the best probes. In
    the order of the features themselves, not of the set, which varies between processes: a
    signature made in a parser worker finds and ranks candidates the same.) Filtered in C into
    a list (no intermediate set), sorted in place."""
    probes = list(filter(df.__contains__, title))
    probes.sort()
    if len(probes) > k:
        probes.sort(key=df.__getitem__)     # rarest first (stable: ties stay in term order)
        del probes[k:]
    return probes


def _candidates(post: dict, probes: list, cap: int):
    """The Sigs the probes' newest `cap` postings hold (a probe's postings: a list, or one Sig),
    in the order first seen; with more than two probes only those holding two or more (one
    shared rare feature is not enough).

    Every probe's postings but the last in one list, counted in one C call; then the last
    probe's, only where they add to a Sig already counted: a Sig first seen there holds one probe
    (a Sig is posted once under each of its features), so it is never a candidate, and leaving it
    out keeps the count dict small (fewer table resizes)."""
    lists = list(map(post.get, probes))
    need_two = len(lists) > 2
    last = lists.pop() if need_two else None
    flat: list = []
    extend, append = flat.extend, flat.append
    for lst in lists:
        if lst.__class__ is list:
            extend(lst[-cap:] if len(lst) > cap else lst)
        elif lst is not None:                   # one Sig
            append(lst)
    counts: dict[Sig, int] = {}
    _count_elements(counts, flat)
    if not need_two:
        return counts
    if last.__class__ is list:
        _count_elements(counts, filter(counts.__contains__,
                                       last[-cap:] if len(last) > cap else last))
    elif last in counts:
        counts[last] += 1
    return [c for c, n in counts.items() if n > 1]


class Deduper:
    """In-memory duplicate index. `check` decides, `add` remembers; `process` does both."""

    def __init__(self, window: float = 48 * 3600, *, max_postings: int = 16, probe: int = 8,
                 stories: bool = True):
        self.window = window
        # independently worded reports of one event (core/stories.py), beside the copies here
        self.stories = _stories.StoryIndex(window) if stories else None
        self.max_postings = max_postings
        self.probe = probe
        self._guid: dict[str, str] = {}
        self._url: dict[str, str] = {}
        self._key: dict[object, dict[str, Sig]] = {}          # lang -> headline key -> Sig
        self._post: dict[str, list[Sig] | Sig] = {}   # a Sig alone, a list from the second on
        self._df: dict[str, int] = {}
        self._order: deque[Sig] = deque()       # in add order (sig.added: when, sig.url)
        self._loader = None

    def defer(self, loader) -> None:
        """Fill the index on first need: `loader()` (which add()s what it must remember) runs
        when the index is first asked to decide or to tell what it holds. A start-up that never
        decides an item (a poll whose feeds all answer 304) never pays for it."""
        self._loader = loader

    @property
    def loaded(self) -> bool:
        """False while a deferred loader has not run yet."""
        return self._loader is None

    def load(self) -> None:
        """Run the deferred loader now (if any)."""
        loader, self._loader = self._loader, None
        if loader is not None:
            try:
                loader()
            except BaseException:
                self._loader = loader          # not loaded: tried again on next need
                raise

    def __len__(self) -> int:
        if self._loader is not None:
            self.load()
        return len(self._order)

    def __contains__(self, guid: str) -> bool:
        """An entry with this guid is in the index."""
        if self._loader is not None:
            self.load()
        return guid in self._guid

    @staticmethod
    def _time(entry: Entry, now: datetime | None) -> float:
        when = entry.published or now or datetime.now(timezone.utc)
        return (when - _EPOCH).total_seconds()

    def check(self, entry: Entry, now: datetime | None = None) -> DupVerdict:
        if self._loader is not None:
            self.load()
        return self._check(entry, canonical_url(entry.link) if entry.link else "",
                           lambda: signature(entry, self._time(entry, now)))[0]

    def _check(self, entry: Entry, url: str, make_sig) -> tuple[DupVerdict, Sig | None]:
        if entry.id in self._guid:
            return DupVerdict(self._guid[entry.id], "guid", 1.0), None
        if url and url in self._url:
            return DupVerdict(self._url[url], "url", 1.0), None
        sig = make_sig()
        return self._near(sig), sig

    def _near(self, sig: Sig) -> DupVerdict:
        keys = self._key.get(sig.lang) if len(sig.key) >= 10 else None
        same = keys.get(sig.key) if keys is not None else None
        if same is not None and abs(same.t - sig.t) <= self.window:
            return DupVerdict(same.root, "title", 1.0)
        df, post = self._df, self._post
        title = sig.title
        probes = _probes(df, title, self.probe)
        if not probes:
            return DupVerdict(None)
        cands = _candidates(post, probes, self.max_postings)
        if not cands:
            return DupVerdict(None)
        lang, t, window = sig.lang, sig.t, self.window
        best: tuple[float, Sig | None, str] = (0.0, None, "")
        # similar()'s first test, inlined: most candidates share too few headline words, and
        # rejecting them here (the same arithmetic) saves a call each
        quick = title.__class__ is frozenset
        if quick:
            inter, lb = title.intersection, len(title)
            skey = sig.key if len(sig.key) >= 10 else None
        for cand in cands:
            if cand.lang != lang or abs(cand.t - t) > window:
                continue
            if quick and (skey is None or cand.key != skey):
                la = len(cand.title)
                if not la or not lb:
                    continue
                shared = len(inter(cand.title))
                if (shared / (la + lb - shared) < 0.25
                        and shared / (la if la < lb else lb) < 0.85):
                    continue
            ok, score, reason = similar(cand, sig)
            if ok and score > best[0]:
                best = (score, cand, reason)
        if best[1] is not None:
            return DupVerdict(best[1].root, best[2], round(best[0], 3))
        return DupVerdict(None)

    def add(self, entry: Entry, verdict: DupVerdict | None = None, *, now: datetime | None = None,
            added_at: float | None = None, sig: Sig | None = None, url: str | None = None,
            watchlists=(), topic=(), story=None) -> None:
        """Remember an entry (and its story: the `watchlists` it matched, the `topic` texts that
        matched; `story` the features when the caller computed them already)."""
        if self._loader is not None:
            self.load()
        root = verdict.duplicate_of if verdict and verdict.duplicate_of else entry.id
        if sig is None:
            sig = signature(entry, self._time(entry, now))
        sig.compact()
        if self.stories is not None and watchlists:      # stories are kept per watchlist
            if story is None:
                story = _stories.features(prep(entry.title), prep(entry.summary[:400]) if entry.summary
                                 else "", entry.lang, topic)
            self.stories.add(entry.id, root, _intern(entry.lang) if entry.lang.__class__ is str
                             else entry.lang, sig.t, watchlists, story,
                             title=entry.title, added_at=added_at, gate=sig.title)
        if url is None:
            url = canonical_url(entry.link) if entry.link else ""
        self._index(entry.id, root, sig, url, added_at)

    def add_stored(self, sig: Sig, url: str, added_at: float | None = None) -> None:
        """Remember a stored item (no story) from its decoded signature (unpack_sig: id, root,
        lang, time and summary already set): what add() does for it, without the entry."""
        if self._loader is not None:
            self.load()
        sig.compact()
        self._index(sig.id, sig.root, sig, url, added_at)

    def _index(self, id: str, root: str, sig: Sig, url: str, added_at: float | None) -> None:
        self._guid.setdefault(id, root)
        if url:
            if url == id:
                url = id                        # one string for both (guid = link is common)
            self._url.setdefault(url, root)
        sig.root = root
        if len(sig.key) >= 10:
            keys = self._key.get(sig.lang)
            if keys is None:
                keys = self._key[sig.lang] = {}
            keys.setdefault(sig.key, sig)
        _add_sig(self._post, self._df, sig.title, sig, self.max_postings)
        # (the same float object as sig.t when equal, as it mostly is)
        sig.added = added_at if added_at is not None and added_at != sig.t else sig.t
        sig.url = url
        self._order.append(sig)

    def process(self, entry: Entry, now: datetime | None = None,
                folded_summary: str | None = None, prepped_title: str | None = None, *,
                hits=(), prepped_summary: str | None = None,
                prepared: "Prepared | None" = None) -> DupVerdict:
        """Copy check, then (when it is no copy) the story check; remembers the entry either way.
        `hits`: what the entry matched (stories are compared within shared watchlists).
        `prepared`: prepare()'s result for this entry (computed elsewhere, e.g. in a parser
        worker); then only the index lookups are done here."""
        if self._loader is not None:
            self.load()
        if prepared is None:
            prepared = prepare(entry, prepped_title, prepped_summary, hits,
                               folded_summary=folded_summary, stories=self.stories is not None)
        url, sig, wls, topic = prepared.url, prepared.sig, prepared.wls, prepared.topic
        t = sig.t = self._time(entry, now)
        verdict, checked = self._check(entry, url, lambda: sig)
        if checked is None:
            # an exact copy (guid, URL): indexed with the summary folded from the entry itself,
            # as add() has always done for it
            sig.set_summary((entry.summary[:400],) if entry.summary else "")
        story = prepared.story
        # an item no watchlist matched is never delivered: it only joins a watched story, when its
        # headline shares rare words with one (a cheap gate: most items stop there)
        if self.stories is not None and (wls or (verdict.duplicate_of is None
                                                 and self.stories.gate(sig.title, self._gate_df(sig)))):
            if story is None:
                story = prepared.story_features(entry)
            if verdict.reason == "similar" and self.stories.conflicts(verdict.duplicate_of, story):
                verdict = DupVerdict(None)      # a look-alike text about another event
            if verdict.duplicate_of is None:
                sv = self.stories.check(entry.id, entry.lang, t, wls, story, any_watchlist=not wls)
                if sv is not None:
                    verdict = DupVerdict(sv.root, "story", sv.score, sv.evidence)
        self.add(entry, verdict, now=now, sig=sig, url=url, watchlists=wls, topic=topic,
                 story=story if wls else None)
        return verdict

    def prefetch(self, prepared) -> None:
        """Look up ahead what a batch about to be decided needs (dedup.Prepared of each). An
        index held in memory has it all; LazyDeduper reads its stored window here in one pass."""

    def _gate_df(self, sig: Sig) -> dict:
        """The df the story gate reads for `sig`'s headline (LazyDeduper: the merged one)."""
        return self._df

    def expire(self, before: float) -> int:
        """Forget entries added before `before` (seconds since the epoch). Returns how many.
        (Nothing to forget while the index is not loaded: the loader reads the window only.)"""
        if self._loader is not None:
            return 0
        if self.stories is not None:
            self.stories.expire(before)
        n = 0
        post, df = self._post, self._df
        order = self._order
        while order and order[0].added < before:
            sig = order.popleft()
            url = sig.url
            n += 1
            if self._guid.get(sig.id) == sig.root:
                self._guid.pop(sig.id, None)
            if url and self._url.get(url) == sig.root:
                self._url.pop(url, None)
            keys = self._key.get(sig.lang)
            if keys is not None and keys.get(sig.key) is sig:
                del keys[sig.key]
            drop_postings(post, df, sig.title, sig, single=True)
        return n


class Prepared:
    """Everything the duplicate check needs that depends on the entry alone (prepare()):
    picklable, so a parser worker can compute it; the index lookups stay with the Deduper."""

    __slots__ = ("url", "sig", "wls", "topic", "story", "_tp", "_sp", "_packed", "story_packed")

    def __init__(self, url, sig, wls, topic, story, tp, sp, packed=None, story_packed=None):
        self.url, self.sig, self.wls, self.topic, self.story = url, sig, wls, topic, story
        self._tp, self._sp, self._packed = tp, sp, packed
        # the story features as the store keeps them (stories.pack_features), when prepare()
        # could vouch that warm-up would compute the same from the stored item
        self.story_packed = story_packed

    def packed(self) -> str:
        """The signature as the store keeps it with the item (pack_sig; warm-up decodes it)."""
        if self._packed is None:
            self._packed = pack_sig(self.sig)
        return self._packed

    def __reduce__(self):
        # The wire form from a parser worker: the Sig's headline part as the one string the
        # store keeps with the item (pack_sig: feature sets space-joined), and the folded
        # summary left out when it is the kept summary lower-cased (prepare()'s case): rebuilt
        # on arrival by split/intern/lower in C, the string kept for the store as it came.
        # Anything else (a Sig already timed, folded or compact) travels in the full form.
        sig, sp = self.sig, self._sp
        if (sig.__class__ is Sig and sig.t == 0.0 and sig._summary is None
                and sig.title.__class__ is frozenset and sig.caps.__class__ is frozenset
                and sp.__class__ is str and sig._sfold == sp.lower()):
            story, surface = self.story, None
            if self.story_packed is not None and story is not None and story.w is None:
                # the story features travel as stored (rebuilt by unpack_features), their
                # surface words beside them
                story, surface = None, story.surface
            return _prepared_from, (self.url, sig.id, sig.root, sig.lang, self.packed(),
                                    self.wls, self.topic, story, self._tp, sp,
                                    self.story_packed, surface)
        return Prepared, (None,) * 8, self.__getstate__()

    def __getstate__(self):
        return (self.url, self.sig, self.wls, self.topic, self.story, self._tp, self._sp,
                self._packed, self.story_packed)

    def __setstate__(self, st):
        (self.url, self.sig, self.wls, self.topic, self.story, self._tp, self._sp,
         self._packed, self.story_packed) = st

    def story_features(self, entry: Entry):
        """The story features (computed on first need for an item no watchlist matched)."""
        if self.story is None:
            tp = self._tp if self._tp is not None else prep(entry.title)
            sp = self._sp if self._sp is not None else (
                prep(entry.summary[:400]) if entry.summary else "")
            self.story = _stories.features(tp, sp, entry.lang, self.topic, keep_surface=True)
        return self.story


def _split(joined: str) -> frozenset:
    return frozenset(map(_intern, joined.split(" "))) if joined else _EMPTY


def _prepared_from(url, id, root, lang, packed, wls, topic, story, tp, sp,
                   story_packed, surface=None) -> Prepared:
    """Unpickling Prepared's wire form (see Prepared.__reduce__): the same objects as before."""
    _, key, title, caps, nums, months, again = packed.split("\t")
    sig = Sig(id, root, lang, 0.0, bytes.fromhex(key) if key else "", _split(title),
              frozenset(nums.split(" ")) if nums else _EMPTY,
              frozenset(months.split(" ")) if months else _EMPTY, _split(caps), again == "1",
              sp.lower())
    if story is None and story_packed is not None:
        story = _stories.unpack_features(story_packed)
        story.surface = surface
    return Prepared(url, sig, wls, topic, story, tp, sp, packed, story_packed)


# --- the signature stored with each item (the store's items.dedup_sig) -----------------------
# Warm-up decodes it instead of recomputing signature() from the stored headline (prep, clean_title,
# regexes: most of the cost of a warm-up). Only the headline's part: the summary is the stored
# one, folded on first need as before. Tab-separated fields: the format ("1"), the headline key
# (hex, or "" when the headline is too short for one), then the title features, capitalised
# names, figures and months, each space-joined (features never hold whitespace: Latin [a-z0-9]
# stems, CJK characters, digits), and "1" for a follow-up ("again") headline, else "".
SIG_FORMAT = "1"


def pack_sig(sig: Sig) -> str:
    key = sig.key
    return "\t".join((SIG_FORMAT, key.hex() if key else "", " ".join(sig.title),
                      " ".join(sig.caps), " ".join(sig.nums), " ".join(sig.months),
                      "1" if sig.again else ""))


def _tuple(joined: str) -> tuple:
    return tuple(map(_intern, joined.split(" "))) if joined else ()


def unpack_sig(packed: str, id: str, root: str, lang, t: float) -> Sig:
    """The Sig of a stored item, as indexed (compact), from pack_sig's string: what
    signature() of its headline would give, timed `t` (its summary: see Sig.summary_from).
    ValueError when the string is not one pack_sig made."""
    parts = packed.split("\t")
    if len(parts) != 7 or parts[0] != SIG_FORMAT or parts[6] not in ("", "1"):
        raise ValueError(f"not a stored signature (format {SIG_FORMAT}): {packed[:60]!r}")
    _, key, title, caps, nums, months, again = parts
    if key:
        key = bytes.fromhex(key)                # ValueError if not hex
        if len(key) != 16:
            raise ValueError(f"stored signature: a {len(key)}-byte headline key")
    if title and (" " in (title[0], title[-1]) or "  " in title):
        raise ValueError(f"stored signature: bad title features {title[:60]!r}")
    return Sig(id, root, lang, t, key, _tuple(title), tuple(nums.split(" ")) if nums else (),
               _tuple(months), _tuple(caps), again == "1", "")


def prepare(entry: Entry, prepped_title: str | None = None, prepped_summary: str | None = None,
            hits=(), *, folded_summary: str | None = None, stories: bool = True) -> Prepared:
    """The pure, per-entry part of Deduper.process: canonical URL, copy signature and (when a
    watchlist matched: `hits`) the story features. `prepped_title`: prep(entry.title);
    `prepped_summary`: prep of the summary's first 400 characters (both computed when omitted).
    Safe to run in another process; pass the result to Deduper.process(prepared=...)."""
    url = canonical_url(entry.link) if entry.link else ""
    sig = signature(entry, 0.0, folded_summary, prepped_title)     # t is set by the Deduper
    wls = {h.watchlist for h in hits}
    topic = {h.text for h in hits}
    p = Prepared(url, sig, wls, topic, None, prepped_title, prepped_summary)
    if stories and wls:
        p.story_features(entry)
        # stored with the item for warm-up, which computes features(prep(title), prep(summary
        # [:400]), lang, matched texts): the same as here when the summary is no longer than
        # that and each stored match (one per watchlist, alias and field) kept its text
        if len(entry.summary) <= 400 and len({(h.watchlist, h.alias, h.field)
                                              for h in hits}) == len(hits):
            try:
                p.story_packed = _stories.pack_features(p.story)
            except ValueError:
                pass                            # recomputed at warm-up
    return p


from bot.core import stories as _stories  # noqa: E402  (stories reuses this module's rules)
