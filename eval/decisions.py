#!/usr/bin/env python3
"""Record or compare every match and dedup decision `sokuho match` makes on the corpora.

A speed change must not change a decision (issue 9). This runs `sokuho match` over each corpus
(the dev corpus beside the repository, eval/regression, eval/stories), keeps what was decided
for every item (the watchlists it matched and the item it was folded into) and compares that
with the baseline recorded in eval/decisions/<corpus>.jsonl:

    eval/decisions.py                 # compare; exit 1 and list every item that changed
    eval/decisions.py --record        # write the baseline (after a change meant to alter decisions)
    eval/decisions.py eval/stories    # one corpus

A change that is meant to alter decisions (a matching or clustering rule) re-records the
baseline in the same commit, so the diff of eval/decisions/ shows what it changed.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "eval" / "decisions"


def corpora() -> list[Path]:
    shared = Path(os.environ.get("SOKUHO_SHARED", ROOT.parent / "shared"))
    return [shared / "eval" / "dev", ROOT / "eval" / "regression", ROOT / "eval" / "stories"]


def decide(corpus: Path) -> list[dict]:
    """What sokuho match decides for each item of the corpus, in its output order."""
    feeds = sorted((corpus / "feeds").glob("*.xml"))
    if not feeds:
        raise SystemExit(f"decisions: no feeds in {corpus / 'feeds'}")
    exe = ROOT / ".venv" / "bin" / "sokuho"
    cmd = [str(exe) if exe.exists() else "sokuho", "match", "--watchlists",
           str(ROOT / "watchlists"), *map(str, feeds)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        d = json.loads(line)
        rows.append({"feed": Path(d["feed"]).name, "id": d["id"],
                     "watchlists": sorted(d["watchlists"]), "duplicate_of": d["duplicate_of"]})
    return rows


def compare(name: str, old: list[dict], new: list[dict]) -> int:
    """Prints every item whose decision changed; returns how many."""
    before = {(r["feed"], r["id"]): r for r in old}
    after = {(r["feed"], r["id"]): r for r in new}
    changed = 0
    for key in sorted(before.keys() | after.keys()):
        a, b = before.get(key), after.get(key)
        if a == b:
            continue
        changed += 1
        if a is None or b is None:
            print(f"  {name}: {key[0]} {key[1]}: {'new item' if a is None else 'item gone'}")
            continue
        for field in ("watchlists", "duplicate_of"):
            if a[field] != b[field]:
                print(f"  {name}: {key[0]} {key[1]}: {field} {a[field]} -> {b[field]}")
    if [(r["feed"], r["id"]) for r in old] != [(r["feed"], r["id"]) for r in new] and not changed:
        print(f"  {name}: same decisions, different output order")
        changed += 1
    return changed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpora", nargs="*", type=Path, help="corpus directories (default: all three)")
    ap.add_argument("--record", action="store_true", help="write the baseline instead of comparing")
    args = ap.parse_args()
    status = 0
    for corpus in args.corpora or corpora():
        name = corpus.resolve().name
        base = BASE / f"{name}.jsonl"
        rows = decide(corpus)
        matched = sum(1 for r in rows if r["watchlists"])
        folded = sum(1 for r in rows if r["duplicate_of"])
        if args.record:
            BASE.mkdir(parents=True, exist_ok=True)
            base.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n"
                                    for r in rows), encoding="utf-8")
            print(f"{name}: recorded {len(rows)} decisions ({matched} matched, {folded} folded) "
                  f"in {base.relative_to(ROOT)}")
            continue
        if not base.exists():
            print(f"{name}: no baseline ({base.relative_to(ROOT)}); run with --record", file=sys.stderr)
            status = 2
            continue
        old = [json.loads(line) for line in base.read_text(encoding="utf-8").splitlines() if line]
        changed = compare(name, old, rows)
        verdict = "IDENTICAL" if not changed else f"{changed} CHANGED"
        print(f"{name}: {len(rows)} items ({matched} matched, {folded} folded): {verdict} "
              f"to the baseline")
        status = status or (1 if changed else 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
