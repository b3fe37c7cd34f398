"""Speed work must not change a decision (issue 9): `sokuho match` on the repository's corpora
decides exactly what eval/decisions/<corpus>.jsonl recorded (eval/decisions.py; a change meant to
alter decisions re-records the baseline in the same commit)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DEV = ROOT.parent / "shared" / "eval" / "dev"


@pytest.mark.parametrize("corpus", [
    ROOT / "eval" / "regression",
    ROOT / "eval" / "stories",
    pytest.param(SHARED_DEV, marks=pytest.mark.skipif(
        not (SHARED_DEV / "feeds").is_dir(), reason="../shared/eval/dev not beside the repository")),
], ids=lambda p: p.name)
def test_decisions_match_the_recorded_baseline(corpus):
    r = subprocess.run([sys.executable, str(ROOT / "eval" / "decisions.py"), str(corpus)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "IDENTICAL" in r.stdout


def test_a_changed_decision_is_reported(tmp_path):
    """The check can fail: one altered baseline line is named, with what changed."""
    sys.path.insert(0, str(ROOT / "eval"))
    try:
        import decisions
    finally:
        sys.path.pop(0)
    old = [json.loads(line) for line in
           (ROOT / "eval" / "decisions" / "stories.jsonl").read_text(encoding="utf-8").splitlines()]
    new = [dict(r) for r in old]
    new[3]["watchlists"] = new[3]["watchlists"] + ["zzz"]
    new[5]["duplicate_of"] = "somewhere-else"
    assert decisions.compare("stories", old, old) == 0
    assert decisions.compare("stories", old, new) == 2
    assert decisions.compare("stories", old, list(reversed(old))) == 1
