"""Whole-process poll cycles: one instance on SQLite, one and two instances on PostgreSQL.

    .venv/bin/python bench/scale_bench.py                       # 500 feeds x 50 items, 50 ms
    .venv/bin/python bench/scale_bench.py --feeds 100 --items 20 --repeat 1      # quick run

The feed server of pipeline_bench.py (a child process, 16 loopback hosts, ETag/Last-Modified,
fixed latency) serves the same synthetic feeds to every configuration. Each configuration gets a
fresh state: an empty SQLite folder, or a new database in a throwaway PostgreSQL cluster
(tests/pgcluster.py: Debian's binaries, initdb in a temp dir, durable defaults: fsync on,
synchronous_commit on; SQLite runs with synchronous=FULL, so both engines make every commit
durable). Then, timed from process start to the last exit (Python start-up, config, migrations,
fetch, parse, match, dedup, store, exit):

  cold   `sokuho poll --once` over an empty state: every feed answers 200, 25,000 items stored
  warm   `sokuho poll --once` again: conditional GETs, every feed answers 304

"two instances" = two `sokuho poll --once` started at the same moment on the same database
(they share one cycle through feed leases). The server's request count shows each feed was
fetched once per cycle. A script that prints figures, not a test: it asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from feedbench import ServerProcess, build_feeds, sokuho_cmd, sokuho_env, write_config  # noqa: E402
from tests.pgcluster import PgCluster, PgUnavailable  # noqa: E402



def cycle(n: int, wl: Path, tmp: Path, url: str | None) -> tuple[float, list[str]]:
    env = sokuho_env(SOKUHO_MAX_AGE="0", **({"SOKUHO_DATABASE_URL": url} if url else {}))
    exe = sokuho_cmd()
    t0 = time.perf_counter()
    procs = [subprocess.Popen(exe + ["poll", "--once", "--quiet", "--instance", f"i{k}",
                                     "--watchlists", str(wl), "--state", str(tmp / "state")],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for k in range(n)]
    outs = [p.communicate() for p in procs]
    wall = time.perf_counter() - t0
    for p, (out, err) in zip(procs, outs):
        if p.returncode:
            raise SystemExit(f"poll --once failed ({p.returncode}): {err[-1500:]}")
    return wall, [o.strip().splitlines()[-1] for o, _ in outs]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--feeds", type=int, default=500)
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--hosts", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=2, help="runs per configuration")
    args = ap.parse_args()
    feeds = build_feeds(args.feeds, args.items)
    server = ServerProcess(feeds, args.hosts, args.latency)
    try:
        cluster = PgCluster.start(durable=True)
    except PgUnavailable as e:
        server.stop()
        raise SystemExit(f"PostgreSQL not available: {e}")
    print(f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{args.feeds} feeds x {args.items} items, {args.latency * 1000:.0f} ms latency, "
          f"{args.hosts} hosts; PostgreSQL {cluster.bindir.parent.name} (durable defaults)")
    configs = [("SQLite, 1 instance", 1, False), ("PostgreSQL, 1 instance", 1, True),
               ("PostgreSQL, 2 instances", 2, True)]
    results: dict[str, dict[str, list[float]]] = {}
    try:
        for run in range(args.repeat):
            for label, n, pg in configs:
                with tempfile.TemporaryDirectory(prefix="sokuho-scale-") as d:
                    tmp = Path(d)
                    wl = write_config(tmp, feeds, server)
                    url = cluster.create_database() if pg else None
                    r = results.setdefault(label, {"cold": [], "warm": []})
                    for phase in ("cold", "warm"):
                        server.stats()                 # resets the server's counters
                        wall, lines = cycle(n, wl, tmp, url)
                        fetched = server.stats()["requests"]
                        r[phase].append(wall)
                        print(f"  run {run + 1} {label:24s} {phase}: {wall:6.2f}s  "
                              f"({fetched} requests) | " + " | ".join(lines))
    finally:
        cluster.stop()
        server.stop()
    print()
    print(f"{'configuration':26s} {'cold (s)':>16s} {'warm (s)':>16s}   median [min-max]")
    base = results["SQLite, 1 instance"]
    for label, r in results.items():
        cells = []
        for phase in ("cold", "warm"):
            v = r[phase]
            cells.append(f"{statistics.median(v):6.2f} [{min(v):.2f}-{max(v):.2f}]")
        ratio = " ".join(f"{phase} x{statistics.median(r[phase]) / statistics.median(base[phase]):.2f}"
                         for phase in ("cold", "warm"))
        print(f"{label:26s} {cells[0]:>16s} {cells[1]:>16s}   vs SQLite: {ratio}")
    pg = results["PostgreSQL, 1 instance"]
    worst = max(statistics.median(pg[p]) / statistics.median(base[p]) for p in ("cold", "warm"))
    print(f"target: one instance on PostgreSQL at most 1.3x SQLite (cold and warm): "
          f"x{worst:.2f} {'MET' if worst <= 1.3 else 'MISSED'}")


if __name__ == "__main__":
    main()
