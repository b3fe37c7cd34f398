"""Watchlist matching (pure): which watchlists an entry belongs to, and why.

Two stages, kept apart so the candidate finder can be swapped (bot.core.phrases finds every alias,
context word and exclude phrase in the item); this module decides:

- exclude phrases mask what they cover ("Marilyn Monroe"), `unless` words veto an alias;
- an ambiguous alias (`context`, or `needs_context: true`) needs a context word (within `within`
  characters when set); a person's surname may instead stand next to an office title (X国防相);
- every candidate is then weighed by the general checks of bot.core.evidence, chosen by the alias's
  `kind` and script: katakana word boundaries, another given name before a surname, a place used as
  the name of a street, a town elsewhere, a company, a team, a dish or a title; a sports, food or
  entertainment item; a capital letter that proves nothing (ALL CAPS, Title Case, first word); a
  typo-tolerant hit that is a real word of its own; an office title without a name;
- a hit with a doubt against it counts only when the item has other evidence of the same watchlist
  (another alias that stands on its own, or one of the watchlist's context words); a fuzzy hit
  always needs that evidence.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.core import evidence as ev
from bot.core.lexicon import lexicon
from bot.core.model import Entry, Hit
from bot.core.normalize import fold, prep
from bot.core.phrases import TOKEN, Occurrence, Phrase, PhraseIndex

if TYPE_CHECKING:   # a parser worker matches with plain copies (bot.core.watchlist_plain)
    from bot.core.watchlist import Alias, Watchlist

FIELDS = ("title", "summary")


@dataclass(frozen=True, slots=True)
class _Ref:
    watchlist: str
    role: str                  # "alias", "exclude", "context" (watchlist), "alias-context", "alias-unless"
    alias: Alias | None = None
    group: int = -1            # alias-context group id (the alias's index)


@dataclass
class Trace:
    """What `explain` shows: hits kept (with their evidence), and candidates rejected with why."""

    hits: list[Hit] = field(default_factory=list)
    rejected: list[tuple[str, str, str, str]] = field(default_factory=list)  # (alias, field, text, why)


@dataclass
class _Cand:
    f: str
    o: Occurrence
    kind: str                              # "exact", "context", "fuzzy"
    pro: list[str] = field(default_factory=list)
    con: list[ev.Finding] = field(default_factory=list)

    @property
    def span(self):
        return (self.f, self.o.start, self.o.end)


class Matcher:
    def __init__(self, watchlists: list[Watchlist] | dict[str, Watchlist]):
        if isinstance(watchlists, dict):
            watchlists = list(watchlists.values())
        self.watchlists = {w.name: w for w in watchlists}
        self.lex = lexicon()
        phrases: list[Phrase] = []
        group = 0
        known_kana: set[str] = {ev.kana_key(h) for h in self.lex.kana_heads_raw}
        self._own_words: dict[str, frozenset[str]] = {}
        for w in watchlists:
            own: set[str] = set()
            for _lang, a in w.all_aliases():
                fuzzy = {"auto": "auto", "exact": "off", "fuzzy": "on"}[a.match]
                phrases.append(Phrase(a.text, _Ref(w.name, "alias", a, group),
                                      a.case == "sensitive", fuzzy))
                for c in a.context:
                    phrases.append(Phrase(c, _Ref(w.name, "alias-context", None, group)))
                for c in a.unless:
                    phrases.append(Phrase(c, _Ref(w.name, "alias-unless", None, group)))
                group += 1
                own.update(TOKEN.findall(fold(a.text)))
            for c in w.context:
                phrases.append(Phrase(c, _Ref(w.name, "context")))
                own.update(TOKEN.findall(fold(c)))
            for x in w.excludes:
                phrases.append(Phrase(x, _Ref(w.name, "exclude")))
            self._own_words[w.name] = frozenset(own)
        for p in phrases:
            if p.ref.role in ("alias", "context", "alias-context"):
                if not fold(p.text).isascii():
                    known_kana.add(ev.kana_key(p.text))
                    known_kana.update(ev.kana_key(x) for x in ev._SEP_CH.split(p.text) if x)
        self._known_kana = frozenset(k for k in known_kana if k)
        self._office = {id(a): ev.is_office_alias(a.text, self.lex)
                        for w in watchlists for _l, a in w.all_aliases()}
        self.index = PhraseIndex(phrases, primary=_is_alias)

    # ------------------------------------------------------------------ api
    def match(self, entry: Entry, prepped: tuple[str, str] | None = None, *,
              words: set[bytes] | None = None, folded: str | None = None) -> list[Hit]:
        """Hits of every watchlist. `prepped`: (prep(title), prep(summary)) when already known;
        `words`: the Latin words of both (normalize.ascii_words of them lower-cased), as a set;
        `folded`: both lower-cased, joined by " " (PhraseIndex.may_find)."""
        if prepped is None:
            prepped = (prep(entry.title) if entry.title else "",
                       prep(entry.summary) if entry.summary else "")
        # no alias (exact or typo) anywhere: no hit, whatever else the item holds (_resolve)
        if not self.index.may_find((prepped[0] if entry.title else "",
                                    prepped[1] if entry.summary else ""), words, folded):
            return []
        occ, prepped = self._scan(entry, prepped)
        return self._resolve(entry, prepped, occ, None)

    def explain(self, entry: Entry, watchlist: str | None = None) -> Trace:
        trace = Trace()
        occ, prepped = self._scan(entry)
        if watchlist is not None:
            occ = {f: [o for o in lst if o.phrase.ref.watchlist == watchlist] for f, lst in occ.items()}
        trace.hits = self._resolve(entry, prepped, occ, trace)
        return trace

    # ------------------------------------------------------------------ internals
    def _scan(self, entry: Entry, prepped=None):
        if prepped is None:
            prepped = (prep(entry.title) if entry.title else "",
                       prep(entry.summary) if entry.summary else "")
        tp, sp = prepped
        return ({"title": self.index.find(entry.title, tp) if entry.title else [],
                 "summary": self.index.find(entry.summary, sp) if entry.summary else []}, prepped)

    def _resolve(self, entry: Entry, prepped, occ: dict[str, list[Occurrence]],
                 trace: Trace | None) -> list[Hit]:
        by_wl: dict[str, dict[str, list[Occurrence]]] = {}
        for f in FIELDS:
            for o in occ[f]:
                by_wl.setdefault(o.phrase.ref.watchlist, {}).setdefault(f, []).append(o)
        if not by_wl:
            return []
        if not any(o.phrase.ref.role == "alias" for d in by_wl.values() for lst in d.values()
                   for o in lst):
            return []
        item = ev.ItemView(entry, prepped, self.lex)
        hits: list[Hit] = []
        for wl in self.watchlists:          # stable output order: watchlist definition order
            if wl in by_wl:
                hits.extend(self._resolve_one(wl, by_wl[wl], item, trace))
        return hits

    def _resolve_one(self, wl: str, occ: dict[str, list[Occurrence]], item: ev.ItemView,
                     trace: Trace | None) -> list[Hit]:
        def reject(c_or_o, f, why):
            if trace is not None:
                o = c_or_o.o if isinstance(c_or_o, _Cand) else c_or_o
                trace.rejected.append((o.phrase.text, f, self._shown(item, f, o), why))

        # 1. exclude phrases mask what they cover
        masked = {f: [(o.start, o.end, o.phrase.text) for o in lst if o.phrase.ref.role == "exclude"]
                  for f, lst in occ.items()}
        live: dict[str, list[Occurrence]] = {}
        for f, lst in occ.items():
            keep = []
            mask = masked[f]
            for o in lst:
                if o.phrase.ref.role == "exclude":
                    continue
                x = next((t for s, e, t in mask if s < o.end and o.start < e), None) if mask else None
                if x is None:
                    keep.append(o)
                elif o.phrase.ref.role == "alias":
                    reject(o, f, f"inside exclude {x!r}")
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
        vetoed = {(f, o.start, o.end): group_veto[o.phrase.ref.group]
                  for f, lst in live.items() for o in lst
                  if o.phrase.ref.role == "alias" and o.phrase.ref.group in group_veto} \
            if group_veto else {}

        # 2. candidates: vetoes, context requirements, then the general checks
        cands: list[_Cand] = []
        dropped: list[tuple[str, Occurrence]] = []     # hard-rejected spans
        dropped_why: list[str] = []
        doubted_names: list[tuple[str, Occurrence, str]] = []
        seen = set()
        for f in FIELDS:
            for o in live.get(f, ()):
                ref = o.phrase.ref
                if ref.role != "alias" or (f, o.start, o.end, o.phrase.text) in seen:
                    continue
                seen.add((f, o.start, o.end, o.phrase.text))
                a = ref.alias
                veto = vetoed.get((f, o.start, o.end))
                if veto is not None:
                    reject(o, f, f"vetoed by {veto!r} in the item")
                    continue
                c = _Cand(f, o, "exact" if o.kind == "exact" else "fuzzy")
                fv = item.fields[f]
                if a.ambiguous:
                    ctx = list(group_ctx.get(ref.group, ()))
                    if a.needs_context:
                        ctx += wl_context
                    same = fold(a.text)
                    echoes = [(ef, eo) for ef, lst in live.items() for eo in lst
                              if eo.phrase.ref.role == "alias" and fold(eo.phrase.text) == same]
                    near = [co for cf, co in ctx
                            if not any(ef == cf and _overlap(eo, co) for ef, eo in echoes)
                            and fold(co.phrase.text) not in same and (
                                a.within is None or (cf == f and _distance(o, co) <= a.within))]
                    title = ev.title_next_to(fv, o.start, o.end, self.lex) \
                        if a.kind == "person" else None
                    if near:
                        c.pro.append(f"context word {near[0].phrase.text!r}")
                    elif title:
                        c.pro.append(f"office title {title!r} next to the name")
                    elif a.needs_context and not a.context and a.within is None:
                        # a phrase that exists outside this topic: weighed with the rest below
                        c.con.append(ev.against("a phrase that also exists outside this topic"))
                    else:
                        where = f" within {a.within} characters" if a.within else ""
                        reject(o, f, f"ambiguous: no context word{where}")
                        continue
                    if c.kind == "exact" and not c.con:
                        c.kind = "context"
                c.con.extend(self._checks(item, fv, o, a))
                hard = [x for x in c.con if x.strength == "reject"]
                if hard:
                    reject(c, f, "; ".join(x.why for x in hard))
                    dropped.append((f, o))
                    dropped_why.append(hard[0].why)
                    continue
                naming = [x for x in c.con if x.strength == "doubt" and x.names_other]
                if naming:
                    doubted_names.append((f, o, naming[0].why))
                cands.append(c)

        # one name in one item names one thing: when an occurrence is another person, a town, a
        # street or a company, the other occurrences of the same name are doubtful too
        if dropped or doubted_names:
            other_things = {fold(o.text): why for (f, o), why in zip(dropped, dropped_why)}
            other_things.update({fold(o.text): why for f, o, why in doubted_names})
            for c in cands:
                why = other_things.get(fold(c.o.text))
                if why is not None and not any(x.names_other for x in c.con):
                    c.con.append(ev.against(f"the item names something else with it ({why})"))
        # a shorter alias inside a longer one (Zemblan in "Zemblan president") follows the longer one
        if dropped:
            inside_dropped = [c for c in cands if any(
                df == c.f and _inside(c.o, do) for df, do in dropped)]
            for c in inside_dropped:
                reject(c, c.f, f"part of the longer alias {c.o.phrase.text!r} was rejected")
            cands = [c for c in cands if c not in inside_dropped]
        if len(cands) > 1:          # (one candidate lies inside no other)
            cands = [c for c in cands if not any(
                x is not c and x.f == c.f and _inside(c.o, x.o) for x in cands)]
        # 3. other evidence of this watchlist. A "doubt" needs a name that stands on its own or a
        # context word; a "weak" doubt or a typo also takes a name with only weak doubts (a typo'd
        # name beside "Mexico's president"); a "soft" doubt (a capital at the start of a sentence)
        # and a typo also take hard-news words in the item.
        clean = [c for c in cands if c.kind != "fuzzy" and not c.con]

        def level(c: _Cand) -> int:           # 3 doubt, 2 weak, 1 soft or typo, 0 none
            ss = {x.strength for x in c.con}
            return 3 if "doubt" in ss else 2 if "weak" in ss else 1 if ("soft" in ss or
                                                                      c.kind == "fuzzy") else 0
        lv = {id(c): level(c) for c in cands}
        # a context word that is itself a rejected or doubtful name ("Tony Havana") backs nothing up
        shaky = dropped + [(c.f, c.o) for c in cands if c not in clean]
        if wl_context and shaky:
            wl_context = [(cf, co) for cf, co in wl_context
                          if not any(sf == cf and _overlap(so, co) for sf, so in shaky)]
        news = None
        kept: list[_Cand] = []
        for c in cands:
            n = lv[id(c)]
            if n == 0:
                c.pro.insert(0, "alias found" if c.kind == "exact" else "alias with its context")
                kept.append(c)
                continue
            other = [x for x in cands if x is not c and x.span != c.span and not _same_text(x, c)
                     and not (x.f == c.f and _overlap(x.o, c.o))
                     and (lv[id(x)] == 0 or (n <= 2 and lv[id(x)] <= 2
                                             and not (x.kind == "fuzzy" and c.kind == "fuzzy")))]
            own = fold(c.o.text)
            ctx = [co for cf, co in wl_context if not (cf == c.f and _overlap(co, c.o))
                   and fold(co.text) != own and fold(co.text) not in own]
            support = []
            if other:
                support.append(f"other alias {self._shown(item, other[0].f, other[0].o)!r} "
                               f"in the {other[0].f}")
            if ctx:
                support.append(f"context word {ctx[0].phrase.text!r}")
            if not support and n == 1:
                news = item.news_words() if news is None else news
                mine = [w for w in news if w not in own]      # not the alias's own words
                if mine:
                    support.append(f"hard-news words in the item ({', '.join(dict.fromkeys(mine[:3]))})")
            if support:
                c.pro.extend(support)
                kept.append(c)
            else:
                doubts = [x for x in c.con if x.strength in ("doubt", "weak", "soft")]
                why = "; ".join(x.why for x in doubts) if doubts else \
                    "fuzzy match without corroboration (no other alias or context word of this " \
                    "watchlist in the item)"
                if doubts:
                    why += "; and no other evidence of this watchlist in the item"
                reject(c, c.f, why)

        out: list[Hit] = []
        spans = set()
        for c in kept:
            if c.span in spans:       # two spellings folding alike (ヴェ/ベ) count once
                continue
            spans.add(c.span)
            evid = tuple(f"+ {p}" for p in c.pro) + tuple(str(x) for x in c.con)
            out.append(Hit(wl, c.o.phrase.text, c.f, self._shown(item, c.f, c.o),
                           "fuzzy" if c.kind == "fuzzy" else c.kind, c.o.score, evid))
        return out

    def _checks(self, item: ev.ItemView, fv: ev.FieldView, o: Occurrence, a: Alias) -> list[ev.Finding]:
        out: list[ev.Finding] = []
        folded = fv.folded[o.start:o.end]
        kind = a.kind
        if not folded.isascii():
            out.extend(ev.kana_boundary(fv, o.start, o.end, a.text, self._known_kana))
            if kind == "place":
                out.extend(ev.cjk_place_uses(fv, o.start, o.end, self.lex))
        else:
            out.extend(ev.latin_neighbours(fv, o.start, o.end, a.text, kind, self.lex,
                                           self._own_words[o.phrase.ref.watchlist]))
            if a.case == "sensitive":
                d = ev.case_doubt(fv, o.start)
                if d is not None:
                    out.append(d)
        if kind == "place" and not any(x.strength == "reject" for x in out):
            out.extend(ev.domain_evidence(item, fv, o.start, o.end))
        if self._office.get(id(a)) and kind in (None, "term"):
            out.extend(ev.office_title(fv, o.start, o.end, self.lex,
                                       self._own_words[o.phrase.ref.watchlist]))
        if o.kind == "fuzzy":
            w = ev.fuzzy_word(fv.prepped[o.start:o.end])
            if w is not None:
                out.append(w)
        return out

    @staticmethod
    def _shown(item: ev.ItemView, f: str, o: Occurrence) -> str:
        """The item's own text for a hit (not its folded form, nor the alias)."""
        fv = item.fields[f]
        span = fv.surface(o.start, o.end)
        if span is None:
            return o.text
        return fv.nf[span[0]:span[1]] if len(fv.nf) != len(fv.original) else fv.original[span[0]:span[1]]


def _is_alias(p: Phrase) -> bool:
    return p.ref.role == "alias"


def _overlap(a: Occurrence, b: Occurrence) -> bool:
    return a.start < b.end and b.start < a.end


def _inside(a: Occurrence, b: Occurrence) -> bool:
    """a lies within b and is shorter."""
    return b.start <= a.start and a.end <= b.end and (a.end - a.start) < (b.end - b.start)


def _same_text(a: _Cand, b: _Cand) -> bool:
    return fold(a.o.text) == fold(b.o.text)


def _distance(a: Occurrence, b: Occurrence) -> int:
    if a.end <= b.start:
        return b.start - a.end
    if b.end <= a.start:
        return a.start - b.end
    return 0
