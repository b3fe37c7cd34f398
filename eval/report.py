#!/usr/bin/env python3
"""Per-class error counts for a labelled corpus, from the same predictions score.py reads.

    python3 eval/report.py --labels eval/regression/labels.json --predictions preds.jsonl [-v]

Every item of our corpora carries a class tag (``class`` in labels.json, also written as
``class: <tag>.`` at the start of its note). For each class this prints how many items it
has, how many got a false alert (a watchlist the labels do not give it), and how many missed
a watchlist they should have had; then the fresh-homonym total (classes ``homonym-*``) and
the share of hard negatives alerted. ``-v`` lists the failing items with their title.

The watchlists an item is credited with are computed by ../shared/eval/score.py itself
(a duplicate inherits what was posted for the item it was folded into), so the counts here
always agree with score.py's own totals.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SCORE = os.path.join(HERE, "..", "..", "shared", "eval", "score.py")


def load_score(path: str):
    if not os.path.exists(path):
        sys.exit(f"score.py not found at {path} (use --score PATH)")
    spec = importlib.util.spec_from_file_location("sokuho_eval_score", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def class_of(item: dict) -> str:
    if item.get("class"):
        return item["class"]
    m = re.match(r"\s*class:\s*([\w-]+)", item.get("note") or "")
    return m.group(1) if m else (item.get("category") or "unknown")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--labels", required=True)
    ap.add_argument("--predictions", required=True)
    ap.add_argument("--score", default=DEFAULT_SCORE, help="path to score.py")
    ap.add_argument("-v", "--verbose", action="store_true", help="list failing items")
    args = ap.parse_args(argv)

    score = load_score(args.score)
    labels = score.load_labels(args.labels)
    import json
    with open(args.labels, encoding="utf-8") as fh:
        raw = json.load(fh)
    raw = raw.get("items", raw)
    preds = score.load_predictions(args.predictions)
    wl, dup, _ = score.normalise_predictions(preds, labels)

    rows: dict[str, dict] = {}
    failures = []
    for gid, lab in labels.items():
        cls = class_of(raw[gid])
        eff = score.effective_watchlists(gid, wl, dup)
        r = rows.setdefault(cls, {"items": 0, "false_alert": 0, "missed": 0,
                                  "category": lab["category"]})
        r["items"] += 1
        extra, missing = eff - lab["watchlists"], lab["watchlists"] - eff
        if extra:
            r["false_alert"] += 1
        if missing:
            r["missed"] += 1
        if extra or missing:
            failures.append((cls, gid, sorted(extra), sorted(missing), raw[gid].get("title", "")))

    print(f"{'class':<28}{'category':<15}{'items':>6}{'false':>7}{'missed':>7}")
    for cls in sorted(rows, key=lambda c: (rows[c]["category"] or "", c)):
        r = rows[cls]
        print(f"{cls:<28}{(r['category'] or '-'):<15}{r['items']:>6}{r['false_alert']:>7}{r['missed']:>7}")
    hn = [r for r in rows.values() if r["category"] == "hard_negative"]
    homo = [r for c, r in rows.items() if c.startswith("homonym-")]
    pos = [r for r in rows.values() if r["category"] == "positive"]
    def tot(rs, k):
        return sum(r[k] for r in rs)
    def pct(a, b):
        return f"{a}/{b} ({100.0 * a / b:.1f}%)" if b else "0/0"
    print(f"hard negatives alerted: {pct(tot(hn, 'false_alert'), tot(hn, 'items'))}; "
          f"fresh homonyms alerted: {pct(tot(homo, 'false_alert'), tot(homo, 'items'))}; "
          f"positives with a miss: {pct(tot(pos, 'missed'), tot(pos, 'items'))}")
    dedup_report(score, labels, raw, dup, args.verbose)
    if args.verbose:
        for cls, gid, extra, missing, title in sorted(failures):
            what = (f"false {','.join(extra)}" if extra else "") + \
                   (" " if extra and missing else "") + \
                   (f"missed {','.join(missing)}" if missing else "")
            print(f"  [{cls}] {what}: {title}  ({gid})")
    return 0


def dedup_report(score, labels: dict, raw: dict, dup: dict, verbose: bool) -> None:
    """Gold clusters joined / split, wrong merges and near-miss pairs merged."""
    comp = score.components(list(labels), dup)
    gold: dict[str, list] = {}
    for gid, lab in labels.items():
        if lab["cluster"]:
            gold.setdefault(lab["cluster"], []).append(gid)
    if not gold:
        return
    joined = split = apart = 0
    partial = []
    for cid, members in sorted(gold.items()):
        groups = {comp[m] for m in members}
        if len(groups) == 1:
            joined += 1
        elif len(groups) == len(members):
            apart += 1
            partial.append((cid, members))
        else:
            split += 1
            partial.append((cid, members))
    gold_pairs = score.pairs_of({g: v["cluster"] for g, v in labels.items()})
    wrong = sorted(score.pairs_of(comp) - gold_pairs)
    merged_nm = sorted({tuple(sorted((g, v["near_miss_of"]))) for g, v in labels.items()
                        if v.get("near_miss_of") in labels
                        and comp[g] == comp[v["near_miss_of"]]})
    print(f"clusters: {len(gold)} gold, {joined} fully joined, {split} partly joined, "
          f"{apart} not joined; wrong merges (pairs): {len(wrong)}; near-miss pairs merged: "
          f"{len(merged_nm)}")
    for a, b in merged_nm:
        print(f"  near miss merged: {raw[a].get('title', a)}  <->  {raw[b].get('title', b)}")
    if verbose:
        for cid, members in partial:
            print(f"  cluster {cid} not joined: " + "  |  ".join(raw[m].get("title", m) for m in members))
        for a, b in wrong:
            if (a, b) not in merged_nm:
                print(f"  wrong merge: {raw[a].get('title', a)}  <->  {raw[b].get('title', b)}")


if __name__ == "__main__":
    sys.exit(main())
