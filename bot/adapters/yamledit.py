"""Add or remove an alias or exclude in a watchlist YAML file, keeping comments and order.

ruamel.yaml round-trip; the edited document is validated with bot.core.watchlist.Watchlist
before anything is written; the file is replaced atomically (temp file in the same directory,
fsync, os.replace), so a reader (the live reload) sees either the old or the new file.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from bot.adapters.files import atomic_write
from bot.core.watchlist import Watchlist


class EditError(ValueError):
    """The edit was refused; the file is unchanged. The message is for the user."""


@dataclass
class EditResult:
    path: Path
    watchlist: str
    kind: str          # "alias" or "exclude"
    action: str        # "added" or "removed"
    text: str
    lang: str | None = None


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def find_file(directory: Path | str, name: str) -> Path:
    """The YAML file of watchlist `name`: NAME.yaml/.yml, else the file whose `name:` matches."""
    d = Path(directory)
    for ext in (".yaml", ".yml"):
        p = d / f"{name}{ext}"
        if p.is_file():
            return p
    pat = re.compile(rf"^name:\s*['\"]?{re.escape(name)}['\"]?\s*(#.*)?$", re.M)
    for p in sorted(list(d.glob("*.yaml")) + list(d.glob("*.yml"))):
        if p.name in ("feeds.yaml", "feeds.yml"):
            continue
        try:
            if pat.search(p.read_text(encoding="utf-8")):
                return p
        except OSError:
            continue
    raise EditError(f"no watchlist named {name!r} in {d}")


def _plain(node):
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _alias_text(a) -> str:
    return str(a.get("text", "")) if isinstance(a, dict) else str(a)


def _same(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def _guess_lang(text: str, langs: list[str]) -> str:
    if re.search(r"[\u3040-\u30ff\u3400-\u9fff]", text):
        return "ja"
    try:
        from bot.core.normalize import detect_lang
        got = detect_lang(text)
        if got in langs:
            return got
    except Exception:
        pass
    return "en" if "en" in langs or not langs else langs[0]


def edit(directory: Path | str, name: str, *, kind: str, action: str, text: str,
         lang: str | None = None) -> EditResult:
    """kind: alias|exclude, action: add|remove. Raises EditError (file untouched) on refusal."""
    if kind not in ("alias", "exclude") or action not in ("add", "remove"):
        raise EditError("use: add|remove")
    text = " ".join((text or "").split())
    if not text:
        raise EditError("empty text")
    if len(text) > 200:
        raise EditError("text longer than 200 characters")
    path, y, doc = _load(directory, name)
    if kind == "alias":
        lang = _edit_alias(doc, action, text, lang, path)
    else:
        _edit_exclude(doc, action, text, path)
    _validate_write(y, doc, path)
    return EditResult(path, name, kind, "added" if action == "add" else "removed", text, lang)


def _load(directory: Path | str, name: str):
    path = find_file(directory, name)
    y = _yaml()
    try:
        doc = y.load(path.read_text(encoding="utf-8"))
    except Exception as e:
        raise EditError(f"{path.name} is not valid YAML: {e}") from None
    if not isinstance(doc, CommentedMap):
        raise EditError(f"{path.name}: top level is not a mapping")
    return path, y, doc


def _validate_write(y: YAML, doc: CommentedMap, path: Path) -> None:
    """Validate the edited document as a Watchlist, then replace the file atomically."""
    try:
        Watchlist.model_validate(_plain(doc))
    except ValidationError as e:
        errs = "; ".join(f"{'.'.join(map(str, x['loc'])) or '(top)'}: {x['msg']}"
                         for x in e.errors()[:3])
        raise EditError(f"the result would be invalid: {errs}") from None
    buf = io.StringIO()
    y.dump(doc, buf)
    atomic_write(path, buf.getvalue())


def _flow_seq(items) -> CommentedSeq:
    seq = CommentedSeq(items)
    seq.fa.set_flow_style()
    return seq


def edit_alias_rule(directory: Path | str, name: str, alias: str, *, unless: str | None = None,
                    needs_context: bool = False) -> EditResult:
    """Add an `unless` word to an alias, or make it need context, everywhere the alias text
    occurs in the watchlist (every language). A plain alias becomes `{text: ..., unless: [...]}`;
    an `unless` list shared through a YAML anchor is copied for this alias, not changed for the
    others. Comments and order are kept; the result is validated before it is written."""
    word = " ".join((unless or "").split())
    if not word and not needs_context:
        raise EditError("nothing to change")
    if len(word) > 200:
        raise EditError("text longer than 200 characters")
    path, y, doc = _load(directory, name)
    aliases = doc.get("aliases")
    if not isinstance(aliases, dict):
        raise EditError(f"{path.name}: no 'aliases' mapping")
    found = changed = 0
    for lg, items in list(aliases.items()):
        if not isinstance(items, list):
            items = aliases[lg] = CommentedSeq([items])
        for i, a in enumerate(items):
            if not _same(_alias_text(a), alias):
                continue
            found += 1
            if not isinstance(a, dict):
                m = CommentedMap([("text", a)])
                m.fa.set_flow_style()
                items[i] = a = m
            if word:
                cur = a.get("unless")
                cur = [] if cur is None else ([cur] if isinstance(cur, str) else list(cur))
                if any(_same(str(x), word) for x in cur):
                    continue
                a["unless"] = _flow_seq(cur + [word])      # a fresh list: anchors stay intact
                changed += 1
            elif needs_context and not a.get("needs_context") and not a.get("context"):
                a["needs_context"] = True
                changed += 1
    if not found:
        raise EditError(f"alias {alias!r} is not in {path.name}")
    if not changed:
        raise EditError(f"alias {alias!r} in {path.name} already has that rule")
    _validate_write(y, doc, path)
    return EditResult(path, name, "unless" if word else "needs_context", "added", word or alias)


def _edit_alias(doc: CommentedMap, action: str, text: str, lang: str | None, path: Path):
    aliases = doc.get("aliases")
    if not isinstance(aliases, dict):
        raise EditError(f"{path.name}: no 'aliases' mapping")
    if action == "remove":
        for lg, items in aliases.items():
            if lang and lg != lang:
                continue
            seq = items if isinstance(items, list) else [items]
            for i, a in enumerate(seq):
                if _same(_alias_text(a), text):
                    if isinstance(items, list):
                        del items[i]
                    else:
                        aliases[lg] = CommentedSeq()
                    if not aliases[lg]:
                        del aliases[lg]
                    return lg
        raise EditError(f"alias {text!r} is not in {path.name}")
    for lg, items in aliases.items():
        for a in (items if isinstance(items, list) else [items]):
            if _same(_alias_text(a), text):
                raise EditError(f"alias {text!r} is already in {path.name} ({lg})")
    lang = lang or _guess_lang(text, list(aliases))
    items = aliases.get(lang)
    if items is None:
        aliases[lang] = CommentedSeq([text])
    elif isinstance(items, list):
        items.append(text)
    else:
        aliases[lang] = CommentedSeq([items, text])
    return lang


def _edit_exclude(doc: CommentedMap, action: str, text: str, path: Path) -> None:
    ex = doc.get("excludes")
    if isinstance(ex, str):
        ex = doc["excludes"] = CommentedSeq([ex])
    if action == "add":
        if ex and any(_same(str(x), text) for x in ex):
            raise EditError(f"exclude {text!r} is already in {path.name}")
        if ex is None:
            doc["excludes"] = CommentedSeq([text])
        else:
            ex.append(text)
        return
    for i, x in enumerate(ex or []):
        if _same(str(x), text):
            del ex[i]
            return
    raise EditError(f"exclude {text!r} is not in {path.name}")


