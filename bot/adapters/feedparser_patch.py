"""Guarded speed patches of feedparser 6.0.x, applied by bot.adapters.parse before it parses.

Why: two generic helpers cost feedparser a good part of its parse time, on every element:
1. it copies its `contentparams` with `copy.deepcopy` for every title, summary and content element
   it stores (feedparser/mixin.py, `_FeedParserMixin.pop`): about a tenth of its time.
   `contentparams` is a flat FeedParserDict of strings (type, language, base, sometimes src), so a
   shallow copy is equal to the deep one;
2. `FeedParserDict.get`, `__getitem__` and `__contains__` (about 50, 30 and 5 calls per entry,
   mostly `contentparams.get("type")` in handle_data and pop, and `in` inside setdefault) run the
   compatibility branches ("category", "enclosures", "license", "updated", the keymap aliases) and
   raise and catch KeyError for a missing key, for every key. For any other key they are exactly
   dict.get / dict.__getitem__ / dict.__contains__;
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
module's. 2. FeedParserDict.get / __getitem__ / __contains__ take the plain dict path for a key
that is neither a keymap alias nor any string constant of the original __getitem__ (nor, for
__contains__, of the original __contains__): every key they branch on, today's or a later
6.0.x's, still goes to the original method. 3. mixin's global `_urljoin`
returns the URI itself when the base is empty, the URI a str and the original's substitution would
not change it; anything else goes to the original. 4. mixin's global `_cp1252` becomes a str of
the whole BMP (the identity, but for the original dict's entries), which str.translate indexes
without exceptions; a character beyond U+FFFF is left alone by both tables.

Three more, measured per RSS item (bench/worker_bench.py): together about 30 us of feedparser's ~95:
5. the SAX reader: expat hands feedparser the text of an element in many pieces (one per line and
   one per entity reference: an escaped HTML description is 20 or more), each a Python call
   through the SAX layer to feedparser's handle_data. `create_parser` below gives feedparser an
   expat reader that, once the document has shown it is not Atom 1.0 (feedparser's `version` set
   to anything else, which it then keeps), asks expat to hand over each text run in one piece
   (pyexpat's `buffer_text`). The pieces are only ever joined, except by `pop` for the XHTML
   content of an Atom 1.0 feed (it looks at the first and last piece), which stays unbuffered.
   feedparser also asks for the "drv_libxml2" reader first on every parse, an import that fails
   (about 75 us a feed); the reader is named directly instead when that import would fail.
   The same reader hands an element without namespace and attributes (RSS 2.0's <title>, <link>,
   <pubDate>...) straight to feedparser's unknown_starttag/unknown_endtag with its lower-cased
   name, which is all the two SAX layers (expatreader, feedparser's startElementNS/endElementNS)
   make of it; installed only over the exact source of those four methods;
6. `_FeedParserMixin.pop` (once per closed element) and `unknown_starttag` (once per opened
   element): bot.adapters.feedparser_elements, the same code without the per-element work whose
   result is known in advance (see there). Installed only over the exact source they were
   written from (hashes of pop's and looks_like_html's source, and of unknown_starttag's);
7. `_parse_date` (every item's date): bot.adapters.feedparser_dates computes a date in RFC 822's
   canonical shape as feedparser's RFC 822 handler does, without first failing in the W3C-DTF
   handler; anything else goes to feedparser's handler chain. Installed only over the exact
   source of feedparser's date code, and only while its handler list is feedparser's own.

Guard: applied only to feedparser 6.0.x whose mixin has a global `copy` that is the copy module,
whose `_FeedParserMixin.pop` calls `deepcopy`, whose FeedParserDict has its dict `keymap` and
its own get/__getitem__/__contains__, whose mixin `_urljoin` is feedparser.urls' with its `_urifixer`, and
whose mixin `_cp1252` is a dict of single characters; otherwise feedparser is left alone;
patches 5-7 have their own guards (above). tests/test_parse_speed_equivalence.py and
tests/test_feedparser_text_runs.py prove the parse output equal, patched vs unpatched, over
generated RSS, Atom, RDF, HTML/XHTML content, xml:base and hostile bodies.
"""
from __future__ import annotations

import copy as _copy
import hashlib
import importlib.util
import inspect
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


def _special_keys(fpdict: type) -> frozenset:
    """The keys FeedParserDict's lookups treat specially: keymap aliases, and every string
    constant of its __getitem__ (each key it branches on)."""
    return frozenset(fpdict.keymap).union(
        c for c in fpdict.__getitem__.__code__.co_consts if isinstance(c, str))


# the contentparams keys feedparser_elements' pop reads with dict.get: none may be special
_FAST_KEYS = frozenset({"type", "base64", "mode"})


def _fast_lookups(fpdict: type):
    """(get, __getitem__, __contains__) for FeedParserDict: the original ones for the keys they
    treat specially. (The original __contains__ answers through __getitem__, raising and
    catching KeyError for a missing key: for any other key that is dict.__contains__.)"""
    orig_get, orig_getitem, orig_contains = fpdict.get, fpdict.__getitem__, fpdict.__contains__
    slow = _special_keys(fpdict)
    slow_in = slow.union(c for c in orig_contains.__code__.co_consts if isinstance(c, str))
    dict_get, dict_getitem, dict_contains = dict.get, dict.__getitem__, dict.__contains__

    def get(self, key, default=None):
        if key in slow:
            return orig_get(self, key, default)
        return dict_get(self, key, default)

    def __getitem__(self, key):
        if key in slow:
            return orig_getitem(self, key)
        return dict_getitem(self, key)

    def __contains__(self, key):
        if key in slow_in:
            return orig_contains(self, key)
        return dict_contains(self, key)

    get.__doc__, __getitem__.__doc__ = orig_get.__doc__, orig_getitem.__doc__
    __contains__.__doc__ = orig_contains.__doc__
    return get, __getitem__, __contains__


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


# sha256 of the source of feedparser 6.0.x's _StrictFeedParser.startElementNS + endElementNS and
# of xml.sax.expatreader's start_element_ns + end_element_ns (CPython 3.11), as the reader below
# reproduces them for an element without namespace and attributes
_TAGS_SOURCE = "11ba85a35ae822fda31457ede818035ed4140080203b649768f2363e37fb46da"


def _text_run_reader(strict_parser: type, plain_tags: bool = False, characters=None):
    """Patch 5: expat's SAX reader, handing each text run over in one piece (pyexpat's
    `buffer_text`) from the first start tag after which the document is known not to be
    Atom 1.0: feedparser's `version` is then set and is not "atom10" (feedparser never changes
    such a version into "atom10"). For feedparser's `strict_parser` (StrictFeedParser) and
    with `plain_tags` (when the _TAGS_SOURCE guard holds), an element without namespace and
    attributes (RSS 2.0's <title>, <link>, <pubDate>...) goes straight to feedparser's
    unknown_starttag/endtag with its lower-cased name: what the two SAX layers make of it on the way (no namespace, no prefix
    to add, no attribute, no pending xmlns declaration). With `characters` (feedparser_elements'
    make_characters, when the _TEXT_SOURCE guard holds), expat hands text to it directly."""
    from xml.sax import expatreader
    base = expatreader.ExpatParser
    base_start, base_end = base.start_element_ns, base.end_element_ns

    class TextRunReader(base):
        def reset(self):
            base.reset(self)
            h = self._cont_handler
            self._plain_tags = (plain_tags and type(h) is strict_parser
                                and not h._matchnamespaces.get(""))
            if characters is not None and type(h) is strict_parser:
                self._parser.CharacterDataHandler = characters(h)

        def start_element_ns(self, name, attrs):
            self._start(name, attrs)
            version = getattr(self._cont_handler, "version", None)
            if version and version != "atom10":
                self._parser.buffer_text = True
                self._parser.StartElementHandler = self._start    # no more checks

        def _start(self, name, attrs):
            h = self._cont_handler
            if self._plain_tags and not attrs and " " not in name and not h.decls:
                h.unknown_starttag(name.lower(), [])
            else:
                base_start(self, name, attrs)

        def end_element_ns(self, name):
            if self._plain_tags and " " not in name:
                self._cont_handler.unknown_endtag(name.lower())
            else:
                base_end(self, name)

    return TextRunReader


# sha256 of the source of feedparser 6.0.x's _StrictFeedParser.characters + the mixin's
# handle_data, as feedparser_elements.make_characters reproduces them
_TEXT_SOURCE = "418490f8801a353932aa5260d50a5481106318ba6fbef4091356d923ec248a9e"


def _text_guard(api, mixin) -> bool:
    from feedparser.parsers import strict
    s, m = strict._StrictFeedParser, mixin._FeedParserMixin
    return (_source_is(_TEXT_SOURCE, s.characters, m.handle_data)
            and api.StrictFeedParser.characters is s.characters
            and api.StrictFeedParser.handle_data is m.handle_data)


def _tags_guard(api) -> bool:
    from feedparser.parsers import strict
    from xml.sax import expatreader
    s, e = strict._StrictFeedParser, expatreader.ExpatParser
    return (_source_is(_TAGS_SOURCE, s.startElementNS, s.endElementNS, e.start_element_ns,
                       e.end_element_ns)
            and api.StrictFeedParser.startElementNS is s.startElementNS
            and api.StrictFeedParser.endElementNS is s.endElementNS)


def create_parser(*args):
    """The SAX driver entry point xml.sax.make_parser calls (patch 5 names this module)."""
    return _state["reader"](*args)


def _sax_guard(api) -> bool:
    """feedparser asks for drv_libxml2, which is not there, then gets xml.sax's expat reader."""
    import xml.sax
    from xml.sax import expatreader
    return (getattr(api, "PREFERRED_XML_PARSERS", None) == ["drv_libxml2"]
            and importlib.util.find_spec("drv_libxml2") is None
            and xml.sax.default_parser_list == ["xml.sax.expatreader"]
            and getattr(getattr(api, "xml", None), "sax", None) is xml.sax
            and callable(getattr(expatreader.ExpatParser, "start_element_ns", None)))


# sha256 of the source of feedparser 6.0.x's _FeedParserMixin.pop + looks_like_html, and of its
# unknown_starttag, as bot.adapters.feedparser_elements reproduces them
_POP_SOURCE = "73327f2efcedc7705c2173e3b56d4a7d674f2845586616e77fe005398cfa525b"
_STARTTAG_SOURCE = "9fda2fdebe14d8e3bbf6d5509e5ea99aa0e1212cb57aab89bf56288d170398e6"


def _source_is(digest: str, *functions) -> bool:
    try:
        src = "".join(inspect.getsource(f) for f in functions)
    except (OSError, TypeError):                     # pragma: no cover - no source installed
        return False
    return hashlib.sha256(src.encode()).hexdigest() == digest


def _inherited(api, mixin, name: str) -> bool:
    """Both feedparser parsers use the mixin's own `name`."""
    own = getattr(mixin._FeedParserMixin, name)
    return getattr(api.StrictFeedParser, name) is own and getattr(api.LooseFeedParser, name) is own


def _pop_guard(api, mixin) -> bool:
    m = mixin._FeedParserMixin
    return (_source_is(_POP_SOURCE, m.pop, m.looks_like_html)
            and _inherited(api, mixin, "pop") and _inherited(api, mixin, "looks_like_html"))


def _starttag_guard(api, mixin) -> bool:
    m = mixin._FeedParserMixin
    return (_source_is(_STARTTAG_SOURCE, m.unknown_starttag)
            and _inherited(api, mixin, "unknown_starttag"))


# sha256 of the source of feedparser 6.0.x's datetimes._parse_date + the rfc822 module +
# _parse_date_w3dtf, as bot.adapters.feedparser_dates reproduces them
_DATES_SOURCE = "04d929f6641898a3c85c6fb79fcf8387c2a8b02f00d20911b5157de1ac0672f3"


def _dates_guard(datetimes) -> bool:
    """feedparser's own date code, and its handler list as feedparser registers it."""
    from feedparser.datetimes import rfc822, w3dtf
    handlers = datetimes._date_handlers
    return (_source_is(_DATES_SOURCE, datetimes._parse_date, rfc822, w3dtf._parse_date_w3dtf)
            and len(handlers) == 9 and handlers[0] is w3dtf._parse_date_w3dtf
            and handlers[1] is rfc822._parse_date_rfc822)


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
              and {"get", "__getitem__", "__contains__"}.issubset(vars(FeedParserDict))
              and getattr(mixin, "_urljoin", None) is getattr(urls, "_urljoin", 0)
              and getattr(getattr(urls, "_urifixer", None), "pattern", None) == _FIXER
              and cp.__class__ is dict
              and all(k.__class__ is int and 0 <= k < 0x10000 and v.__class__ is str
                      and len(v) == 1 for k, v in cp.items()))
        if ok:
            special = _special_keys(FeedParserDict)
            _state["original"] = (mixin.copy, FeedParserDict.get, FeedParserDict.__getitem__,
                                  FeedParserDict.__contains__, mixin._urljoin, mixin._cp1252)
            mixin.copy = _make_shim(FeedParserDict)
            (FeedParserDict.get, FeedParserDict.__getitem__,
             FeedParserDict.__contains__) = _fast_lookups(FeedParserDict)
            mixin._urljoin = _make_urljoin(urls._urljoin, urls._urifixer)
            mixin._cp1252 = _cp1252_table(cp)
            from feedparser import api
            if _sax_guard(api):
                from bot.adapters.feedparser_elements import make_characters
                _state["reader"] = _text_run_reader(
                    api.StrictFeedParser, _tags_guard(api),
                    make_characters if _text_guard(api, mixin) and _FAST_KEYS.isdisjoint(special)
                    else None)
                _state["sax"] = api.PREFERRED_XML_PARSERS
                api.PREFERRED_XML_PARSERS = [__name__]
            if _pop_guard(api, mixin) and _FAST_KEYS.isdisjoint(special):
                from bot.adapters.feedparser_elements import make_pop
                _state["pop"] = mixin._FeedParserMixin.pop
                mixin._FeedParserMixin.pop = make_pop(cp, mixin.copy.deepcopy)
            if _starttag_guard(api, mixin):
                from bot.adapters.feedparser_elements import make_starttag
                _state["starttag"] = original = mixin._FeedParserMixin.unknown_starttag
                mixin._FeedParserMixin.unknown_starttag = make_starttag(original)
            from feedparser import datetimes
            from feedparser.namespaces import _base, dc
            if (_dates_guard(datetimes) and _base._parse_date is datetimes._parse_date
                    and dc._parse_date is datetimes._parse_date):
                from bot.adapters.feedparser_dates import make_parse_date
                _state["dates"] = datetimes._parse_date
                _base._parse_date = dc._parse_date = make_parse_date(datetimes._parse_date,
                                                                     datetimes._date_handlers)
    except (ImportError, AttributeError):          # pragma: no cover - another feedparser
        ok = False
    return ok


def remove() -> None:
    """Undo apply() (tests compare patched and unpatched output)."""
    if _state.pop("applied", False):
        from feedparser import mixin
        from feedparser.util import FeedParserDict
        (mixin.copy, FeedParserDict.get, FeedParserDict.__getitem__, FeedParserDict.__contains__,
         mixin._urljoin, mixin._cp1252) = _state.pop("original")
        if "sax" in _state:
            from feedparser import api
            api.PREFERRED_XML_PARSERS = _state.pop("sax")
        if "pop" in _state:
            mixin._FeedParserMixin.pop = _state.pop("pop")
        if "starttag" in _state:
            mixin._FeedParserMixin.unknown_starttag = _state.pop("starttag")
        if "dates" in _state:
            from feedparser.namespaces import _base, dc
            _base._parse_date = dc._parse_date = _state.pop("dates")
