"""Loading watchlists/*.yaml and feeds.yaml, with errors that name file, line, column and field.

A broken file never half-loads: `load_config` either returns a complete Config or raises ConfigError
listing every problem found, so the caller can keep the last good configuration running.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError
# ruamel.yaml is imported where a file is parsed (a process whose config is in the parse cache
# never needs it)

from bot.core.watchlist import FeedList, Watchlist

FEEDS_FILE = "feeds.yaml"


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None      # 1-based
    column: int | None    # 1-based
    field: str            # dotted path, e.g. aliases.en[3].text
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        fld = f" {self.field}:" if self.field else ""
        return f"{where}:{fld} {self.message}"


class ConfigError(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class Config:
    watchlists: dict[str, Watchlist]
    feeds: FeedList
    files: dict[str, str] = field(default_factory=dict)   # watchlist name -> file path


def _yaml():
    from ruamel.yaml import YAML
    y = YAML(typ="rt")
    y.allow_duplicate_keys = False
    return y


def _dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _locate(node, loc: tuple) -> tuple[int | None, int | None]:
    """Follow a pydantic error location through ruamel nodes to the deepest line/column known."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    line = col = None
    if hasattr(node, "lc"):
        line, col = node.lc.line, node.lc.col
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line, col = node.lc.key(part)
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line, col = node.lc.item(part)
            node = node[part]
        else:
            break
    return (line + 1 if line is not None else None, col + 1 if col is not None else None)


def _allowed_keys(model, loc: tuple) -> list[str]:
    """The field names of the model found at `loc` (for 'unknown key' messages)."""
    import typing

    from pydantic import BaseModel

    def inner(tp):
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            return tp
        for arg in typing.get_args(tp):
            found = inner(arg)
            if found is not None:
                return found
        return None

    for part in loc:
        if isinstance(part, str) and part in model.model_fields:
            nxt = inner(model.model_fields[part].annotation)
            if nxt is None:
                break
            model = nxt
    return list(model.model_fields)


_PLAIN_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in
                        ("str", "int", "float", "bool", "null", "map", "seq", "timestamp", "merge"))


def _tag(node) -> str:
    return str(getattr(node.tag, "value", node.tag) or "")


def _children(node) -> list:
    """A composed node's child nodes (a mapping's keys and values, a sequence's items)."""
    value = node.value
    if not isinstance(value, list):
        return []
    return [x for item in value for x in (item if isinstance(item, tuple) else (item,))]


def _nodes(root):
    """Every node of a composed YAML tree once (aliases are walked once)."""
    stack, seen = [root] if root is not None else [], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        stack.extend(_children(node))


def _foreign_tag(text: str, path: Path) -> Problem | None:
    """The first node with a tag beyond plain YAML (`!!python/object/apply:...`, `!custom`,
    `!!binary`, `!!set` ...): configuration is data, never objects."""
    for node in _nodes(_yaml().compose(text)):
        tag = _tag(node)
        if tag not in _PLAIN_TAGS:
            shown = tag.replace("tag:yaml.org,2002:", "!!")
            mark = node.start_mark
            return Problem(str(path), mark.line + 1, mark.column + 1, "",
                           f"YAML tag {shown} is not allowed: a watchlist or feed list holds "
                           "plain strings, numbers, lists and mappings only")
    return None


def _read(path: Path, text: str | None = None) -> tuple[object, list[Problem]]:
    """Parse one file with the round-trip parser (its errors name line and column); `text`:
    the file's text when the caller has read it already."""
    try:
        if text is None:
            text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        return None, [Problem(str(path), None, None, "", f"not UTF-8 text ({e.reason})")]
    except OSError as e:
        return None, [Problem(str(path), None, None, "", f"cannot read: {e.strerror or e}")]
    from ruamel.yaml.error import MarkedYAMLError
    try:
        data = _yaml().load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        msg = " ".join(x for x in (e.context, e.problem) if x) or str(e)
        return None, [Problem(str(path), line, col, "", f"invalid YAML: {msg}")]
    except Exception as e:  # ruamel raises a few non-marked errors (e.g. duplicate keys)
        return None, [Problem(str(path), None, None, "", f"invalid YAML: {e}")]
    tagged = _foreign_tag(text, path)
    if tagged is not None:
        return None, [tagged]
    return data, []


def _validate(model, data, path: Path):
    if not isinstance(data, dict):
        kind = "empty" if data is None else type(data).__name__
        return None, [Problem(str(path), 1, 1, "", f"expected a mapping at the top level, got {kind}")]
    try:
        return model.model_validate(data), []
    except ValidationError as e:
        probs = []
        for err in e.errors():
            loc = tuple(err["loc"])
            line, col = _locate(data, loc)
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                allowed = ", ".join(_allowed_keys(model, loc[:-1]))
                msg = f"unknown key (typo?); allowed here: {allowed}"
            probs.append(Problem(str(path), line, col, _dotted(loc), msg))
        return None, probs


def watchlist_files(directory: Path) -> list[Path]:
    files = sorted(p for p in directory.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))
    return [p for p in files if p.name not in (FEEDS_FILE, "feeds.yml")]


# --- parse cache ---------------------------------------------------------------------------------
# The round-trip YAML parser (needed for line numbers in errors) reads ~60 KB/s: a 500-feed
# feeds.yaml costs most of a second, at every `poll --once`. Files that parsed and validated are
# remembered as plain JSON data keyed by a hash of their text (state/config-cache.json, owner only);
# the same text is then validated from that data without parsing. Anything unusual (a value JSON
# cannot carry exactly, a validation problem) takes the full path, so errors still name lines.

_NOT_PLAIN = object()
_CACHE_FILE = "config-cache.json"
_CACHE_VERSION = 1


def _plain(v):
    """YAML data as plain JSON types, or _NOT_PLAIN (dates, bytes, sets: not cached)."""
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v) if v == v and v not in (float("inf"), float("-inf")) else _NOT_PLAIN
    if isinstance(v, str):
        return str(v)
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            x = _plain(x)
            if not isinstance(k, str) or x is _NOT_PLAIN:
                return _NOT_PLAIN
            out[str(k)] = x
        return out
    if isinstance(v, list):
        out_l = [_plain(x) for x in v]
        return _NOT_PLAIN if any(x is _NOT_PLAIN for x in out_l) else out_l
    return _NOT_PLAIN


class ParseCache:
    """Parsed YAML data by text hash, read once and written back (atomically) if it changed.
    Best effort: an unreadable or unwritable cache only means parsing again."""

    def __init__(self, directory: Path):
        self.path = Path(directory) / _CACHE_FILE
        self.old: dict = {}
        self.new: dict = {}
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            if raw.get("version") == _CACHE_VERSION and isinstance(raw.get("files"), dict):
                self.old = raw["files"]
        except (OSError, ValueError, AttributeError):
            pass

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def get(self, text: str):
        k = self.key(text)
        data = self.old.get(k)
        if data is not None:
            self.new[k] = data
        return data

    def put(self, text: str, data) -> None:
        self.new[self.key(text)] = data

    def save(self) -> None:
        if self.new == self.old or not self.path.parent.is_dir():
            return
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"version": _CACHE_VERSION, "files": self.new}, fh,
                          ensure_ascii=False, separators=(",", ":"))
            os.replace(tmp, self.path)
        except OSError:
            try:
                tmp.unlink()
            except OSError:
                pass


# --- fast path ----------------------------------------------------------------------------------
# On a cache miss, the C parser of ruamel.yaml.clib (libyaml, ~25x faster than the round-trip
# parser) reads the file as plain data with the same YAML 1.2 resolver. It is used only when the
# answer is certain to be the round-trip parser's: no directive (`%YAML 1.1` would switch the
# round-trip resolver to 1.1 rules), no merge key (`<<` orders keys differently), no explicit tag,
# no duplicate keys, plain JSON-able values, and the data validates. Anything else (or clib not
# installed) takes the round-trip path, whose errors name file:line:column.

_DIRECTIVE = re.compile(r"^%", re.MULTILINE)
# an explicit tag (`!!str 12` is a TaggedScalar to the round-trip loader, a str to the safe one):
# anything that could be one (a `!` starting a token) goes to the round-trip path
_TAG_LIKE = re.compile(r"(?:^|[\s\[{,])!")
_FAST_TAGS = _PLAIN_TAGS - {"tag:yaml.org,2002:merge"}
# The C composer recurses on the C stack (a crash, not an exception, at ~30,000 levels with 8 MB).
# Nesting depth <= flow brackets + the widest line (a block level starts right of its parent), so a
# text under this bound cannot nest deeper; over it, the round-trip parser decides.
_FAST_MAX_DEPTH = 5000


def _small_tree(root, limit: int) -> bool:
    """The tree expanded (aliases copied) has at most `limit` nodes and no cycle: a billion-laughs
    file, whose plain data would be exponential, goes to the round-trip path."""
    size: dict[int, int] = {}
    open_: set[int] = set()
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            open_.discard(key)
            size[key] = min(limit + 1, 1 + sum(size[id(k)] for k in _children(node)))
            continue
        if key in size:
            continue
        if key in open_:
            return False                       # a recursive alias
        open_.add(key)
        stack.append((node, True))
        for kid in _children(node):
            if id(kid) in open_:
                return False
            if id(kid) not in size:
                stack.append((kid, False))
    return size[id(root)] <= limit


def _c_yaml():
    """A safe YAML loader on the C parser, or None when ruamel.yaml.clib is not installed."""
    try:
        from ruamel.yaml import YAML
        from ruamel.yaml.main import CParser
    except ImportError:                        # pragma: no cover - ruamel.yaml is a dependency
        return None
    if CParser is None:
        return None
    y = YAML(typ="safe", pure=False)
    y.allow_duplicate_keys = False
    return y if y.Parser is CParser else None


def _read_fast(text: str):
    """The plain data of `text` by the C parser, or _NOT_PLAIN when the round-trip parser must
    decide (see above)."""
    if _DIRECTIVE.search(text) or _TAG_LIKE.search(text) or "\t" in text:
        return _NOT_PLAIN                      # a tab: libyaml takes some the round trip refuses
    widest = max(map(len, text.splitlines()), default=0)
    if text.count("[") + text.count("{") + widest > _FAST_MAX_DEPTH:
        return _NOT_PLAIN
    y = _c_yaml()
    if y is None:
        return _NOT_PLAIN
    try:
        loader, parser = y.get_constructor_parser(text)
        try:
            root = loader.get_single_node()
            if (root is None or any(_tag(n) not in _FAST_TAGS for n in _nodes(root))
                    or not _small_tree(root, len(text) + 1000)):
                return _NOT_PLAIN
            data = loader.construct_document(root)
        finally:
            parser.dispose()
        return _plain(data)
    except Exception:                          # any YAML error: the round-trip path reports it
        return _NOT_PLAIN


def _load(model, path: Path, cache: ParseCache | None):
    """Read, parse and validate one file: from the parse cache, else by the C parser, else (or
    on any problem) by the round-trip parser that locates errors."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = None                           # _read says what is wrong
    if text is not None:
        data = cache.get(text) if cache is not None else None
        if data is not None:
            obj, probs = _validate(model, data, path)
            if not probs:
                return obj, []
        plain = _read_fast(text)
        if plain is not _NOT_PLAIN:
            obj, probs = _validate(model, plain, path)
            if not probs:
                if cache is not None:
                    cache.put(text, plain)
                return obj, []
    data, probs = _read(path, text)
    if probs:
        return None, probs
    obj, probs = _validate(model, data, path)
    if cache is not None and text is not None and not probs:
        plain = _plain(data)
        if plain is not _NOT_PLAIN and _validate(model, plain, path)[0] == obj:
            cache.put(text, plain)
    return obj, probs


def load_watchlist_file(path: Path, cache: ParseCache | None = None
                        ) -> tuple[Watchlist | None, list[Problem]]:
    return _load(Watchlist, path, cache)


def load_feeds(path: Path, cache: ParseCache | None = None) -> tuple[FeedList | None, list[Problem]]:
    if not path.exists():
        return FeedList(), []
    feeds, probs = _load(FeedList, path, cache)
    if feeds is None:
        return None, probs
    return _resolve_paths(feeds, path.parent), []


def _resolve_paths(feeds: FeedList, base: Path) -> FeedList:
    """A relative file path in feeds.yaml is relative to feeds.yaml, not to the current folder."""
    out = []
    for f in feeds.feeds:
        if "://" not in f.url and not Path(f.url).expanduser().is_absolute():
            f = f.model_copy(update={"url": str((base / f.url).resolve())})
        out.append(f)
    return feeds.model_copy(update={"feeds": tuple(out)})


def load_config(directory: Path | str, *, require_watchlists: bool = True,
                feeds_file: Path | str | None = None, cache_dir: Path | str | None = None) -> Config:
    """Every watchlist in `directory` and the feed list (`directory/feeds.yaml`, or `feeds_file`).
    cache_dir: an existing folder (the state folder) for the parse cache (see ParseCache)."""
    directory = Path(directory)
    cache = ParseCache(Path(cache_dir)) if cache_dir and Path(cache_dir).is_dir() else None
    problems: list[Problem] = []
    if not directory.is_dir():
        raise ConfigError([Problem(str(directory), None, None, "", "watchlist folder not found")])
    watchlists: dict[str, Watchlist] = {}
    files: dict[str, str] = {}
    for path in watchlist_files(directory):
        wl, probs = load_watchlist_file(path, cache)
        problems += probs
        if wl is None:
            continue
        if wl.name in watchlists:
            problems.append(Problem(str(path), None, None, "name",
                                    f"watchlist name {wl.name!r} is already used by {files[wl.name]}"))
            continue
        watchlists[wl.name] = wl
        files[wl.name] = str(path)
    if require_watchlists and not watchlists and not problems:
        problems.append(Problem(str(directory), None, None, "", "no watchlist files (*.yaml) found"))
    feeds, probs = load_feeds(Path(feeds_file) if feeds_file else directory / FEEDS_FILE, cache)
    problems += probs
    if problems:
        raise ConfigError(problems)
    if cache is not None:
        cache.save()
    return Config(watchlists, feeds, files)


def diff_config(old: Config | None, new: Config) -> list[str]:
    """Human-readable changes between two configurations (for reload logs)."""
    if old is None:
        return [f"loaded {len(new.watchlists)} watchlists, {len(new.feeds.feeds)} feeds"]
    out = []
    for name in sorted(set(new.watchlists) - set(old.watchlists)):
        out.append(f"watchlist added: {name}")
    for name in sorted(set(old.watchlists) - set(new.watchlists)):
        out.append(f"watchlist removed: {name}")
    for name in sorted(set(old.watchlists) & set(new.watchlists)):
        a = {x.text for _, x in old.watchlists[name].all_aliases()}
        b = {x.text for _, x in new.watchlists[name].all_aliases()}
        if b - a:
            out.append(f"{name}: aliases added: {', '.join(sorted(b - a))}")
        if a - b:
            out.append(f"{name}: aliases removed: {', '.join(sorted(a - b))}")
        ea, eb = set(old.watchlists[name].excludes), set(new.watchlists[name].excludes)
        if eb - ea:
            out.append(f"{name}: excludes added: {', '.join(sorted(eb - ea))}")
        if ea - eb:
            out.append(f"{name}: excludes removed: {', '.join(sorted(ea - eb))}")
    fa = {f.url: f for f in old.feeds.feeds}
    fb = {f.url: f for f in new.feeds.feeds}
    for url in fb.keys() - fa.keys():
        out.append(f"feed added: {fb[url].name} <{url}>")
    for url in fa.keys() - fb.keys():
        out.append(f"feed removed: {fa[url].name} <{url}>")
    return out
