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
    path = find_file(directory, name)
    y = _yaml()
    original = path.read_text(encoding="utf-8")
    try:
        doc = y.load(original)
    except Exception as e:
        raise EditError(f"{path.name} is not valid YAML: {e}") from None
    if not isinstance(doc, CommentedMap):
        raise EditError(f"{path.name}: top level is not a mapping")
    if kind == "alias":
        lang = _edit_alias(doc, action, text, lang, path)
    else:
        _edit_exclude(doc, action, text, path)
    try:
        Watchlist.model_validate(_plain(doc))
    except ValidationError as e:
        errs = "; ".join(f"{'.'.join(map(str, x['loc'])) or '(top)'}: {x['msg']}"
                         for x in e.errors()[:3])
        raise EditError(f"the result would be invalid: {errs}") from None
    buf = io.StringIO()
    y.dump(doc, buf)
    atomic_write(path, buf.getvalue())
    return EditResult(path, name, kind, "added" if action == "add" else "removed", text, lang)


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


