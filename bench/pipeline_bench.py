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
import hashlib
import io
import json
import logging
import math
import multiprocessing
import os
import platform
import pstats
import random
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import feedparser  # noqa: E402

from bot.adapters.parse import parse_feed  # noqa: E402
from match_bench import OUTLETS, NewsGen  # noqa: E402
from tests.feedserver import make_rss  # noqa: E402

WATCHLISTS = ROOT / "watchlists"
READ_MORE = {"ja": "続きを読む", "en": "Read more", "es": "Leer más"}
SECTIONS = {"ja": ["国際", "政治", "経済", "社会"], "en": ["World", "Americas", "Business", "Politics"],
            "es": ["Mundo", "América", "Economía", "Política"]}


# ------------------------------------------------------------------------------ feeds
@dataclass
class FeedSpec:
    name: str
    lang: str
    path: str
    body: bytes
    etag: str
    last_modified: str


def build_feeds(n: int, items: int, *, seed: int = 7, match_rate: float = 0.05) -> list[FeedSpec]:
    gen = NewsGen(seed, match_rate=match_rate)
    rng = random.Random(seed)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    langs = ["ja"] * 35 + ["en"] * 40 + ["es"] * 25
    out = []
    for i in range(n):
        lang = rng.choice(langs)
        outlet = OUTLETS[i % len(OUTLETS)]
        section = SECTIONS[lang][i % 4]
        entries = []
        for _ in range(items):
            it = gen.item(lang, outlet=outlet, now=now, age=24 * 3600)
            extra = ""
            if rng.random() < 0.3:
                extra = f'<img src="https://img.{outlet.lower()}.example/{gen.n}.jpg" alt="" /> '
            desc = (f"{extra}<p>{it['summary']}</p> "
                    f'<a href="{it["link"]}">{READ_MORE[lang]}</a>')
            entries.append({"title": it["title"], "link": it["link"], "guid": it["guid"],
                            "pubDate": it["published"], "description": desc})
        entries.sort(key=lambda e: e["pubDate"], reverse=True)
        body = make_rss(entries, title=f"{outlet} {section}", language=lang,
                        link=f"https://www.{outlet.lower()}.example/{lang}/")
        out.append(FeedSpec(f"{outlet} {section} #{i}", lang, f"/feeds/{i}.xml", body,
                            '"' + hashlib.sha1(body).hexdigest()[:16] + '"',
                            format_datetime(now, usegmt=True)))
    return out


# ------------------------------------------------------------------------------ server
def _serve(spec: list[tuple[str, bytes, str, str]], hosts: int, latency: float, conn) -> None:
    """Child process: the feed server on 127.0.0.1 .. 127.0.0.<hosts>, until told to stop."""
    asyncio.run(_serve_async(spec, hosts, latency, conn))


async def _serve_async(spec, hosts, latency, conn) -> None:
    from aiohttp import web

    from tests.feedserver import FeedServer
    server = FeedServer("127.0.0.1")
    await server.start()
    for path, body, etag, lm in spec:
        server.route(path, body=body, delay=latency, etag=etag, last_modified=lm)
    runner = server._runner          # one aiohttp app, one extra site per loopback address
    for k in range(2, hosts + 1):
        await web.TCPSite(runner, f"127.0.0.{k}", 0).start()
    ports = {addr[0]: addr[1] for addr in runner.addresses}
    conn.send(ports)
    loop = asyncio.get_running_loop()
    while True:
        cmd = await loop.run_in_executor(None, conn.recv)
        if cmd == "stats":
            reqs = server.requests
            conn.send({"requests": len(reqs), "max_active": server.max_active,
                       "conditional": sum(1 for r in reqs if r.header("If-None-Match"))})
            server.requests = []
            server.max_active = 0
        else:
            break
    await server.close()
    conn.send("bye")


class ServerProcess:
    def __init__(self, feeds: list[FeedSpec], hosts: int, latency: float):
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        spec = [(f.path, f.body, f.etag, f.last_modified) for f in feeds]
        self.proc = ctx.Process(target=_serve, args=(spec, hosts, latency, child), daemon=True)
        self.proc.start()
        self.ports: dict[str, int] = self.conn.recv()

    def url(self, i: int, path: str) -> str:
        hosts = sorted(self.ports, key=lambda h: int(h.rsplit(".", 1)[1]))
        host = hosts[i % len(hosts)]
        return f"http://{host}:{self.ports[host]}{path}"

    def stats(self) -> dict:
        self.conn.send("stats")
        return self.conn.recv()

    def stop(self) -> None:
        try:
            self.conn.send("stop")
            self.conn.recv()
        finally:
            self.proc.join(5)
            if self.proc.is_alive():
                self.proc.terminate()


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
def write_config(tmp: Path, feeds: list[FeedSpec], server: ServerProcess) -> Path:
    wl = tmp / "watchlists"
    wl.mkdir()
    for f in WATCHLISTS.glob("*.yaml"):
        if f.name != "feeds.yaml":
            shutil.copy(f, wl / f.name)
    lines = ["defaults: {interval: 5m}", "feeds:"]
    for i, f in enumerate(feeds):
        lines.append(f"  - {{name: {json.dumps(f.name, ensure_ascii=False)}, "
                     f"url: {json.dumps(server.url(i, f.path))}, lang: {f.lang}}}")
    (wl / "feeds.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return wl


async def run_kind(kind: str | None, feeds: list[FeedSpec], server: ServerProcess,
                   profile: bool, use_tracemalloc: bool) -> dict:
    from bot.app import App
    from bot.settings import Settings
    res: dict = {"kind": kind or "default"}
    with tempfile.TemporaryDirectory(prefix="sokuho-bench-") as d:
        tmp = Path(d)
        settings = Settings(watchlists=write_config(tmp, feeds, server), state=tmp / "state")
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
