"""CPU per feed item inside a parser worker process, and what its result costs on the wire.

    .venv/bin/python bench/worker_bench.py [--feeds 100] [--rounds 5] [--save DIR | --load DIR]

In `sokuho poll` and `sokuho match` a parser worker parses each feed (feedparser + our entry
building: `parse_feed`), prepares each entry (normalise, language, watchlist match, duplicate
signature, story features of matched items: `prepare`) and pickles the result to the main process,
which unpickles it. This prints each step per item (process CPU time, the minimum of `--rounds`
rounds over the same bytes, one process), the pickle's size, and feedparser alone on the same
bytes for reference (without
our feedparser speed patches: bot.adapters.feedparser_patch). Feeds: bench/feedbench.build_feeds (NewsGen ja/en/es, 8% naming a topic, 50
items per feed), links joined against a feed URL as the poll does. `--save DIR` writes the
generated feed files, `--load DIR` reads them back: compare two checkouts on the very same bytes
(the generator dates items from "now").
"""
from __future__ import annotations

import argparse
import io
import pickle
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))


def _unpatch():
    """feedparser as a plain user has it: our speed patches taken out (bot.adapters.
    feedparser_patch, when this checkout has it); returns the module to re-apply them."""
    try:
        from bot.adapters import feedparser_patch
    except ImportError:
        return None
    feedparser_patch.remove()
    return feedparser_patch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--save", type=Path)
    ap.add_argument("--load", type=Path)
    a = ap.parse_args()

    import feedparser

    from bot.adapters.config import load_config
    from bot.adapters.parse import parse_feed, parse_prepared
    from bot.core.matcher import Matcher
    from bot.core.process import Preparer

    if a.load:
        bodies = [(a.load / f"{i}.xml").read_bytes() for i in range(a.feeds)]
    else:
        from feedbench import build_feeds
        from match_bench import NewsGen
        bodies = [f.body for f in build_feeds(a.feeds, 50, seed=7, gen=NewsGen(7, match_rate=0.08))]
        if a.save:
            a.save.mkdir(parents=True, exist_ok=True)
            for i, b in enumerate(bodies):
                (a.save / f"{i}.xml").write_bytes(b)
    preparer = Preparer(Matcher(load_config(HERE.parent / "watchlists").watchlists))
    kws = [dict(feed_name=f"feed {i}", lang=None, base_url=f"https://h{i % 50}.example/feed.xml",
                headers={"content-type": "application/rss+xml; charset=utf-8"})
           for i in range(len(bodies))]
    for b, kw in list(zip(bodies, kws))[:20]:
        parse_prepared(b, kw, preparer)          # warm the matcher's caches, as a worker has them

    clock = time.process_time
    steps = ("feedparser alone", "parse_feed", "prepare", "pickle (worker)", "unpickle (main)")
    best = dict.fromkeys(steps, float("inf"))
    n = size = 0
    for _ in range(a.rounds):
        patched = _unpatch()
        t0 = clock()
        for b in bodies:
            feedparser.parse(io.BytesIO(b), sanitize_html=False, resolve_relative_uris=False)
        t1 = clock()
        if patched:
            patched.apply()
        results = [parse_feed(b, **kw) for b, kw in zip(bodies, kws)]
        t2 = clock()
        for r in results:
            r.prepared = preparer.prepare_all(r.entries)
            r.prepared_by = preparer.version
        t3 = clock()
        blobs = [pickle.dumps(r, pickle.HIGHEST_PROTOCOL) for r in results]
        t4 = clock()
        for blob in blobs:
            pickle.loads(blob)
        t5 = clock()
        n = sum(len(r.entries) for r in results)
        size = sum(map(len, blobs))
        for k, dt in zip(steps, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            best[k] = min(best[k], dt)
    print(f"{len(bodies)} feeds, {n:,} items, min of {a.rounds} rounds, CPU per item:")
    for k in steps:
        print(f"  {k:18s} {best[k] / n * 1e6:7.1f} us")
    worker = best["parse_feed"] + best["prepare"] + best["pickle (worker)"]
    print(f"  {'worker total':18s} {worker / n * 1e6:7.1f} us  (parse_feed + prepare + pickle)")
    print(f"  pickle size        {size / n:7.0f} bytes per item")


if __name__ == "__main__":
    main()
