"""The copy signature of a headline (pure): what the duplicate index keeps of an entry and how
two compare (bot.core.dedup holds the index).

clean_title drops outlet suffixes and labels; signature() makes a Sig: the headline's features
(Latin words, stop words dropped, cut to 6 letters; CJK character bigrams), a digest of its key,
figures, months, capitalised names and whether it reports a follow-up ("again"). similar() decides
whether two Sigs are the same story. pack_sig/unpack_sig: the Sig as the store keeps it with
each item (warm-up decodes it instead of recomputing it).
"""
from __future__ import annotations

import re
import sys
from hashlib import blake2b
from itertools import chain, filterfalse
from operator import itemgetter

from bot.core.model import Entry
from bot.core.normalize import _STOP_SETS, fold, prep

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
