#!/usr/bin/env python3
"""Build a labelled corpus (feeds/*.xml + labels.json) from its hand-written sources.

    python3 eval/tools/build.py eval/regression
    python3 eval/tools/build.py eval/stories

A corpus folder holds ``src/outlets.json`` (one entry per invented outlet: name, language,
RSS 2.0 or Atom, site URL, guid style, time zone, whether it writes <category> tags) and one
``src/<outlet>.txt`` per outlet with one item per line:

    date time | watchlists | cat | class | section | links | title | summary | note

- ``watchlists``: comma-separated names, or ``-`` for none;
- ``cat``: ``pos`` (positive), ``neg`` (hard negative) or ``unr`` (unrelated);
- ``class``: the class tag (see eval/README.md), also written into the note;
- ``section``: URL section and <category> (world, sports, culture, business, ...);
- ``links``: ``-`` or space-separated tokens: ``C01`` (duplicate cluster id), ``@key`` (a name
  for this item), ``nm>X`` (near miss of the item named X, or of the first item of cluster X),
  ``lang=xx`` (the item's language when it differs from the outlet's);
- ``note``: optional free text.

Lines starting with ``#`` are comments. Titles and summaries are the item's own text; the
builder only lays them out as feeds with the outlet's guid/link conventions, so the output is
deterministic and the sources stay reviewable.
"""
from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import json
import os
import re
import sys
import unicodedata
from xml.sax.saxutils import escape, quoteattr

CATS = {"pos": "positive", "neg": "hard_negative", "unr": "unrelated"}
WATCHLISTS = {"venezuela", "monroe-doctrine", "sheinbaum", "cuba", "greenland"}


def slug(text: str, n: int = 8) -> str:
    s = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", s)[:n]
    return "-".join(words) or hashlib.sha1(text.encode()).hexdigest()[:10]


def parse_line(path: str, n: int, line: str) -> dict:
    parts = [p.strip() for p in line.split("|")]
    if len(parts) < 8:
        sys.exit(f"{path}:{n}: expected at least 8 '|'-separated fields, got {len(parts)}")
    when, wls, cat, cls, sec, links, title, summary = parts[:8]
    note = "|".join(parts[8:]).strip()
    try:
        date = dt.datetime.strptime(when, "%Y-%m-%d %H:%M")
    except ValueError:
        sys.exit(f"{path}:{n}: bad date {when!r}")
    names = [] if wls == "-" else [w.strip() for w in wls.split(",")]
    for w in names:
        if w not in WATCHLISTS:
            sys.exit(f"{path}:{n}: unknown watchlist {w!r}")
    if cat not in CATS:
        sys.exit(f"{path}:{n}: unknown category {cat!r}")
    if (cat == "pos") != bool(names):
        sys.exit(f"{path}:{n}: category {cat} does not fit watchlists {names}")
    it = {"date": date, "watchlists": names, "cat": cat, "class": cls, "section": sec,
          "cluster": None, "key": None, "nm": None, "title": title, "summary": summary,
          "note": note, "where": f"{path}:{n}"}
    for tok in ([] if links == "-" else links.split()):
        if tok.startswith("@"):
            it["key"] = tok[1:]
        elif tok.startswith("lang="):
            it["lang"] = tok[5:]
        elif tok.startswith("nm>"):
            it["nm"] = tok[3:]
        else:
            it["cluster"] = tok
    return it


def rfc822(d: dt.datetime) -> str:
    return email.utils.format_datetime(d)


def build(corpus: str) -> None:
    src = os.path.join(corpus, "src")
    with open(os.path.join(src, "outlets.json"), encoding="utf-8") as fh:
        outlets = json.load(fh)
    feeds_dir = os.path.join(corpus, "feeds")
    os.makedirs(feeds_dir, exist_ok=True)
    for old in os.listdir(feeds_dir):
        if old.endswith(".xml"):
            os.remove(os.path.join(feeds_dir, old))
    labels, keyed, by_cluster, pending_nm = {}, {}, {}, []
    for o in outlets:
        path = os.path.join(src, o["name"] + ".txt")
        items = []
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                line = line.rstrip("\n")
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                items.append(parse_line(path, n, line))
        tz = dt.timezone(dt.timedelta(hours=o.get("utc_offset", 0)))
        seq = 0
        for it in items:
            seq += 1
            d = it["date"].replace(tzinfo=tz)
            it["date"] = d
            stamp = d.strftime("%Y%m%d")
            num = f"{o.get('id_base', 1000) + seq}"
            fields = {"base": o["site"], "date": stamp, "n": num, "seq": f"{seq:03d}",
                      "sec": o.get("sections", {}).get(it["section"], it["section"]),
                      "y": d.strftime("%Y"), "m": d.strftime("%m"), "d": d.strftime("%d"),
                      "slug": slug(it["title"])}
            ident = o["guid"].format(**fields)
            link = o["link"].format(**fields)
            it["id"], it["link"] = ident, link
            if ident in labels:
                sys.exit(f"{it['where']}: duplicate guid {ident}")
            note = f"class: {it['class']}." + (f" {it['note']}" if it["note"] else "")
            labels[ident] = {"watchlists": it["watchlists"], "cluster": it["cluster"],
                             "lang": it.get("lang") or o["lang"], "note": note,
                             "category": CATS[it["cat"]], "class": it["class"],
                             "title": it["title"], "feeds": [o["name"] + ".xml"]}
            if it["key"]:
                keyed[it["key"]] = ident
            if it["cluster"]:
                by_cluster.setdefault(it["cluster"], []).append(ident)
            if it["nm"]:
                pending_nm.append((ident, it["nm"], it["where"]))
        write_feed(os.path.join(feeds_dir, o["name"] + ".xml"), o, items)
    for ident, target, where in pending_nm:
        other = keyed.get(target) or (by_cluster.get(target) or [None])[0]
        if not other:
            sys.exit(f"{where}: near miss target {target!r} not found")
        labels[ident]["near_miss_of"] = other
        labels[other].setdefault("near_miss_of", ident)
    for cid, members in by_cluster.items():
        if len(members) < 2:
            sys.exit(f"cluster {cid} has a single member {members[0]}")
    meta = {"corpus": os.path.basename(os.path.abspath(corpus)),
            "watchlists": sorted(WATCHLISTS), "feeds": [o["name"] + ".xml" for o in outlets],
            "notes": open(os.path.join(src, "NOTES"), encoding="utf-8").read().strip()
            if os.path.exists(os.path.join(src, "NOTES")) else ""}
    with open(os.path.join(corpus, "labels.json"), "w", encoding="utf-8") as fh:
        json.dump({"meta": meta, "items": labels}, fh, ensure_ascii=False, indent=1)
        fh.write("\n")
    print(f"{corpus}: {len(labels)} items, {len(by_cluster)} clusters, "
          f"{len(pending_nm)} near-miss links, {len(outlets)} feeds")


def write_feed(path: str, o: dict, items: list[dict]) -> None:
    items = sorted(items, key=lambda i: i["date"], reverse=True)
    newest = items[0]["date"] if items else dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    out = ['<?xml version="1.0" encoding="UTF-8"?>']
    cats = o.get("categories", False)
    if o["format"] == "atom":
        out.append(f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{o["lang"]}">')
        out.append(f"  <title>{escape(o['title'])}</title>")
        out.append(f"  <id>{escape(o['feed_id'])}</id>")
        out.append(f'  <link rel="alternate" type="text/html" href={quoteattr(o["site"])}/>')
        out.append(f'  <link rel="self" type="application/atom+xml" href={quoteattr(o["self"])}/>')
        out.append(f"  <updated>{newest.isoformat()}</updated>")
        out.append(f"  <author><name>{escape(o['author'])}</name></author>")
        for it in items:
            out.append("  <entry>")
            out.append(f'    <title type="text">{escape(it["title"])}</title>')
            out.append(f"    <id>{escape(it['id'])}</id>")
            out.append(f'    <link rel="alternate" type="text/html" href={quoteattr(it["link"])}/>')
            out.append(f"    <published>{it['date'].isoformat()}</published>")
            out.append(f"    <updated>{it['date'].isoformat()}</updated>")
            if cats:
                label = o.get("category_labels", {}).get(it["section"], it["section"])
                out.append(f"    <category term={quoteattr(label)}/>")
            out.append(f'    <summary type="html">{escape("<p>" + escape(it["summary"]) + "</p>")}</summary>')
            out.append("  </entry>")
        out.append("</feed>")
    else:
        out.append('<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" '
                   'xmlns:dc="http://purl.org/dc/elements/1.1/">')
        out.append("<channel>")
        out.append(f"  <title>{escape(o['title'])}</title>")
        out.append(f"  <link>{escape(o['site'])}</link>")
        out.append(f"  <description>{escape(o['description'])}</description>")
        out.append(f"  <language>{o['lang']}</language>")
        out.append(f'  <atom:link href={quoteattr(o["self"])} rel="self" type="application/rss+xml"/>')
        out.append(f"  <lastBuildDate>{rfc822(newest)}</lastBuildDate>")
        for it in items:
            out.append("  <item>")
            out.append(f"    <title>{escape(it['title'])}</title>")
            out.append(f"    <link>{escape(it['link'])}</link>")
            perma = "true" if it["id"] == it["link"] else "false"
            out.append(f'    <guid isPermaLink="{perma}">{escape(it["id"])}</guid>')
            out.append(f"    <pubDate>{rfc822(it['date'])}</pubDate>")
            if cats:
                label = o.get("category_labels", {}).get(it["section"], it["section"])
                out.append(f"    <category>{escape(label)}</category>")
            out.append(f"    <description>{escape(it['summary'])}</description>")
            out.append("  </item>")
        out.append("</channel>")
        out.append("</rss>")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(out) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    build(sys.argv[1])
