"""Japanese word boundaries: katakana-run rule (what sokuho ships) vs morphological analyzers.

    .venv/bin/python bench/japanese_boundary_bench.py

Each case is a text, a katakana name, and whether the name in that text is the name (True) or part of
a longer word (False). sokuho's rule is run through the real Matcher on a one-alias watchlist per
case. SudachiPy (sudachidict_core, split mode C) and fugashi (unidic-lite) are scored as "the name
counts when it starts and ends on token boundaries"; they are measured only when installed
(`pip install sudachipy sudachidict-core fugashi unidic-lite`): sokuho does not depend on them.
Prints accuracy and time per text (warm: after a first round). A script that prints figures, not a test.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.core.matcher import Matcher  # noqa: E402
from bot.core.model import Entry  # noqa: E402
from bot.core.watchlist import Watchlist  # noqa: E402

CASES = [   # (text, name, is the name)
    ("キューバリブレを一杯", "キューバ", False), ("米軍がベネズエラを攻撃", "ベネズエラ", True),
    ("グリーンランドの首相", "グリーンランド", True), ("モンローウォークで歩く", "モンロー", False),
    ("ドンローの時代", "ドンロー", True), ("キューバサンドを食べる", "キューバ", False),
    ("カラカスの空港", "カラカス", True), ("マドゥロ大統領夫妻を拘束", "マドゥロ", True),
    ("ハバナ市内で停電", "ハバナ", True), ("ハバナイトのライブ", "ハバナ", False),
    ("ヌークリアの新製品", "ヌーク", False), ("ヌーク市長が会見", "ヌーク", True),
    ("シェインバウム大統領は", "シェインバウム", True), ("マチャド氏がノーベル賞", "マチャド", True),
    ("ベネズエラ産原油", "ベネズエラ", True), ("キューバンヒールの靴", "キューバ", False),
    ("グリーンランドシャーク", "グリーンランド", False), ("ロドリゲス暫定政権", "ロドリゲス", True),
    ("トランプ・コロラリー", "トランプ", True), ("カベジョ内相が", "カベジョ", True),
    ("パドリーノ国防相", "パドリーノ", True), ("アレックス・ロドリゲスが引退", "ロドリゲス", False),
    ("キューバーの新作", "キューバ", False), ("ベネズエラショックの余波", "ベネズエラ", True),
]


def boundary_ok(tokens: list[str], text: str, name: str) -> bool:
    pos, bounds = 0, {0}
    for t in tokens:
        pos += len(t)
        bounds.add(pos)
    i = text.find(name)
    return i in bounds and i + len(name) in bounds


def score(label: str, fn, rounds: int = 20) -> None:
    ok, wrong = 0, []
    for text, name, want in CASES:       # first round: results (and warm caches)
        got = fn(text, name)
        ok += got == want
        if got != want:
            wrong.append(text)
    t0 = time.perf_counter()
    for _ in range(rounds):
        for text, name, _want in CASES:
            fn(text, name)
    dt = (time.perf_counter() - t0) / (rounds * len(CASES)) * 1e6
    print(f"{label:28} {ok:2}/{len(CASES)} right  {dt:8.1f} us/text  wrong: {', '.join(wrong) or '-'}")


def main() -> None:
    names = {n for _, n, _ in CASES}
    matchers = {name: Matcher([Watchlist.model_validate(
        {"name": "x", "aliases": {"ja": [{"text": name, "kind": "person"}]}})]) for name in names}
    for m in matchers.values():          # warm up (lexicon, regexes)
        m.match(Entry("w", "f", "テスト", ""))
    score("sokuho katakana-run rule", lambda text, name: bool(matchers[name].match(
        Entry("x", "f", text, ""))))
    try:
        from sudachipy import dictionary, tokenizer
        sd = dictionary.Dictionary(dict="core").create()
        mode = tokenizer.Tokenizer.SplitMode.C
        score("SudachiPy core (mode C)", lambda text, name: boundary_ok(
            [m.surface() for m in sd.tokenize(text, mode)], text, name))
    except Exception as e:                # not installed: not a dependency
        print(f"SudachiPy: not measured ({type(e).__name__})")
    try:
        import fugashi
        tagger = fugashi.Tagger()
        score("fugashi + unidic-lite", lambda text, name: boundary_ok(
            [w.surface for w in tagger(text)], text, name))
    except Exception as e:
        print(f"fugashi: not measured ({type(e).__name__})")


if __name__ == "__main__":
    main()
