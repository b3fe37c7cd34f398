"""Duplicate detection (pure): the same story from several outlets counts once.

Exact duplicates: the same guid, or the same canonical URL. Near duplicates: the same story from
another outlet or a reworded wire headline, in the same language, published within the window
(default 48 h). First seen is kept; later copies point to it (to its root when it is itself a copy).

Cost per item does not grow with the window: candidates come from an inverted index over the
title's rarest features, each posting list capped to its most recent entries. What the index
keeps of a headline (its Sig) and how two compare: bot.core.copysig.
"""
from __future__ import annotations

from collections import deque

try:
    from collections import _count_elements     # Counter.update's C loop, on any dict
except ImportError:                                 # pragma: no cover (other Pythons)
    def _count_elements(mapping, iterable):
        get = mapping.get
        for x in iterable:
            mapping[x] = get(x, 0) + 1
from datetime import datetime, timezone

from bot.core.model import DupVerdict, Entry
from bot.core.normalize import prep
from bot.core.urlclean import canonical_url
# the copy signature, also imported from here by the adapters, story features and tests
from bot.core.copysig import (  # noqa: F401
    SIG_FORMAT, Sig, _AGAIN, _CAP, _EMPTY, _MONTHS, _PREFIX, _STOP, _SUFFIX, _cjk_features,
    _intern, _suffix_start, clean_title, features_folded, pack_sig, signature, similar, unpack_sig)

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


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
