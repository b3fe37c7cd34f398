"""Watchlist edits suggested by readers' off-topic marks (`sokuho feedback`, the weekly admin
message, /feedback).

Per (watchlist, alias): how many of the items delivered to chats were marked off-topic, in how
many chats. For the aliases with the highest share, one edit, tried in this order:
- an exclude phrase: the alias with the word next to it ("Mark Cuban") in 2+ marked items and in
  no item readers kept;
- an `unless` word: the most distinctive word of the marked items (log-odds, bot.core.feedback)
  among those in no item readers kept;
- a context requirement (`needs_context`): no marked item has a context word of the watchlist,
  most kept items do.
Its effect is measured like `sokuho explain --recent`: the watchlist with and without the edit
over the stored stories of the window (how many it stops matching; of those, how many readers
marked off-topic, how many they kept). Offered: the edit that drops no kept item and the most
marked ones (on a tie, the more precise kind).
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.adapters import yamledit
from bot.adapters.store_sql import to_ts
from bot.core import feedback as core
from bot.core.matcher import Matcher
from bot.core.normalize import fold
from bot.core.watchlist import Watchlist
from bot.ops.recent import stories
from bot.telegram.feedback_store import FeedbackStore

_TOKEN = re.compile(r"[\w'’-]+")


@dataclass
class Suggestion:
    watchlist: str
    alias: str
    marks: int                       # distinct items marked off-topic
    delivered: int                   # distinct items delivered to chats
    chats: int                       # chats that marked
    kind: str | None = None          # "exclude", "unless", "needs_context" (None: no edit found)
    text: str = ""
    lost: int = 0                    # stored stories the watchlist would stop matching
    lost_marked: int = 0
    lost_kept: int = 0               # ... of which readers kept (must be 0 to be offered)
    words: list[str] = field(default_factory=list)

    @property
    def share(self) -> float:
        return self.marks / max(self.delivered, self.marks, 1)

    def describe(self) -> str:
        if self.kind == "exclude":
            return f"exclude phrase “{self.text}”"
        if self.kind == "unless":
            return f"unless “{self.text}” on alias “{self.alias}”"
        if self.kind == "needs_context":
            return f"alias “{self.alias}” needs a context word"
        return "no safe edit found"

    def as_dict(self) -> dict:
        return {"watchlist": self.watchlist, "alias": self.alias, "marks": self.marks,
                "delivered": self.delivered, "chats": self.chats,
                "share": round(self.share, 3), "kind": self.kind, "text": self.text,
                "lost": self.lost, "lost_marked": self.lost_marked, "lost_kept": self.lost_kept}


def _stats(store, db: FeedbackStore, since: datetime):
    """(watchlist, alias) -> (marked guids, chats), delivered guids; marked guids per watchlist."""
    marked: dict[tuple[str, str], set[str]] = {}
    chats: dict[tuple[str, str], set[int]] = {}
    by_wl: dict[str, set[str]] = {}
    for m in db.marks(kind="offtopic", since=since):
        by_wl.setdefault(m.watchlist, set()).add(m.guid)
        for a in m.aliases:
            marked.setdefault((m.watchlist, a), set()).add(m.guid)
            chats.setdefault((m.watchlist, a), set()).add(m.chat_id)
    delivered: dict[tuple[str, str], set[str]] = {}
    rows = db._q("SELECT DISTINCT m.watchlist, m.alias, o.guid FROM tg_outbox o "
                 "JOIN items i ON i.guid = o.guid JOIN matches m ON m.item_id = i.id "
                 "AND m.watchlist = o.watchlist WHERE o.state = 'sent' AND o.created_at >= ?",
                 (to_ts(since),))
    for wl, alias, guid in rows:
        delivered.setdefault((wl, alias), set()).add(guid)
    return marked, chats, delivered, by_wl


def _texts(store, guids) -> list[str]:
    out = []
    for g in guids:
        it = store.item(g)
        if it is not None:
            out.append(fold(f"{it.entry.title}\n{it.entry.summary[:2000]}"))
    return out


def _exclude_phrase(alias: str, marked: list[str], kept: list[str]) -> str | None:
    """The alias with its neighbouring word, shared by 2+ marked texts and no kept text."""
    a = fold(alias)
    pat = re.compile(rf"(?:([\w'’-]+)\s+)?{re.escape(a)}(?:\s+([\w'’-]+))?")
    counts: Counter[str] = Counter()
    for text in marked:
        seen = set()
        for m in pat.finditer(text):
            for phrase in ((f"{m.group(1)} {a}" if m.group(1) else None),
                           (f"{a} {m.group(2)}" if m.group(2) else None)):
                if phrase and phrase not in seen:
                    seen.add(phrase)
                    counts[phrase] += 1
    for phrase, n in counts.most_common():
        if n < 2:
            break
        extra = phrase.replace(a, "").strip()
        if extra in core._STOP or len(extra) < 3:
            continue
        if not any(phrase in k for k in kept):
            return phrase
    return None


def _edited(wl: Watchlist, s: Suggestion) -> Watchlist:
    if s.kind == "exclude":
        return wl.model_copy(update={"excludes": wl.excludes + (s.text,)})
    aliases = {}
    for lang, items in wl.aliases.items():
        new = []
        for a in items:
            if a.text.casefold() == s.alias.casefold():
                if s.kind == "unless":
                    a = a.model_copy(update={"unless": a.unless + (s.text,)})
                elif s.kind == "needs_context":
                    a = a.model_copy(update={"needs_context": True})
            new.append(a)
        aliases[lang] = tuple(new)
    return wl.model_copy(update={"aliases": aliases})


def _measure(matched: list, wl: Watchlist, s: Suggestion, marked: set[str],
             kept: set[str]) -> None:
    """`matched`: the stored stories the watchlist matches now; which would the edit drop?"""
    after = Matcher([_edited(wl, s)])
    lost = [e for e in matched if not any(h.watchlist == wl.name for h in after.match(e))]
    s.lost = len(lost)
    s.lost_marked = sum(1 for e in lost if e.id in marked)
    s.lost_kept = sum(1 for e in lost if e.id in kept)


def suggest(store, watchlists: dict[str, Watchlist], now: datetime, *, days: float = 30,
            min_marks: int = 2, limit: int = 5) -> list[Suggestion]:
    """The aliases with the highest off-topic share, each with the safest edit found."""
    since = now - timedelta(days=days)
    db = FeedbackStore(store)
    marked, chats, delivered, by_wl = _stats(store, db, since)
    out: list[Suggestion] = []
    for key, guids in marked.items():
        wl_name, alias = key
        if len(guids) >= min_marks and wl_name in watchlists:
            out.append(Suggestion(wl_name, alias, len(guids),
                                  len(delivered.get(key, set()) | guids), len(chats[key])))
    out.sort(key=lambda s: (-s.share, -s.marks, s.watchlist, s.alias))
    out = out[:limit]
    matched: dict[str, list] = {}            # watchlist -> stories it matches now (once each)
    for s in out:
        wl = watchlists[s.watchlist]
        if wl.name not in matched:
            m = Matcher([wl])
            matched[wl.name] = [e for e in stories(store, since)
                                if any(h.watchlist == wl.name for h in m.match(e))]
        key = (s.watchlist, s.alias)
        kept_guids = delivered.get(key, set()) - by_wl.get(s.watchlist, set())
        m_texts, k_texts = _texts(store, marked[key]), _texts(store, kept_guids)
        best = None
        for kind, text in _candidates(wl, s.alias, m_texts, k_texts):
            s.kind, s.text = kind, text
            _measure(matched[wl.name], wl, s, marked[key], kept_guids)
            # safe (drops nothing readers kept), then the one that removes most marked items;
            # on a tie the more precise edit (candidates come most precise first)
            if s.lost_kept == 0 and s.lost_marked > 0 and (
                    best is None or s.lost_marked > best[4]):
                best = (kind, text, s.lost, s.lost_kept, s.lost_marked)
        if best is None:
            s.kind, s.text, s.lost, s.lost_kept, s.lost_marked = None, "", 0, 0, 0
        else:
            s.kind, s.text, s.lost, s.lost_kept, s.lost_marked = best
    return out


def _candidates(wl: Watchlist, alias: str, marked: list[str], kept: list[str]):
    """Edits to try, most precise first."""
    phrase = _exclude_phrase(alias, marked, kept)
    if phrase:
        yield "exclude", phrase
    skip = set()
    for _lang, a in wl.all_aliases():
        skip |= core.words(a.text)
    mdocs = [core.words(t) for t in marked]
    kdocs = [core.words(t) for t in kept]
    for sc in core.distinctive(mdocs, kdocs, exclude=skip, max_kept_share=0.0, min_z=1.0,
                               limit=3):
        yield "unless", sc.word
    alias_obj = next((a for _l, a in wl.all_aliases() if a.text.casefold() == alias.casefold()),
                     None)
    if alias_obj is not None and not alias_obj.ambiguous and wl.context and kept:
        ctx = [fold(c) for c in wl.context]

        def has(t: str) -> bool:
            return any(c in t for c in ctx)
        if not any(has(t) for t in marked) and sum(map(has, kept)) >= 0.5 * len(kept):
            yield "needs_context", alias


def render(suggestions: list[Suggestion], days: float) -> str:
    if not suggestions:
        return f"no aliases with off-topic marks in the last {days:g} days"
    lines = [f"aliases most often marked off-topic (last {days:g} days, all chats):"]
    for i, s in enumerate(suggestions, 1):
        lines.append(f"{i:2}. {s.watchlist} / “{s.alias}”: {s.marks} of {s.delivered} delivered "
                     f"item(s) marked off-topic ({s.share:.0%}) in {s.chats} chat(s)")
        if s.kind is None:
            lines.append("    no edit found that keeps every item readers kept")
            continue
        lines.append(f"    suggest: {s.describe()}")
        lines.append(f"    effect:  stops matching {s.lost} stored stor{'y' if s.lost == 1 else 'ies'}"
                     f" of the last {days:g} days ({s.lost_marked} marked off-topic, "
                     f"{s.lost_kept} kept by readers)")
        lines.append(f"    apply:   sokuho feedback --apply {i}")
    return "\n".join(lines)


def has_tables(store) -> bool:
    """Does the state database hold reader feedback (the Telegram tables, migration v2)?"""
    return store.has_table("tg_feedback")


def apply(directory, s: Suggestion) -> yamledit.EditResult:
    """Write the edit into the watchlist file (validated, comments kept; the running service's
    watcher reloads it). Raises yamledit.EditError when refused (the file is unchanged)."""
    if s.kind == "exclude":
        return yamledit.edit(directory, s.watchlist, kind="exclude", action="add", text=s.text)
    if s.kind == "unless":
        return yamledit.edit_alias_rule(directory, s.watchlist, s.alias, unless=s.text)
    if s.kind == "needs_context":
        return yamledit.edit_alias_rule(directory, s.watchlist, s.alias, needs_context=True)
    raise yamledit.EditError("this suggestion has no edit")
