"""Hostile input figures: HTML stripping and parsing of the reported attack, and how they grow.

    .venv/bin/python bench/hostile_bench.py [--repeat 3]

Prints, for titles of escaped `<script` openings without a closing tag (the input that made the
old regex stripper quadratic: 128 kB took 2.7 s, 10 MB never finished), the time of
`strip_html` without a length limit (the scanner alone), of `strip_html` with the title limit
(what parse does: cut first, then strip), and of `parse_feed` on a whole feed carrying that title
(feedparser included). Linear means: 80x the input, about 80x the time (or less). A script
that prints figures, not a test.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.adapters.parse import MAX_TITLE, parse_feed  # noqa: E402
from bot.core.normalize import strip_html  # noqa: E402


def timed(fn, repeat: int) -> tuple[float, float]:
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs), max(runs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    print(f"{'title size':>10}  {'strip (no limit)':>18}  {'strip (limit)':>14}  {'parse_feed':>12}")
    for size in (16 * 2**10, 128 * 2**10, 2**20, 10 * 2**20):
        title = "Maduro " + "&lt;script" * (size // len("&lt;script"))
        body = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>'
                + title.encode() + b"</title><guid>1</guid></item></channel></rss>")
        s1 = timed(lambda: strip_html(title), a.repeat)
        s2 = timed(lambda: strip_html(title, MAX_TITLE), a.repeat)
        s3 = timed(lambda: parse_feed(body, feed_name="bench"), a.repeat)
        print(f"{size // 1024:>8} kB  " + "  ".join(
            f"{med:>8.3f}s (max {mx:.3f})" for med, mx in (s1, s2, s3)))


if __name__ == "__main__":
    main()
