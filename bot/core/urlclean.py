"""Canonical article URLs (pure): the same page reached through different links compares equal.

Tracking parameters (utm_*, fbclid, gclid, ...) and the fragment are dropped, the host is lower-cased,
http/https and default ports are unified, a trailing slash is ignored and the remaining query
parameters are sorted.
"""
from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "hsa_", "at_", "ns_", "oly_", "__twitter")
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid", "twclid",
    "ttclid", "li_fat_id", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "ref_src", "ref_url",
    "cmpid", "ocid", "smid", "smtyp", "sr_share", "s_cid", "ito", "mbid", "spm",
    "fromrss", "wt.mc_id", "guccounter",
})


def is_tracking(name: str) -> bool:
    n = name.lower()
    return n in TRACKING_PARAMS or n.startswith(TRACKING_PREFIXES)


# the fast path's URLs: http(s)://host[/path][?query], the host of unreserved characters (no
# port, no userinfo), the path of those, "/" and ":", and the query (if any) of unreserved
# characters, "=" and "&" only: parse_qsl unquotes nothing in it and urlencode quotes nothing back
_SIMPLE = re.compile(r"https?://([A-Za-z0-9._~-]+)(?:/([A-Za-z0-9._~/:-]*))?(?:\?([A-Za-z0-9._~=&-]*))?")


def canonical_url(url: str) -> str:
    """Return a canonical form of `url`; non-HTTP strings come back stripped but otherwise as-is."""
    url = (url or "").strip()
    if not url:
        return ""
    # fast path for the common case: http(s), no fragment, escapes, port or userinfo, and a
    # query (if any) of plain names and values; what it returns is what _canonical_slow would
    m = _SIMPLE.fullmatch(url)
    if m is not None:
        host, path, query = m.groups()
        if path is None:
            path = "/"
        elif "//" in path or path[:1] == "/":          # (a "//" right after the host too)
            return _canonical_slow(url)
        else:
            path = "/" + path.rstrip("/") if path.strip("/") else "/"
        base = "https://" + host.lower().rstrip(".") + path
        if query:
            query = _plain_query(query)
            if query is None:
                return _canonical_slow(url)
            if query:
                return base + "?" + query
        return base
    return _canonical_slow(url)


def _plain_query(query: str) -> str | None:
    """_canonical_slow's query (parse_qsl with blank values kept, tracking names dropped, sorted,
    urlencode) for a query of _QUERY_OK characters; None when a value holds an "=" (which
    urlencode would quote)."""
    pairs = []
    for field in query.split("&"):
        if field:
            name, _, value = field.partition("=")
            if "=" in value:
                return None
            if not is_tracking(name):
                pairs.append((name, value))
    pairs.sort()
    return "&".join([k + "=" + v for k, v in pairs])


@lru_cache(maxsize=65536)
def _canonical_slow(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return url
    host = parts.hostname.rstrip(".")
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    path = quote(unquote(parts.path or "/"), safe="/:@!$&'()*+,;=-._~%")
    while "//" in path:
        path = path.replace("//", "/")
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracking(k)]
    query.sort()
    return urlunsplit(("https", netloc, path, urlencode(query, doseq=True), ""))
