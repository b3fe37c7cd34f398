"""Cold and warm poll cycles through the real pipeline (App.open -> Pipeline.poll_many).

    .venv/bin/python bench/pipeline_bench.py                     # 500 feeds x 50 items, 50 ms
    .venv/bin/python bench/pipeline_bench.py --feeds 100 --items 20     # quick run
    .venv/bin/python bench/pipeline_bench.py --kinds process --profile  # + cProfile of the cycle

A local feed server (tests/feedserver.py, in a child process so its CPU is not the pipeline's)
serves N synthetic RSS 2.0 feeds (title, link, guid, pubDate, description with a little HTML;
ja/en/es; ~5% of items carry a watchlist alias) with ETag/Last-Modified and a fixed latency
before the headers. For each parser kind, a fresh temp state dir and a temp watchlists dir
(copies of watchlists/*.yaml + a generated feeds.yaml listing the N feed URLs) go through
App.open(settings, parser_kind=...), then:

  cold cycle  poll_many over every feed with an empty state: all 200, parse, match, dedup, store
  warm cycle  poll_many again: conditional GETs, the server answers 304 to every one

Printed side by side with feedparser.parse(io.BytesIO(body)) over the same bodies in this process
(single process, single core, no network): the issue's baseline. Also: peak RSS (VmHWM, reset
before each cycle) of the main process and of the parser worker processes.

Hosts: the Fetcher's defaults (32 at once, 4 per host) are kept. All feeds on one host would cap
the cycle at 4 requests at a time, which no real deployment of 500 feeds from many publishers
sees, so the server listens on --hosts loopback addresses (127.0.0.1 .. 127.0.0.N, all in
127.0.0.0/8 on lo; one aiohttp site each) and feed i is addressed via 127.0.0.(1 + i % N).
With N >= 8 the global limit of 32 is what binds, as in production.

A script that prints figures, not a test: it asserts nothing.
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import logging
import math
import os
import platform
import pstats
import resource
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import feedparser  # noqa: E402

from bot.adapters.parse import parse_feed  # noqa: E402
from feedbench import FeedSpec, ServerProcess, build_feeds, write_config  # noqa: E402


# ------------------------------------------------------------------------------ memory
def _status(pid: int, key: str) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def reset_peak(pid: int) -> None:
    try:                                   # Linux >= 4.0: resets VmHWM to the current RSS
        with open(f"/proc/{pid}/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def child_pids(exclude: int) -> list[int]:
    pids = []
    try:
        for tid in os.listdir(f"/proc/{os.getpid()}/task"):
            with open(f"/proc/{os.getpid()}/task/{tid}/children") as fh:
                pids += [int(p) for p in fh.read().split()]
    except OSError:
        return []
    out = []
    for p in pids:
        try:
            cmd = open(f"/proc/{p}/cmdline", "rb").read()
        except OSError:
            continue
        if p != exclude and b"resource_tracker" not in cmd:
            out.append(p)
    return out


# ------------------------------------------------------------------------------ cycles
async def run_kind(kind: str | None, feeds: list[FeedSpec], server: ServerProcess,
                   profile: bool, use_tracemalloc: bool) -> dict:
    from bot.app import App
    from bot.settings import Settings
    res: dict = {"kind": kind or "default"}
    with tempfile.TemporaryDirectory(prefix="sokuho-bench-") as d:
        tmp = Path(d)
        settings = Settings(watchlists=write_config(tmp, feeds, server), state=tmp / "state",
                            allow_private_networks=True)      # the feed server is on 127.0.0.x
        t0 = time.perf_counter()
        app = await (App.open(settings) if kind is None else App.open(settings, parser_kind=kind))
        res["open"] = time.perf_counter() - t0
        res["kind"] = app.parsers.kind + (" (App.open default)" if kind is None else "")
        res["workers"] = app.parsers.workers
        try:
            t0 = time.perf_counter()    # start every worker of the pool outside the timing
            await asyncio.gather(*(app.parsers.parse(feeds[0].body, feed_name="warmup", headers={})
                                   for _ in range(max(1, app.parsers.workers) * 2)))
            res["pool_start"] = time.perf_counter() - t0
            states = app.store.feeds()
            server.stats()
            gc.collect()
            workers = child_pids(server.proc.pid)
            for pid in [os.getpid(), *workers]:
                reset_peak(pid)
            prof = cProfile.Profile() if profile else None
            if use_tracemalloc:
                import tracemalloc
                tracemalloc.start()
            if prof:
                prof.enable()
            t0 = time.perf_counter()
            report = await app.pipeline.poll_many(states)
            res["cold"] = time.perf_counter() - t0
            if prof:
                prof.disable()
                res["profile"] = prof
            if use_tracemalloc:
                res["traced_peak"] = tracemalloc.get_traced_memory()[1] / 2**20
                tracemalloc.stop()
            res["cold_report"] = report
            res["cold_server"] = server.stats()
            res["hwm_main"] = _status(os.getpid(), "VmHWM")
            res["hwm_workers"] = [_status(p, "VmHWM") for p in child_pids(server.proc.pid)]

            states = app.store.feeds()
            reset_peak(os.getpid())
            t0 = time.perf_counter()
            report = await app.pipeline.poll_many(states)
            res["warm"] = time.perf_counter() - t0
            res["warm_report"] = report
            res["warm_server"] = server.stats()
            res["warm_hwm_main"] = _status(os.getpid(), "VmHWM")
            res["db_mib"] = sum(p.stat().st_size for p in (tmp / "state").glob("*")) / 2**20
        finally:
            await app.close()
    return res


def baseline(feeds: list[FeedSpec]) -> tuple[float, int, float, int]:
    gc.collect()
    t0 = time.perf_counter()
    n = 0
    for f in feeds:
        n += len(feedparser.parse(io.BytesIO(f.body)).entries)
    fp = time.perf_counter() - t0
    gc.collect()
    t0 = time.perf_counter()
    m = 0
    for f in feeds:
        m += len(parse_feed(f.body, feed_name=f.name, headers={"content-type": "application/rss+xml; "
                                                               "charset=utf-8"}, lang=f.lang).entries)
    return fp, n, time.perf_counter() - t0, m


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=500)
    ap.add_argument("--items", type=int, default=50, help="items per feed")
    ap.add_argument("--latency", type=float, default=0.05, help="server latency per request (s)")
    ap.add_argument("--hosts", type=int, default=50,
                    help="loopback addresses the feeds are spread over (1 = all on 127.0.0.1)")
    ap.add_argument("--kinds", default="default,thread",
                    help="parser kinds to run, comma-separated: default (what App.open uses), "
                         "thread, process, inline")
    ap.add_argument("--match-rate", type=float, default=0.05)
    ap.add_argument("--profile", action="store_true",
                    help="cProfile the main process during each cold cycle (slows it)")
    ap.add_argument("--tracemalloc", action="store_true",
                    help="trace Python allocations in the main process during cold cycles (slow)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if not 1 <= args.hosts <= 254:
        ap.error("--hosts must be 1..254")

    print(f"pipeline_bench  {datetime.now().strftime('%Y-%m-%d %H:%M')}  Python "
          f"{platform.python_version()}  feedparser {feedparser.__version__}  cpus={os.cpu_count()}")
    t0 = time.perf_counter()
    feeds = build_feeds(args.feeds, args.items, match_rate=args.match_rate)
    mib = sum(len(f.body) for f in feeds) / 2**20
    langs = {k: sum(1 for f in feeds if f.lang == k) for k in ("ja", "en", "es")}
    print(f"{args.feeds} feeds x {args.items} items = {args.feeds * args.items:,} items, {mib:.1f} MiB "
          f"of RSS 2.0 (feeds ja {langs['ja']} / en {langs['en']} / es {langs['es']}), generated in "
          f"{time.perf_counter() - t0:.1f}s")
    server = ServerProcess(feeds, args.hosts, args.latency)
    try:
        nhosts = len(server.ports)
        conc = min(32, 4 * nhosts, args.feeds)
        floor = math.ceil(args.feeds / conc) * args.latency
        binds = ("the global limit of 32 binds, as in a real deployment of many publishers"
                 if 4 * nhosts >= 32 else f"the per-host limit binds: {nhosts} x 4 = {4 * nhosts} at once")
        print(f"server: child process, {nhosts} loopback addresses x ~{math.ceil(args.feeds / nhosts)} "
              f"feeds, {args.latency * 1000:.0f} ms before each response; Fetcher defaults (32 total, "
              f"4 per host)\n  -> {binds}; network floor ceil({args.feeds}/{conc}) x "
              f"{args.latency * 1000:.0f} ms = {floor:.2f}s")

        fp, n_fp, pf, n_pf = baseline(feeds)
        print(f"\nbaseline  feedparser.parse(io.BytesIO(body)), one process, same bytes: {fp:6.2f}s "
              f"({n_fp / fp:,.0f} items/s, {n_fp:,} entries)")
        print(f"          bot parse_feed() serial (feedparser + charset + Entry building):  "
              f"{pf:6.2f}s ({n_pf / pf:,.0f} items/s)")

        results = []
        for k in [k.strip() for k in args.kinds.split(",") if k.strip()]:
            kind = None if k == "default" else k
            r = asyncio.run(run_kind(kind, feeds, server, args.profile, args.tracemalloc))
            results.append(r)
            cr, wr = r["cold_report"], r["warm_report"]
            cs, ws = r["cold_server"], r["warm_server"]
            workers = ", ".join(f"{h:.0f}" for h in r["hwm_workers"]) or "-"
            nw = f", {r['workers']} workers" if not r["kind"].startswith("inline") else ""
            print(f"\n[{r['kind']}{nw}]  App.open {r['open']:.2f}s, pool start "
                  f"{r['pool_start']:.2f}s (both outside the timings)")
            print(f"  cold cycle  {r['cold']:6.2f}s  = {r['cold'] / fp:4.2f}x feedparser baseline "
                  f"({fp:.2f}s)   target <= 1.5x: {'MET' if r['cold'] <= 1.5 * fp else 'MISSED'}"
                  f"{'  (under cProfile)' if args.profile else ''}")
            print(f"              {cr.count('ok')} ok / {cr.count('failed')} failed, {cr.new_items:,} "
                  f"new items ({cr.new_items / r['cold']:,.0f}/s), {cr.matched} matched "
                  f"({cr.matched / max(1, cr.new_items):.1%}), {cr.duplicates} duplicates; "
                  f"server: {cs['requests']} requests, max {cs['max_active']} at once")
            print(f"  warm cycle  {r['warm']:6.2f}s  {wr.count('not_modified')} x 304 "
                  f"({ws['conditional']} conditional requests), {wr.count('ok')} ok, "
                  f"{wr.count('failed')} failed   target < 1 s: {'MET' if r['warm'] < 1 else 'MISSED'}")
            print(f"  peak RSS    main {r['hwm_main']:.0f} MiB (cold), {r['warm_hwm_main']:.0f} MiB "
                  f"(warm); parser workers {workers} MiB; state db {r['db_mib']:.0f} MiB"
                  + (f"; Python heap peak (tracemalloc) {r['traced_peak']:.0f} MiB"
                     if "traced_peak" in r else ""))
            if "profile" in r:
                s = io.StringIO()
                pstats.Stats(r["profile"], stream=s).sort_stats("tottime").print_stats(25)
                print("  cProfile, main process, cold cycle (by own time):")
                print("\n".join("    " + ln for ln in s.getvalue().splitlines()[:45] if ln.strip()))
        ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\nbenchmark process peak RSS over the whole run (ru_maxrss): {ru:.0f} MiB")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
