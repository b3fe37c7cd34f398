"""One guarded speed patch of feedparser 6.0.x, applied by bot.adapters.parse on import.

Why: feedparser copies its `contentparams` with `copy.deepcopy` for every title, summary and
content element it stores (feedparser/mixin.py, `_FeedParserMixin.pop`); that generic deepcopy is
about a tenth of all of feedparser's parse time. `contentparams` is a flat FeedParserDict of
strings (type, language, base, sometimes src), so a shallow copy is equal to the deep one.

How: `feedparser.mixin` reaches the copy module through its global name `copy`; we give that module
(only that one) a stand-in whose `deepcopy` makes the shallow copy when, and only when, the object
is a FeedParserDict with no instance attributes, no key FeedParserDict would rename on the way in
(its `keymap`: deepcopy re-inserts through __setitem__) and only immutable scalar values. Anything
else goes to the real `copy.deepcopy`; every other attribute of the stand-in is the copy module's.

Guard: applied only to feedparser 6.0.x whose mixin has a global `copy` that is the copy module
and whose `_FeedParserMixin.pop` calls `deepcopy`; otherwise feedparser is left alone.
tests/test_feedparser_patch.py proves the parse output equal, patched vs unpatched, over RSS,
Atom, RDF, HTML/XHTML content, xml:base and hostile bodies.
"""
from __future__ import annotations

import copy as _copy

_SCALARS = frozenset({str, int, bool, float, type(None)})


def _make_shim(fpdict: type):
    keymap = fpdict.keymap
    scalars = _SCALARS
    deepcopy = _copy.deepcopy

    class _CopyShim:
        """Stands in for the `copy` module inside feedparser.mixin."""

        def __getattr__(self, name):
            return getattr(_copy, name)

        @staticmethod
        def deepcopy(x, memo=None):
            if (x.__class__ is fpdict and not x.__dict__ and keymap.keys().isdisjoint(x)
                    and scalars.issuperset(map(type, x.values()))):
                return fpdict(x)
            return deepcopy(x, memo)

    return _CopyShim()


_state: dict = {}


def apply() -> bool:
    """Install the patch when the guard holds (idempotent). True when it is in force."""
    if "applied" in _state:
        return _state["applied"]
    ok = False
    try:
        import feedparser
        from feedparser import mixin
        from feedparser.util import FeedParserDict
        pop = mixin._FeedParserMixin.pop
        ok = (str(getattr(feedparser, "__version__", "")).startswith("6.0.")
              and getattr(mixin, "copy", None) is _copy
              and "copy" in pop.__code__.co_names and "deepcopy" in pop.__code__.co_names
              and isinstance(getattr(FeedParserDict, "keymap", None), dict))
        if ok:
            _state["original"] = mixin.copy
            mixin.copy = _make_shim(FeedParserDict)
    except (ImportError, AttributeError):          # pragma: no cover - another feedparser
        ok = False
    _state["applied"] = ok
    return ok


def remove() -> None:
    """Undo apply() (tests compare patched and unpatched output)."""
    if _state.pop("applied", False):
        from feedparser import mixin
        mixin.copy = _state.pop("original")
