"""Parse throughput: serial vs ParserPool("thread") vs ParserPool("process").

    .venv/bin/python bench/parse_pool_bench.py [--feeds 200] [--items 50] [--workers N]

Prints wall time and items/s for each mode, plus the worst event-loop stall seen while the
pool works (how long a concurrent 10 ms ticker was late): that is what the pool is for.
A script that prints figures, not a test.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.adapters.parse import ParserPool, parse_feed  # noqa: E402
from tests.feedserver import make_rss  # noqa: E402


def synth_feeds(n: int, items: int) -> list[bytes]:
    feeds = []
    for i in range(n):
        enc = "shift_jis" if i % 4 == 0 else "utf-8"
        entries = [{"title": (f"東京 ニュース {i}-{j}" if enc == "shift_jis" else
                              f"Feed {i} item {j}: minister says talks on tariffs continue"),
                    "link": f"https://example.org/{i}/{j}", "guid": f"urn:f{i}:{j}",
                    "pubDate": "Mon, 06 Jan 2025 10:00:00 +0900",
                    "description": "<p>" + ("Lorem <b>ipsum</b> dolor sit amet. " * 12) + "</p>"}
                   for j in range(items)]
        feeds.append(make_rss(entries, title=f"Feed {i}", encoding=enc))
    return feeds


async def _ticker(stop: asyncio.Event, worst: list[float]) -> None:
    while not stop.is_set():
        t = time.perf_counter()
        await asyncio.sleep(0.01)
        worst[0] = max(worst[0], time.perf_counter() - t - 0.01)


async def run_pool(kind: str, feeds: list[bytes], workers: int | None) -> tuple[float, int, float]:
    pool = ParserPool(kind, workers=workers)
    try:
        await pool.parse(feeds[0], feed_name="warmup")      # start workers outside the timing
        stop, worst = asyncio.Event(), [0.0]
        tick = asyncio.create_task(_ticker(stop, worst))
        t0 = time.perf_counter()
        results = await asyncio.gather(*(pool.parse(b, feed_name=f"f{i}", headers={})
                                         for i, b in enumerate(feeds)))
        wall = time.perf_counter() - t0
        stop.set()
        await tick
    finally:
        pool.close()
    return wall, sum(len(r.entries) for r in results), worst[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    feeds = synth_feeds(args.feeds, args.items)
    mb = sum(map(len, feeds)) / 2**20
    print(f"{args.feeds} feeds x {args.items} items, {mb:.1f} MiB, cpus={os.cpu_count()}")

    t0 = time.perf_counter()
    n = sum(len(parse_feed(b, feed_name=f"f{i}", headers={}).entries) for i, b in enumerate(feeds))
    wall = time.perf_counter() - t0
    print(f"{'serial':8} wall {wall:6.2f}s  {n / wall:8.0f} items/s  (blocks the loop throughout)")
    for kind in ("thread", "process"):
        wall, n, stall = asyncio.run(run_pool(kind, feeds, args.workers))
        print(f"{kind:8} wall {wall:6.2f}s  {n / wall:8.0f} items/s  worst loop stall "
              f"{stall * 1000:6.1f} ms")


if __name__ == "__main__":
    main()
