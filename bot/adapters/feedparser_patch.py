"""Guarded speed patches of feedparser 6.0.x, applied by bot.adapters.parse before it parses.

Why: two generic helpers cost feedparser a good part of its parse time, on every element:
1. it copies its `contentparams` with `copy.deepcopy` for every title, summary and content element
   it stores (feedparser/mixin.py, `_FeedParserMixin.pop`): about a tenth of its time.
   `contentparams` is a flat FeedParserDict of strings (type, language, base, sometimes src), so a
   shallow copy is equal to the deep one;
2. `FeedParserDict.get` and `__getitem__` (about 50 and 30 calls per entry, mostly
   `contentparams.get("type")` in handle_data and pop) run the compatibility branches ("category",
   "enclosures", "license", "updated", the keymap aliases) and raise and catch KeyError for a
   missing key, for every key. For any other key they are exactly dict.get / dict.__getitem__;
3. `_urljoin(self.baseuri, ...)` for every start tag and every link/id (mixin.py): a regex
   substitution through re's Python-level template expansion, then urllib's urljoin. With no base
   URI (we never pass Content-Location: ids must not depend on the fetch URL) urljoin returns the
   URI as it is, and the substitution only changes a URI with slashes after "scheme://";
4. `output.translate(_cp1252)` for every element's text: a dict mapping U+0080-U+009F, which
   str.translate consults per character, raising and catching KeyError for every other non-ASCII
   character (Japanese and Spanish text).

How: 1. `feedparser.mixin` reaches the copy module through its global name `copy`; we give that
module (only that one) a stand-in whose `deepcopy` makes the shallow copy when, and only when, the
object is a FeedParserDict with no instance attributes, no key FeedParserDict would rename on the
way in (its `keymap`: deepcopy re-inserts through __setitem__) and only immutable scalar values.
Anything else goes to the real `copy.deepcopy`; every other attribute of the stand-in is the copy
module's. 2. FeedParserDict.get / __getitem__ take the plain dict path for a key that is neither
a keymap alias nor any string constant of the original __getitem__ (so every key it branches on,
today's or a later 6.0.x's, still goes to the original method). 3. mixin's global `_urljoin`
returns the URI itself when the base is empty, the URI a str and the original's substitution would
not change it; anything else goes to the original. 4. mixin's global `_cp1252` becomes a str of
the whole BMP (the identity, but for the original dict's entries), which str.translate indexes
without exceptions; a character beyond U+FFFF is left alone by both tables.

Guard: applied only to feedparser 6.0.x whose mixin has a global `copy` that is the copy module,
whose `_FeedParserMixin.pop` calls `deepcopy`, whose FeedParserDict has its dict `keymap` and
its own get/__getitem__, whose mixin `_urljoin` is feedparser.urls' with its `_urifixer`, and
whose mixin `_cp1252` is a dict of single characters; otherwise feedparser is left alone. tests/test_parse_speed_equivalence.py
proves the parse output equal, patched vs unpatched, over RSS, Atom, RDF, HTML/XHTML content,
xml:base and hostile bodies.
"""
from __future__ import annotations

import copy as _copy
import sys
import threading
from array import array

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


def _fast_lookups(fpdict: type):
    """(get, __getitem__) for FeedParserDict: the original ones for the keys they treat specially."""
    orig_get, orig_getitem = fpdict.get, fpdict.__getitem__
    slow = frozenset(fpdict.keymap).union(
        c for c in orig_getitem.__code__.co_consts if isinstance(c, str))
    dict_get, dict_getitem = dict.get, dict.__getitem__

    def get(self, key, default=None):
        if key in slow:
            return orig_get(self, key, default)
        return dict_get(self, key, default)

    def __getitem__(self, key):
        if key in slow:
            return orig_getitem(self, key)
        return dict_getitem(self, key)

    get.__doc__, __getitem__.__doc__ = orig_get.__doc__, orig_getitem.__doc__
    return get, __getitem__


_FIXER = "^([A-Za-z][A-Za-z0-9+-.]*://)(/*)(.*?)"     # feedparser.urls._urifixer, 6.0.x


def _make_urljoin(orig, fixer):
    match = fixer.match

    def _urljoin(base, uri):
        # orig: fixer.sub(r"\1\3", uri) (drops the slashes after "scheme://"), then urljoin,
        # which returns the URI unchanged when the base is empty
        if not base and uri.__class__ is str:
            m = match(uri)
            if m is None or not m.group(2):
                return uri
        return orig(base, uri)

    return _urljoin


def _cp1252_table(mapping: dict) -> str:
    """Every BMP character for itself, the mapping's keys for their values (128 KiB, ~3 ms)."""
    table = array("I", range(0x10000)).tobytes().decode(
        "utf-32-le" if sys.byteorder == "little" else "utf-32-be", "surrogatepass")
    lo, hi = min(mapping, default=0), max(mapping, default=-1) + 1
    return table[:lo] + "".join(mapping.get(i, table[i]) for i in range(lo, hi)) + table[hi:]


_state: dict = {}
_lock = threading.Lock()


def apply() -> bool:
    """Install the patches when the guard holds (idempotent). True when they are in force."""
    if "applied" in _state:
        return _state["applied"]
    with _lock:                 # parser threads may get here together: patch once
        if "applied" not in _state:
            _state["applied"] = _apply()
    return _state["applied"]


def _apply() -> bool:
    ok = False
    try:
        import feedparser
        from feedparser import mixin
        from feedparser.util import FeedParserDict
        pop = mixin._FeedParserMixin.pop
        from feedparser import urls
        cp = getattr(mixin, "_cp1252", None)
        ok = (str(getattr(feedparser, "__version__", "")).startswith("6.0.")
              and getattr(mixin, "copy", None) is _copy
              and "copy" in pop.__code__.co_names and "deepcopy" in pop.__code__.co_names
              and isinstance(getattr(FeedParserDict, "keymap", None), dict)
              and "get" in vars(FeedParserDict) and "__getitem__" in vars(FeedParserDict)
              and getattr(mixin, "_urljoin", None) is getattr(urls, "_urljoin", 0)
              and getattr(getattr(urls, "_urifixer", None), "pattern", None) == _FIXER
              and cp.__class__ is dict
              and all(k.__class__ is int and 0 <= k < 0x10000 and v.__class__ is str
                      and len(v) == 1 for k, v in cp.items()))
        if ok:
            _state["original"] = (mixin.copy, FeedParserDict.get, FeedParserDict.__getitem__,
                                  mixin._urljoin, mixin._cp1252)
            mixin.copy = _make_shim(FeedParserDict)
            FeedParserDict.get, FeedParserDict.__getitem__ = _fast_lookups(FeedParserDict)
            mixin._urljoin = _make_urljoin(urls._urljoin, urls._urifixer)
            mixin._cp1252 = _cp1252_table(cp)
    except (ImportError, AttributeError):          # pragma: no cover - another feedparser
        ok = False
    return ok


def remove() -> None:
    """Undo apply() (tests compare patched and unpatched output)."""
    if _state.pop("applied", False):
        from feedparser import mixin
        from feedparser.util import FeedParserDict
        (mixin.copy, FeedParserDict.get, FeedParserDict.__getitem__, mixin._urljoin,
         mixin._cp1252) = _state.pop("original")
