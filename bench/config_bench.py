"""Config load on a cold state (no parse cache): the C-parser fast path vs the round-trip parser.

  [1] load_config of the shipped watchlists + an N-feed feeds.yaml, in this process, fast path
      vs round-trip only (the code before the fast path), interleaved rounds, CPU time per load;
  [2] whole `sokuho match` processes over the N feed files with that feeds.yaml and a fresh
      state folder each run (so no parse cache), with ruamel.yaml.clib's C parser vs with it
      hidden (`ruamel.yaml.main.CParser = None`: what a machine without clib runs), interleaved.

    .venv/bin/python bench/config_bench.py                 # 500 feeds x 50 items, 3 rounds
    .venv/bin/python bench/config_bench.py --items 5 --rounds 5
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from feedbench import (VENV_BIN, build_feeds, run_timed, sokuho_cmd,  # noqa: E402
                       sokuho_env, write_config)

from bot.adapters import config as C  # noqa: E402

NO_CLIB = ("import sys, ruamel.yaml.main as m; m.CParser = None; from bot.cli import main; "
           "sys.argv = ['sokuho'] + sys.argv[1:]; sys.exit(main())")


class _Addresses:
    """Feed URLs as the poll benchmarks write them (50 loopback hosts); nothing serves them:
    `sokuho match` reads files, feeds.yaml is only loaded."""

    @staticmethod
    def url(i: int, path: str, hosts: int | None = None) -> str:
        return f"http://127.0.0.{i % 50 + 1}:8080{path}"


def in_process(wl: Path, rounds: int) -> None:
    fast_t, rt_t = [], []
    real = C._read_fast
    for _ in range(rounds):
        for which, out in (("fast", fast_t), ("rt", rt_t)):
            C._read_fast = real if which == "fast" else (lambda _t: C._NOT_PLAIN)
            t0 = time.process_time()
            cfg = C.load_config(wl)
            out.append(time.process_time() - t0)
    C._read_fast = real
    size = (wl / "feeds.yaml").stat().st_size
    print(f"[1] load_config, {len(cfg.watchlists)} watchlists + feeds.yaml of "
          f"{len(cfg.feeds.feeds)} feeds ({size / 1024:.0f} KiB), no parse cache, CPU s per load "
          f"(median of {rounds}, min-max):")
    for label, xs in (("round-trip only (before)", rt_t), ("C fast path (after)", fast_t)):
        print(f"    {label:<26} {statistics.median(xs) * 1000:8.1f} ms   "
              f"({min(xs) * 1000:.1f}-{max(xs) * 1000:.1f})")
    print(f"    speed-up {statistics.median(rt_t) / statistics.median(fast_t):.1f}x")


def whole_match(tmp: Path, wl: Path, files: list[Path], rounds: int) -> None:
    env = sokuho_env()
    runs: dict[str, list] = {"with clib": [], "without clib": []}
    for r in range(rounds):
        for label in runs:
            state = tmp / f"state-{label.replace(' ', '-')}-{r}"
            state.mkdir()
            head = (sokuho_cmd() if label == "with clib"
                    else [str(VENV_BIN / "python"), "-c", NO_CLIB])
            run = run_timed(head + ["match", "--watchlists", str(wl), "--state", str(state)]
                            + [str(f) for f in files], env=env)
            if run.rc != 0:
                raise SystemExit(f"sokuho match failed ({label}): {run.stderr[-2000:]}")
            runs[label].append(run)
    print(f"[2] whole `sokuho match` over {len(files)} files, fresh state each run "
          f"(median of {rounds}; other load: cores other processes kept busy):")
    for label, rs in runs.items():
        print(f"    {label:<14} wall {statistics.median(x.wall for x in rs):6.2f} s "
              f"({min(x.wall for x in rs):.2f}-{max(x.wall for x in rs):.2f})   "
              f"CPU {statistics.median(x.cpu for x in rs):6.2f} s   "
              f"other load {statistics.median(x.others for x in rs):.2f} cores   "
              f"{len(rs[0].stdout.splitlines()):,} entries")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=500)
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--load-rounds", type=int, default=15)
    ap.add_argument("--no-match", action="store_true", help="only [1]")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="config-bench-") as d:
        tmp = Path(d)
        feeds = build_feeds(args.feeds, args.items)
        wl = write_config(tmp, feeds, _Addresses())
        in_process(wl, args.load_rounds)
        if args.no_match:
            return
        fdir = tmp / "feeds"
        fdir.mkdir()
        files = []
        for i, f in enumerate(feeds):
            p = fdir / f"{i}.xml"
            p.write_bytes(f.body)
            files.append(p)
        whole_match(tmp, wl, files, args.rounds)


if __name__ == "__main__":
    main()
