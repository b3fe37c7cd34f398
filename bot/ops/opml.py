"""OPML 2.0 import into feeds.yaml (comments and layout preserved) and export from it."""
from __future__ import annotations

import io
import ipaddress
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from urllib.parse import urlsplit

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from bot.adapters.files import atomic_write
from bot.core.normalize import strip_controls
from bot.core.watchlist import LANG_RE, Feed, FeedList


class OpmlError(Exception):
    """Names the file (and line:column when known)."""


@dataclass(frozen=True)
class OpmlFeed:
    name: str
    url: str
    lang: str | None = None
    enabled: bool = True


@dataclass(frozen=True)
class Refused:
    name: str
    url: str
    reason: str


def refusal(url: str) -> str | None:
    """Why an OPML outline's URL is not imported (None: an http(s) URL of a public host).

    An OPML file comes from strangers: it may only name http(s) feeds. Local paths, file:,
    other schemes and literal loopback/private/link-local hosts are refused here (feeds.yaml,
    which the operator writes, may still name them). Host names are checked again, on the
    address actually connected to, at every fetch (bot.adapters.fetch).
    """
    from bot.adapters.fetch import blocked_reason
    if not url.isprintable() or any(c.isspace() for c in url):
        return "malformed URL (control characters or spaces)"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        return f"malformed URL ({e})"
    scheme = parts.scheme.lower()
    if not scheme or (len(scheme) == 1 and url[1:2] == ":") or url.startswith(("/", "~", ".")):
        return "a local path, not an http(s) URL"
    if scheme == "file":
        return "a local file (file:), not an http(s) URL"
    if scheme not in ("http", "https"):
        return f"{scheme}: is not an http(s) URL"
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        return "no host name"
    if host == "localhost" or host.endswith(".localhost"):
        return "loopback host name"
    if port == 0:
        return "port 0"
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    return blocked_reason(host)


def parse_opml(data: bytes, source: str = "<opml>") -> list[OpmlFeed]:
    """Every <outline xmlUrl=...> at any depth (folders are flattened), in document order.

    ElementTree neither fetches external entities nor expands entity bombs (expat >= 2.4).
    """
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        line, col = e.position
        raise OpmlError(f"{source}:{line}:{col + 1}: not valid OPML/XML: "
                        f"{str(e).split(':')[0]}") from None
    if root.tag != "opml" or root.find("body") is None:
        raise OpmlError(f"{source}: not an OPML document (expected <opml> with a <body>, "
                        f"got <{root.tag}>)")
    out: list[OpmlFeed] = []
    for i, node in enumerate(root.find("body").iter("outline")):
        url = (node.get("xmlUrl") or node.get("xmlurl") or "").strip()
        if not url:
            continue                                   # a folder or a plain note
        name = strip_controls(node.get("title") or node.get("text") or "").strip()
        name = name or _name_from_url(strip_controls(url))
        # primary subtag only: watchlist aliases are keyed by "en", "ja", not "en-GB"
        lang = (node.get("language") or "").strip().lower().split("-")[0] or None
        if lang and not re.match(LANG_RE, lang):
            lang = None
        enabled = node.get("isComment", "false").lower() != "true"
        out.append(OpmlFeed(" ".join(name.split())[:100], url, lang, enabled))
    return out


def _name_from_url(url: str) -> str:
    host = re.sub(r"^[a-z]+://", "", url).split("/")[0]
    return host or url


# ------------------------------------------------------------------------------ import
def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.indent(mapping=2, sequence=4, offset=2)
    y.width = 4096
    return y


def merge(feeds_file: Path, incoming: list[OpmlFeed]) -> tuple[str, list[OpmlFeed], list[OpmlFeed]]:
    """New feeds.yaml text with `incoming` appended; returns (text, added, skipped).

    Feeds whose URL is already listed are skipped; a name already taken gets " (2)", " (3)"...
    Existing content, comments and order are kept byte-for-byte where ruamel can.
    """
    y = _yaml()
    if feeds_file.exists():
        data = y.load(feeds_file.read_text(encoding="utf-8"))
        if data is None:
            data = CommentedMap()
        if not isinstance(data, dict):
            raise OpmlError(f"{feeds_file}: expected a mapping with a `feeds:` list")
    else:
        data = CommentedMap()
    feeds = data.get("feeds")
    if feeds is None:
        feeds = data["feeds"] = CommentedSeq()
    if not isinstance(feeds, list):
        raise OpmlError(f"{feeds_file}: `feeds` must be a list")
    urls = {str(f.get("url")) for f in feeds if isinstance(f, dict)}
    names = {str(f.get("name")) for f in feeds if isinstance(f, dict)}
    added, skipped = [], []
    for f in incoming:
        if f.url in urls:
            skipped.append(f)
            continue
        name, n = f.name, 2
        while name in names:
            name, n = f"{f.name[:94]} ({n})", n + 1
        entry = CommentedMap([("name", name), ("url", f.url)])
        if f.lang:
            entry["lang"] = f.lang
        if not f.enabled:
            entry["enabled"] = False
        feeds.append(entry)
        urls.add(f.url)
        names.add(name)
        added.append(OpmlFeed(name, f.url, f.lang, f.enabled))
    buf = io.StringIO()
    y.dump(data, buf)
    return buf.getvalue(), added, skipped


def validate_feeds_text(text: str, where: Path) -> FeedList:
    """Validate new feeds.yaml content with the same loader the service uses (file:line errors)."""
    from bot.adapters.config import load_feeds     # the service's loader: same rules, same errors
    fd, tmp = tempfile.mkstemp(prefix=".feeds-check-", suffix=".yaml",
                               dir=where.parent if where.parent.is_dir() else None)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        feedlist, problems = load_feeds(Path(tmp))
    finally:
        os.unlink(tmp)
    if problems:
        raise OpmlError("the merged feeds.yaml would be invalid, nothing written:\n" + "\n".join(
            str(p).replace(tmp, str(where)) for p in problems))
    return feedlist


def split_refused(incoming: list[OpmlFeed]) -> tuple[list[OpmlFeed], list[Refused]]:
    ok, refused = [], []
    for f in incoming:
        why = refusal(f.url)
        if why is None:
            ok.append(f)
        else:
            refused.append(Refused(f.name, f.url, why))
    return ok, refused


def import_opml(opml_file: Path, feeds_file: Path, *, dry_run: bool = False):
    """Parse, refuse what is not an http(s) feed, merge, validate, write.
    Returns (added, skipped, refused). Raises OpmlError; feeds.yaml is untouched on any error."""
    try:
        data = Path(opml_file).read_bytes()
    except OSError as e:
        raise OpmlError(f"{opml_file}: cannot read: {e.strerror or e}") from None
    incoming = parse_opml(data, str(opml_file))
    if not incoming:
        raise OpmlError(f"{opml_file}: no feeds found (no <outline> with an xmlUrl attribute)")
    incoming, refused = split_refused(incoming)
    text, added, skipped = merge(feeds_file, incoming)
    if added:
        validate_feeds_text(text, feeds_file)
        if not dry_run:
            feeds_file.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(feeds_file, text)
    return added, skipped, refused


# ------------------------------------------------------------------------------ export
def export_opml(feeds: list[Feed] | tuple[Feed, ...], title: str = "sokuho feeds") -> str:
    """OPML 2.0; disabled feeds are exported with isComment="true" (and imported back disabled)."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = formatdate(usegmt=True)
    body = ET.SubElement(root, "body")
    for f in feeds:
        attrs = {"type": "rss", "text": f.name, "title": f.name, "xmlUrl": f.url}
        if f.lang:
            attrs["language"] = f.lang
        if not f.enabled:
            attrs["isComment"] = "true"
        ET.SubElement(body, "outline", attrs)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
