"""The labelled corpora under eval/ are well-formed and match their hand-written sources.

eval/tools/build.py lays the sources (eval/*/src) out as feeds + labels.json; these tests
rebuild each corpus into a temporary folder and require byte-identical output (so nobody edits
a generated feed by hand), then check with feedparser that every labelled id is an item of the
feeds it names and that every item is labelled, tagged with a class and a known category.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import feedparser
import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPORA = [p for p in (ROOT / "eval" / "regression", ROOT / "eval" / "stories")
           if (p / "src" / "outlets.json").exists()]
CATEGORIES = {"positive", "hard_negative", "unrelated"}
WATCHLISTS = {p.stem for p in (ROOT / "watchlists").glob("*.yaml") if p.stem != "feeds"}


@pytest.mark.parametrize("corpus", CORPORA, ids=lambda p: p.name)
def test_build_is_reproducible(corpus, tmp_path):
    copy = tmp_path / corpus.name
    shutil.copytree(corpus / "src", copy / "src")
    subprocess.run([sys.executable, str(ROOT / "eval" / "tools" / "build.py"), str(copy)],
                   check=True, capture_output=True)
    assert (copy / "labels.json").read_bytes() == (corpus / "labels.json").read_bytes()
    built = sorted(p.name for p in (copy / "feeds").glob("*.xml"))
    assert built == sorted(p.name for p in (corpus / "feeds").glob("*.xml"))
    for name in built:
        assert (copy / "feeds" / name).read_bytes() == (corpus / "feeds" / name).read_bytes(), name


@pytest.mark.parametrize("corpus", CORPORA, ids=lambda p: p.name)
def test_labels_match_feeds(corpus):
    labels = json.loads((corpus / "labels.json").read_text(encoding="utf-8"))["items"]
    seen: dict[str, set] = {}
    for path in sorted((corpus / "feeds").glob("*.xml")):
        parsed = feedparser.parse(path.read_bytes())
        assert not parsed.bozo, (path.name, parsed.get("bozo_exception"))
        for entry in parsed.entries:
            assert entry.get("title") and entry.get("link") and entry.get("published_parsed")
            seen.setdefault(entry.id, set()).add(path.name)
    assert set(seen) == set(labels)
    for gid, item in labels.items():
        assert set(item["feeds"]) == seen[gid], gid
        assert item["category"] in CATEGORIES, gid
        assert item["class"] and item["note"].startswith(f"class: {item['class']}."), gid
        assert set(item["watchlists"]) <= WATCHLISTS, gid
        assert bool(item["watchlists"]) == (item["category"] == "positive"), gid
    clusters: dict[str, int] = {}
    for item in labels.values():
        if item["cluster"]:
            clusters[item["cluster"]] = clusters.get(item["cluster"], 0) + 1
    assert all(n >= 2 for n in clusters.values())
    for gid, item in labels.items():
        other = item.get("near_miss_of")
        if other:
            assert other in labels and other != gid
            assert item["cluster"] is None or item["cluster"] != labels[other]["cluster"], gid
