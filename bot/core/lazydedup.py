"""The duplicate check without warming the whole window (pure; the stored part is a WindowView).

A `sokuho poll --once` run from cron every minute decides a handful of new items against a window
of, say, 100,000 stored ones. Warming the in-memory index of that whole window (Deduper: guid,
URL and headline-key maps, the postings and df of every headline feature) costs seconds, for
every run, to decide 50 items. LazyDeduper gives the same verdicts reading only what they need:

* the stored window is a `WindowView` (bot/adapters/window.py): for just the features a decided
  headline holds, how many stored items of the window hold each one (df) and the newest
  `max_postings` of them in warm-up order (the postings as the warmed index holds them); the
  first stored item of a headline key in a language; the root of a stored guid or URL;
* what this run adds goes into the ordinary in-memory structures (the overlay), exactly as
  add() always did;
* each copy check sees the two merged, as a warmed index would hold them: the window's items
  first (warm-up adds them first), then the run's; df the sum; a term's postings the newest
  `max_postings` of the concatenation. Deduper._near itself runs on those small merged maps.

The story index (items a watchlist matched: a few percent of the window) is built in full, as
by warm-up; its gate reads the merged df. Anything else that needs the whole index (expire,
len) first materialises it: the window's items decoded and indexed, then the run's replayed in
their order, which is the warmed index (the same objects in the same order) from then on.
"""
from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from typing import Iterable, Protocol

from bot.core.dedup import Deduper, Sig
from bot.core.model import DupVerdict
from bot.core.stories import Report, StoryIndex


class WindowView(Protocol):
    """The stored window, frozen when it was read (items stored later are not in it)."""

    def want(self, terms: Iterable[str], keys: Iterable[bytes] = ()) -> int:
        """Look these headline features and keys up now (one pass for a whole batch); returns
        what it cost (postings matched, plus the pass itself as so many)."""

    def __len__(self) -> int: ...

    def unknown(self, terms: Iterable[str], keys: Iterable[bytes] = ()) -> bool:
        """Would want() have to look any of these up?"""

    def release(self) -> None:
        """Forget the look-up structures (all_sigs still works)."""

    def df(self, term: str) -> int:
        """How many of the window's items hold this headline feature."""

    def postings(self, term: str, cap: int) -> list[Sig]:
        """The newest `cap` of them, oldest first, as indexed (compact) Sigs; one stored item
        is always the same object."""

    def key_first(self, lang, key: bytes) -> Sig | None:
        """The first of the window's items (warm-up order) with this headline key and language."""

    def guid_root(self, guid: str) -> str | None:
        """The root of the window's item with this guid (None: not in the window)."""

    def url_root(self, url: str) -> str | None:
        """The root of the first of the window's items with this canonical link."""

    def __contains__(self, guid: str) -> bool: ...

    def all_sigs(self) -> Iterable[tuple[Sig, str, float]]:
        """Every item of the window, in warm-up order: (Sig, canonical link, added_at)."""


class _Postings:
    """The merged postings of one decision (Deduper._near reads them with .get): decoded from
    the store only for the probes _near picks."""

    __slots__ = ("view", "post", "cap")

    def __init__(self, view: WindowView, post: dict, cap: int):
        self.view, self.post, self.cap = view, post, cap

    def get(self, term, default=None):
        base = self.view.postings(term, self.cap) if self.view.df(term) else []
        mine = self.post.get(term)
        if mine is None:
            return base or default
        return base + (mine if mine.__class__ is list else [mine])

    def __getitem__(self, term):
        out = self.get(term)
        if out is None:
            raise KeyError(term)
        return out


class LazyDeduper(Deduper):
    """A Deduper whose stored window is read on demand (attach()); without a view, a Deduper."""

    def __init__(self, *args, scan_budget: float = 8.0, **kw):
        super().__init__(*args, **kw)
        self._view: WindowView | None = None
        self._last: tuple = (None, None)        # (sig, merged df) of the last copy check
        self._expire_at: float | None = None
        # what the window's look-ups may cost (WindowView.want's units: postings matched, about
        # a third of a microsecond each) per item of the window before indexing it all is
        # cheaper: warming costs ~35 us an item, so 8 lets a run spend ~7% of a warm-up on
        # look-ups (one feed's 50 new items at 100,000 stored cost ~7 a stored item); a look-up
        # that would cross it (as much as the last one) is not made
        self.scan_budget = scan_budget
        self.spent = 0
        self._last_cost = 0
        if self.stories is not None:
            self.stories = LazyStoryIndex(self.window)

    @property
    def lazy(self) -> bool:
        return self._view is not None

    def attach(self, view: WindowView, stories: "StoryWindowView | None" = None) -> None:
        """Use `view` for the stored window, `stories` for its matched items (called by the
        loader instead of warming)."""
        self._view = view
        if self.stories is not None:
            self.stories.attach(stories)

    # --- the merged view ------------------------------------------------------------------------

    def prefetch(self, prepared: Iterable) -> None:
        """Look up what a batch about to be decided needs (dedup.Prepared of each: headline
        features and keys, story terms of the matched ones) in one pass each."""
        if self._loader is not None:
            self.load()
        self._settle()
        if self._view is None:
            return
        prepared = list(prepared)
        terms: set = set()
        story: set = set()
        for p in prepared:
            terms.update(p.sig.title)
            if p.story is not None:
                story.update(p.story.terms)
        if self.stories is not None and self.stories._view is not None:
            self.stories._view.want(story, terms)
        self._want(terms, {p.sig.key for p in prepared if len(p.sig.key) >= 10})

    def _want(self, terms, keys) -> None:
        view = self._view
        budget = self.scan_budget * len(view)
        if self._cost + self._last_cost > budget and view.unknown(terms, keys):
            self.materialize()          # the next look-up would not pay: index it all once
            return
        cost = view.want(terms, keys)
        if cost:
            self.spent += cost
            self._last_cost = cost
            if self._cost > budget:
                self.materialize()

    @property
    def _cost(self) -> int:
        """What the look-ups cost so far (the story index's included)."""
        stories = self.stories._view if self.stories is not None else None
        return self.spent + (stories.spent if stories is not None else 0)

    def _merged(self, sig: Sig) -> tuple[dict, _Postings, dict]:
        title = sig.title
        self._want(title, (sig.key,) if len(sig.key) >= 10 else ())
        view = self._view
        if view is None:                        # materialised meanwhile
            return self._df, self._post, self._key
        mine = self._df
        df = {}
        for x in title:
            n = view.df(x) + mine.get(x, 0)
            if n:
                df[x] = n
        keys: dict = {}
        if len(sig.key) >= 10:
            first = view.key_first(sig.lang, sig.key)
            if first is None:
                own = self._key.get(sig.lang)
                first = own.get(sig.key) if own is not None else None
            if first is not None:
                keys[sig.lang] = {sig.key: first}
        return df, _Postings(view, self._post, self.max_postings), keys

    def _near(self, sig: Sig):
        self._settle()
        if self._view is None:
            return super()._near(sig)
        df, post, keys = self._merged(sig)
        if self._view is None:
            return super()._near(sig)
        self._last = (sig, df)
        saved = self._df, self._post, self._key
        self._df, self._post, self._key = df, post, keys
        try:
            return super()._near(sig)
        finally:
            self._df, self._post, self._key = saved

    def _gate_df(self, sig: Sig) -> dict:
        if self._view is None:
            return self._df
        last, df = self._last
        if last is not sig:
            df = self._merged(sig)[0]
        return df

    def _check(self, entry, url, make_sig):
        self._settle()
        view = self._view
        if view is None:
            return super()._check(entry, url, make_sig)
        # the window's items were added first: theirs is the root the maps kept (setdefault)
        root = view.guid_root(entry.id)
        if root is None:
            root = self._guid.get(entry.id)
        if root is not None:
            return self._verdict(root, "guid"), None
        if url:
            root = view.url_root(url)
            if root is None:
                root = self._url.get(url)
            if root is not None:
                return self._verdict(root, "url"), None
        sig = make_sig()
        return self._near(sig), sig

    @staticmethod
    def _verdict(root, reason):
        return DupVerdict(root, reason, 1.0)

    def add(self, *args, **kw) -> None:
        self._settle()
        super().add(*args, **kw)

    def add_stored(self, *args, **kw) -> None:
        self._settle()
        super().add_stored(*args, **kw)

    def __contains__(self, guid: str) -> bool:
        if self._loader is not None:
            self.load()
        self._settle()
        if self._view is not None and guid in self._view:
            return True
        return guid in self._guid

    def __len__(self) -> int:
        if self._loader is not None:
            self.load()
        self.materialize()
        return super().__len__()

    # --- the whole index, when needed -----------------------------------------------------------

    def expire(self, before: float) -> int:
        """Lazy: remembered, and done when the index is next used (materialised first): a
        `poll --once` prunes at its end and never uses the index again. Returns 0 then."""
        if self._loader is not None:
            return 0
        if self._view is None:
            return super().expire(before)
        self._expire_at = before if self._expire_at is None else max(self._expire_at, before)
        return 0

    def _settle(self) -> None:
        if self._expire_at is not None:
            before, self._expire_at = self._expire_at, None
            self.materialize()
            super().expire(before)

    def materialize(self) -> None:
        """Index the stored window in full (as warm-up does), then the run's items again in
        their order: from then on this is the warmed index."""
        if self.stories is not None:
            self.stories.materialize()
        view, self._view = self._view, None
        if view is None:
            return
        view.release()
        import gc
        mine = list(self._order)
        self._guid, self._url, self._key = {}, {}, {}
        self._post, self._df = {}, {}
        self._order.clear()
        self._last = (None, None)
        paused = gc.isenabled()
        gc.disable()
        try:
            for sig, url, added in view.all_sigs():
                self._index(sig.id, sig.root, sig, url, added)
            for sig in mine:
                self._index(sig.id, sig.root, sig, sig.url, sig.added)
        finally:
            if paused:
                gc.enable()


class StoryWindowView(Protocol):
    """The window's matched items, as the story index would hold them (frozen when read)."""

    def want(self, terms: Iterable[str] = (), gates: Iterable[str] = ()) -> bool: ...
    def df(self, term: str) -> int: ...                 # reports holding the term
    def gate(self, feature: str) -> int: ...            # reports whose headline holds it
    def n(self, lang) -> int: ...                       # reports in the language
    def postings(self, term: str, cap: int) -> list: ...    # newest `cap` Reports, oldest first
    def index_of(self, id: str) -> int | None: ...
    def report(self, i: int) -> Report: ...
    def weigh_base(self, features) -> bool: ...         # a report's, weighed as when added
    def prefetch_reports(self, reports: Iterable[Report]) -> None: ...
    def entries(self) -> Iterable[tuple]: ...            # (added_at, id, root, lang, t, wls,
    #                                                      features, title, gate), in order


class _StoryPostings:
    __slots__ = ("view", "post", "cap")

    def __init__(self, view: StoryWindowView, post: dict, cap: int):
        self.view, self.post, self.cap = view, post, cap

    def __getitem__(self, term):
        base = self.view.postings(term, self.cap) if self.view.df(term) else []
        return base + self.post.get(term, [])


class _StoryIds:
    """StoryIndex._by_id over the window's reports and the run's."""
    __slots__ = ("view", "own")

    def __init__(self, view: StoryWindowView, own: dict):
        self.view, self.own = view, own

    def get(self, id, default=None):
        r = self.own.get(id)
        if r is None:
            i = self.view.index_of(id)
            r = self.view.report(i) if i is not None else default
        return r

    def __contains__(self, id) -> bool:
        return id in self.own or self.view.index_of(id) is not None


class LazyStoryIndex(StoryIndex):
    """A StoryIndex whose window's reports are read on demand (attach()); the run's reports are
    indexed as always. Each look-up sees the two merged, as the warmed index holds them."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self._view: StoryWindowView | None = None
        self._merging = False

    def attach(self, view: StoryWindowView | None) -> None:
        if view is not None:
            view.min_docs = self.min_docs      # the rarity floor its reports are weighed with
        self._view = view

    @contextmanager
    def _merged(self, terms=(), lang=None, gates=None):
        """Within: _df (for `terms`), _n, _post, _by_id (and _gate for `gates`) merged."""
        view = self._view
        view.want(terms, gates or ())
        own_df, own_n = self._df, self._n
        df = {}
        for t in terms:
            k = view.df(t) + own_df.get(t, 0)
            if k:
                df[t] = k
        saved = (self._df, self._n, self._post, self._by_id, self._gate)
        self._df = df
        self._n = Counter({lang: view.n(lang) + own_n[lang]})
        self._post = _StoryPostings(view, saved[2], self.max_postings)
        self._by_id = _StoryIds(view, saved[3])
        if gates is not None:
            own_g = self._gate
            self._gate = {x: view.gate(x) + own_g.get(x, 0) for x in gates}
        self._merging = True
        try:
            yield
        finally:
            self._merging = False
            self._df, self._n, self._post, self._by_id, self._gate = saved

    def weigh(self, f, lang):
        if f.w is not None or self._view is None:
            return super().weigh(f, lang)
        if self._view.weigh_base(f):            # a report of the window: as when it was added
            return f
        if self._merging:
            return super().weigh(f, lang)
        with self._merged(f.terms, lang):
            return super().weigh(f, lang)

    def gate(self, headline_features, df_all: dict) -> bool:
        if self._view is None:
            return super().gate(headline_features, df_all)
        with self._merged(gates=headline_features):
            return super().gate(headline_features, df_all)

    def check(self, id, lang, t, wls, f, *, any_watchlist=False):
        if self._view is None:
            return super().check(id, lang, t, wls, f, any_watchlist=any_watchlist)
        with self._merged(f.terms, lang):
            self._prefetch(f)
            return super().check(id, lang, t, wls, f, any_watchlist=any_watchlist)

    def _prefetch(self, f) -> None:
        """The window's reports check() will score, weighed in one scan (it picks them as
        check() does; any other it needs is weighed when asked)."""
        df = self._df
        probes = sorted(x for x in f.terms if x in df)
        probes.sort(key=df.__getitem__)
        view, rows = self._view, Counter()
        for term in probes[: self.probe]:
            rows.update(self._post[term][-self.max_postings:])
        ranked = sorted(rows.items(), key=lambda kv: kv[1], reverse=True)[: self.candidates]
        view.prefetch_reports(r for r, _ in ranked)

    def conflicts(self, id, f) -> str:
        if self._view is None:
            return super().conflicts(id, f)
        with self._merged():
            return super().conflicts(id, f)

    def root_of(self, id):
        if self._view is None:
            return super().root_of(id)
        with self._merged():
            return super().root_of(id)

    def add(self, id, *args, **kw) -> None:
        if self._view is not None and self._view.index_of(id) is not None:
            return                              # the window's report (as add() skips it)
        super().add(id, *args, **kw)

    def expire(self, before: float) -> int:
        self.materialize()
        return super().expire(before)

    def __len__(self) -> int:
        self.materialize()
        return super().__len__()

    def materialize(self) -> None:
        """Index the window's reports in full, in order (weighed as they are added, as warm-up
        does), then the run's again: from then on this is the warmed story index."""
        view, self._view = self._view, None
        if view is None:
            return
        mine = list(self._order)
        self._post, self._df, self._by_id, self._gate = {}, {}, {}, {}
        self._n = Counter()
        self._order.clear()
        add = super().add
        for added, id, root, lang, t, wls, f, title, gate in view.entries():
            add(id, root, lang, t, wls, f, title, added, gate)
        for added, r in mine:
            add(r.id, r.root, r.lang, r.t, r.wls, r.f, r.title, added, r.gate)
