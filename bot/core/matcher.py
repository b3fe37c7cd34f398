"""Watchlist matching (pure): which watchlists an entry belongs to, and why.

Rules, per watchlist:
- exclude phrases are masked first: an alias inside "Marilyn Monroe" or "Cuba Gooding" does not count,
  but the same alias elsewhere in the item still does;
- an exact alias hit counts;
- an ambiguous alias (one with `context`, or `needs_context: true`) counts only when a context word
  appears in the item (within `within` characters of it, when set);
- a fuzzy hit (a typo such as "Sheinbaun") counts only when corroborated: another hit of the same
  watchlist, or one of its context words, appears in the item.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.model import Entry, Hit
from bot.core.phrases import Occurrence, Phrase, PhraseIndex
from bot.core.watchlist import Alias, Watchlist

FIELDS = ("title", "summary")


@dataclass(frozen=True, slots=True)
class _Ref:
    watchlist: str
    role: str                  # "alias", "exclude", "context" (watchlist), "alias-context"
    alias: Alias | None = None
    group: int = -1            # alias-context group id (the alias's index)


@dataclass
class Trace:
    """What `explain` shows: hits kept, and candidates rejected with the reason."""

    hits: list[Hit] = field(default_factory=list)
    rejected: list[tuple[str, str, str, str]] = field(default_factory=list)  # (alias, field, text, why)


class Matcher:
    def __init__(self, watchlists: list[Watchlist] | dict[str, Watchlist]):
        if isinstance(watchlists, dict):
            watchlists = list(watchlists.values())
        self.watchlists = {w.name: w for w in watchlists}
        phrases: list[Phrase] = []
        group = 0
        for w in watchlists:
            for _lang, a in w.all_aliases():
                fuzzy = {"auto": "auto", "exact": "off", "fuzzy": "on"}[a.match]
                phrases.append(Phrase(a.text, _Ref(w.name, "alias", a, group),
                                      a.case == "sensitive", fuzzy))
                for c in a.context:
                    phrases.append(Phrase(c, _Ref(w.name, "alias-context", None, group)))
                for c in a.unless:
                    phrases.append(Phrase(c, _Ref(w.name, "alias-unless", None, group)))
                group += 1
            for c in w.context:
                phrases.append(Phrase(c, _Ref(w.name, "context")))
            for x in w.excludes:
                phrases.append(Phrase(x, _Ref(w.name, "exclude")))
        self.index = PhraseIndex(phrases)

    # ------------------------------------------------------------------ api
    def match(self, entry: Entry, prepped: tuple[str, str] | None = None) -> list[Hit]:
        """Hits of every watchlist. `prepped`: (prep(title), prep(summary)) when already known."""
        return self._resolve(self._scan(entry, prepped), None)

    def explain(self, entry: Entry, watchlist: str | None = None) -> Trace:
        trace = Trace()
        occ = self._scan(entry)
        if watchlist is not None:
            occ = {f: [o for o in lst if o.phrase.ref.watchlist == watchlist] for f, lst in occ.items()}
        trace.hits = self._resolve(occ, trace)
        return trace

    # ------------------------------------------------------------------ internals
    def _scan(self, entry: Entry, prepped=None) -> dict[str, list[Occurrence]]:
        tp, sp = prepped if prepped is not None else (None, None)
        return {"title": self.index.find(entry.title, tp) if entry.title else [],
                "summary": self.index.find(entry.summary, sp) if entry.summary else []}

    def _resolve(self, occ: dict[str, list[Occurrence]], trace: Trace | None) -> list[Hit]:
        by_wl: dict[str, dict[str, list[Occurrence]]] = {}
        for f in FIELDS:
            for o in occ[f]:
                by_wl.setdefault(o.phrase.ref.watchlist, {}).setdefault(f, []).append(o)
        hits: list[Hit] = []
        for wl in self.watchlists:          # stable output order: watchlist definition order
            if wl in by_wl:
                hits.extend(self._resolve_one(wl, by_wl[wl], trace))
        return hits

    def _resolve_one(self, wl: str, occ: dict[str, list[Occurrence]],
                     trace: Trace | None) -> list[Hit]:
        masked: dict[str, list[tuple[int, int, str]]] = {f: [] for f in FIELDS}
        for f, lst in occ.items():
            masked[f] = [(o.start, o.end, o.phrase.text) for o in lst if o.phrase.ref.role == "exclude"]

        def veto(f: str, o: Occurrence) -> str | None:
            for s, e, text in masked[f]:
                if s < o.end and o.start < e:
                    return text
            return None

        live: dict[str, list[Occurrence]] = {}
        for f, lst in occ.items():
            keep = []
            for o in lst:
                if o.phrase.ref.role == "exclude":
                    continue
                x = veto(f, o)
                if x is None:
                    keep.append(o)
                elif trace is not None and o.phrase.ref.role == "alias":
                    trace.rejected.append((o.phrase.text, f, o.text, f"inside exclude {x!r}"))
            live[f] = keep

        wl_context = [(f, o) for f, lst in live.items() for o in lst if o.phrase.ref.role == "context"]
        group_ctx: dict[int, list[tuple[str, Occurrence]]] = {}
        group_veto: dict[int, str] = {}
        for f, lst in live.items():
            for o in lst:
                if o.phrase.ref.role == "alias-context":
                    group_ctx.setdefault(o.phrase.ref.group, []).append((f, o))
                elif o.phrase.ref.role == "alias-unless":
                    group_veto.setdefault(o.phrase.ref.group, o.phrase.text)

        strong: list[tuple[str, Occurrence, str]] = []
        weak: list[tuple[str, Occurrence]] = []
        # a veto holds for the text it covers, whichever spelling of the alias found it
        # ("Venezuela" and "Vénézuela" fold alike: vetoing one vetoes the other)
        vetoed = {(f, o.start, o.end): group_veto[o.phrase.ref.group]
                  for f, lst in live.items() for o in lst
                  if o.phrase.ref.role == "alias" and o.phrase.ref.group in group_veto}
        for f in FIELDS:
            for o in live.get(f, ()):
                ref = o.phrase.ref
                if ref.role != "alias":
                    continue
                a = ref.alias
                veto = vetoed.get((f, o.start, o.end)) if vetoed else None
                if veto is not None:
                    if trace is not None:
                        trace.rejected.append((a.text, f, o.text, f"vetoed by {veto!r} in the item"))
                    continue
                if a.ambiguous:
                    ctx = list(group_ctx.get(ref.group, ()))
                    if a.needs_context:
                        ctx += wl_context
                    near = [c for cf, c in ctx if a.within is None
                            or (cf == f and _distance(o, c) <= a.within)]
                    if not near:
                        if trace is not None:
                            where = f" within {a.within} characters" if a.within else ""
                            trace.rejected.append((a.text, f, o.text, f"ambiguous: no context word{where}"))
                        continue
                    if o.kind == "exact":
                        strong.append((f, o, "context"))
                    else:
                        weak.append((f, o))
                elif o.kind == "exact":
                    strong.append((f, o, "exact"))
                else:
                    weak.append((f, o))

        kept = list(strong)
        if weak:
            corroborated = bool(strong) or bool(wl_context)
            for f, o in weak:
                if corroborated:
                    kept.append((f, o, "fuzzy"))
                elif trace is not None:
                    trace.rejected.append((o.phrase.text, f, o.text,
                                           "fuzzy match without corroboration (no other alias or "
                                           "context word of this watchlist in the item)"))
        out: list[Hit] = []
        seen = set()
        for f, o, kind in kept:
            key = (f, o.start, o.end)       # two spellings folding alike (ヴェ/ベ) count once
            if key in seen:
                continue
            seen.add(key)
            out.append(Hit(wl, o.phrase.text, f, o.text, kind, o.score))
        return out


def _distance(a: Occurrence, b: Occurrence) -> int:
    if a.end <= b.start:
        return b.start - a.end
    if b.end <= a.start:
        return a.start - b.end
    return 0
