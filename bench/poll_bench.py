"""Whole-process figures of issue 9, side by side in one run: sokuho vs feedparser alone vs newsboat.

    .venv/bin/python bench/poll_bench.py                    # the issue's figures, ~6-8 min idle
    .venv/bin/python bench/poll_bench.py --feeds 50 --repeat 1 --store-items 10000   # quick run

Every figure is one whole process timed from outside, like /usr/bin/time: wall clock from spawn
to exit, user+sys CPU and peak RSS from os.wait4's rusage (the process and the children it waited
for; peak RSS is the largest single process). A feed server (tests/feedserver.py in a child
process, on --hosts loopback addresses, ETag/Last-Modified, fixed latency) serves N synthetic
RSS 2.0 feeds (bench/feedbench.py: NewsGen items, Zipf vocabulary, ja/en/es, --match-rate of the
items naming a topic). The same bodies are written to files for the processes that read files.

  feedparser alone   `python -c <parse every file with feedparser.parse(BytesIO)>` (one process)
  sokuho cold        `sokuho poll --once` on an empty state (console output to a file)
  sokuho warm        the same command again: every feed answers 304
  newsboat cold      `newsboat -x reload`, reload-threads 32, a fresh cache, the same URLs
  sokuho match       `sokuho match` over the N files (JSON Lines to a file)
  start-up           `sokuho poll --once` (all 304) with a --store-items store: time from spawn to
                     the first request the feed server receives (its clock, CLOCK_MONOTONIC), and
                     the process's peak RSS. The store is filled by cold polls of later generations
                     of the same feeds (new, distinct items), all inside the duplicate window.
  cron case          the same store, one feed bringing new items (information: no target)

Rounds repeat the cheap measurements (--repeat, interleaved so a neighbour's load hits all
alike); the summary gives median [min-max] and MET/MISSED per target from the medians. The
machine is shared, so each line also says how many cores other processes kept busy meanwhile
(/proc/stat minus our own processes). A script that prints figures, not a test: it asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import platform
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import feedparser  # noqa: E402

from feedbench import (VENV_BIN, Run, ServerProcess, build_feeds, run_timed,  # noqa: E402
                       sokuho_cmd, sokuho_env, write_config)
from match_bench import NewsGen  # noqa: E402

FEEDPARSER_ALONE = """\
import io, os, sys, feedparser
d = sys.argv[1]
n = 0
for name in sorted(os.listdir(d)):
    with open(os.path.join(d, name), "rb") as fh:
        n += len(feedparser.parse(io.BytesIO(fh.read())).entries)
print(n, "entries")
"""
TARGETS = {   # the "done when", whole processes
    "cold": "sokuho poll --once cold <= 1.0x feedparser alone",
    "newsboat": "newsboat cold >= 1.5x sokuho cold",
    "warm": "sokuho poll --once warm (all 304) <= 1.5 s",
    "match": "sokuho match over the files <= 1.0x feedparser alone",
    "startup": "start-up to the first request <= 1.0 s",
    "startup_rss": "peak RSS of that process <= 250 MB",
}


def host_label(n: int) -> str:
    return f"{n} host{'s' if n > 1 else ''}"


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def show(cmd: list[str], tmp: Path) -> str:
    """The command as a shell line, temp paths shortened to $TMP, the script to <FEEDPARSER_ALONE>."""
    words = ["<FEEDPARSER_ALONE>" if w == FEEDPARSER_ALONE else w for w in cmd]
    line = " ".join(shlex.quote(w) for w in words).replace(str(tmp), "$TMP")
    return line.replace(str(ROOT) + "/", "")


def fig(r: Run) -> str:
    return (f"{r.wall:6.2f}s wall  {r.cpu:6.2f}s CPU  {r.peak_mb:5.0f} MB peak RSS  "
            f"(others busy: {r.others:.1f} cores)")


def machine_load() -> str:
    """Load average, and the processes using CPU over the next second (not ours)."""
    def ticks() -> dict[int, tuple[str, int]]:
        out = {}
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    raw = Path(f"/proc/{d}/stat").read_text()
                    name, rest = raw[raw.index("(") + 1:raw.rindex(")")], raw.rsplit(")", 1)[1].split()
                    args = Path(f"/proc/{d}/cmdline").read_bytes().split(b"\0")
                    words = [Path(a.decode(errors="replace")).name for a in args[1:4] if a]
                    out[int(d)] = (" ".join([name, *words])[:60], int(rest[11]) + int(rest[12]))
                except (OSError, ValueError, IndexError):
                    pass
        return out
    a = ticks()
    time.sleep(1.0)
    b = ticks()
    hz = os.sysconf("SC_CLK_TCK")
    busy = sorted(((b[p][1] - a[p][1]) / hz, b[p][0]) for p in b if p in a and p != os.getpid())
    top = [f"{name} ({cpu:.0%})" for cpu, name in reversed(busy) if cpu >= 0.05][:6]
    la = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"load average {la}; busy in the last second: {', '.join(top) or 'nothing else'}"


# ------------------------------------------------------------------------------ runs
class Bench:
    def __init__(self, args, tmp: Path, server: ServerProcess, feeds, files: Path):
        self.args, self.tmp, self.server, self.feeds, self.files = args, tmp, server, feeds, files
        self.results: dict[str, list[Run]] = {}
        self.commands: dict[str, str] = {}
        self.newsboat = shutil.which("newsboat")
        self.stored = "?"
        self.env = sokuho_env(**dict(kv.split("=", 1) for kv in args.env))

    def record(self, key: str, label: str, r: Run, note: str = "", problem: str = "") -> Run:
        """Print and keep a run; `problem`: it did not do the whole job (its figure is void)."""
        if r.rc:
            problem = f"exit status {r.rc}: {(r.stderr or r.stdout)[-800:]}"
        r.extra["problem"] = problem
        self.results.setdefault(key, []).append(r)
        self.commands.setdefault(key, show(r.cmd, self.tmp))
        print(f"  {label:34s} {fig(r)}{note}", flush=True)
        if problem:
            print(f"  {'':34s} !! {problem}")
        return r

    @property
    def items(self) -> int:
        return self.args.feeds * self.args.items

    def expect(self, what: str, got: int, want: int) -> str:
        return "" if got == want else f"{got:,} {what}, expected {want:,}"

    def timed(self, cmd, **kw) -> Run:
        return run_timed(cmd, ours=(self.server.proc.pid,), **kw)

    def feedparser_alone(self) -> None:
        r = self.timed([str(VENV_BIN / "python"), "-c", FEEDPARSER_ALONE, str(self.files)])
        n = int(r.stdout.split()[0]) if r.stdout.split() and r.stdout.split()[0].isdigit() else 0
        self.record("feedparser", "feedparser alone, one process", r, f"  {n:,} entries",
                    self.expect("entries", n, self.items))

    def match(self, wl: Path) -> None:
        files = sorted(self.files.iterdir(), key=lambda p: int(p.stem))
        r = self.timed(sokuho_cmd() + ["match", "--watchlists", str(wl)] + [str(f) for f in files],
                       env=self.env)
        matched = sum(1 for ln in r.stdout.splitlines() if '"watchlists": []' not in ln)
        r.cmd = r.cmd[:-len(files)] + [str(self.files / "*.xml")]   # a glob, not 500 paths
        n = len(r.stdout.splitlines())
        self.record("match", f"sokuho match, {len(files)} files", r,
                    f"  {n:,} entries, {matched:,} matched", self.expect("entries", n, self.items))

    def poll(self, key: str, label: str, wl: Path, state: Path, status: int,
             count: int | None = None) -> Run:
        """`sokuho poll --once`, expecting `count` feeds (default: all) to answer `status`."""
        self.server.stats()                                    # resets the server's counters
        r = self.timed(sokuho_cmd() + ["poll", "--once", "--watchlists", str(wl), "--state",
                                        str(state)], env=self.env)
        s = self.server.stats()
        r.extra["startup"] = (s["first"] - r.start) if s["first"] else float("nan")
        codes = ", ".join(f"{n} x {c}" for c, n in sorted(s["statuses"].items()))
        summary = next((ln for ln in reversed(r.stdout.splitlines()) if ln.startswith("cycle:")),
                       "(no summary line)")
        return self.record(key, label, r, f"\n  {'':34s} first request after "
                           f"{r.extra['startup']:.2f}s; {s['requests']} requests ({codes}), "
                           f"max {s['max_active']} at once; {summary}",
                           self.expect(f"answers {status}", s["statuses"].get(status, 0),
                                       len(self.feeds) if count is None else count))

    def newsboat_reload(self, key: str, label: str, nb: Path) -> Run:
        self.server.stats()
        env = {**os.environ, "HOME": str(nb), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        r = self.timed([self.newsboat, "-x", "reload", "-u", str(nb / "urls"), "-c",
                        str(nb / "cache.db"), "-C", str(nb / "config")], env=env, cwd=nb)
        s = self.server.stats()
        codes = ", ".join(f"{n} x {c}" for c, n in sorted(s["statuses"].items()))
        items = count_rows(nb / "cache.db", "rss_item")
        return self.record(key, label, r, f"\n  {'':34s} {s['requests']} requests ({codes}), max "
                           f"{s['max_active']} at once; {items} items in its cache",
                           self.expect("items in its cache", int(items.replace(",", "")),
                                       self.items) if items.replace(",", "").isdigit() else items)

    def hosts_round(self, hosts: int) -> None:
        tag = host_label(hosts)
        d = Path(tempfile.mkdtemp(prefix=f"h{hosts}-", dir=self.tmp))
        wl = write_config(d, self.feeds, self.server, hosts)
        self.poll(f"cold@{hosts}", f"[{tag}] sokuho poll --once, cold", wl, d / "state", 200)
        self.poll(f"warm@{hosts}", f"[{tag}] sokuho poll --once, warm", wl, d / "state", 304)
        if self.newsboat:
            nb = d / "newsboat"
            nb.mkdir()
            (nb / "config").write_text("reload-threads 32\n")
            (nb / "urls").write_text("".join(self.server.url(i, f.path, hosts) + "\n"
                                             for i, f in enumerate(self.feeds)))
            self.newsboat_reload(f"newsboat@{hosts}", f"[{tag}] newsboat -x reload, cold", nb)
        shutil.rmtree(d, ignore_errors=True)

    def startup(self, hosts: int) -> None:
        """Fill a store with --store-items items by cold polls of successive generations of the
        same feeds, then time `poll --once` (all 304) from spawn to the first request."""
        a = self.args
        per = a.feeds * a.items
        gens = max(1, -(-a.store_items // per))
        d = Path(tempfile.mkdtemp(prefix="store-", dir=self.tmp))
        wl = write_config(d, self.feeds, self.server, hosts)
        state = d / "state"
        print(f"\nstart-up with a {gens * per:,}-item store: {gens} cold polls of {gens} "
              f"generations of the same {a.feeds} feeds (distinct items, published in the last "
              f"{a.store_age:g} h), {hosts} hosts", flush=True)
        try:
            for g in range(gens):
                t0 = time.monotonic()
                self.server.load(self.feeds if g == 0 else build_feeds(
                    a.feeds, a.items, seed=a.seed, gen=self.gen, age=a.store_age * 3600))
                self.poll("fill", f"fill {g + 1}/{gens}", wl, state, 200)
                if time.monotonic() - t0 > 600:
                    print("  (filling is slow: stopping here)")
                    break
            self.stored = count_rows(state / "sokuho.db", "items")
            print(f"  store: {self.stored} items in {state / 'sokuho.db'}")
            for k in range(a.repeat):
                self.poll("startup", f"poll --once, all 304, run {k + 1}", wl, state, 304)
            for k in range(a.repeat):        # the cron case: one feed brings new items
                self.server.load(build_feeds(1, a.items, seed=a.seed, gen=self.gen, age=600))
                self.poll("onefeed", f"poll --once, 1 feed changed, run {k + 1}", wl, state, 200, 1)
        finally:
            self.server.load(self.feeds)
            shutil.rmtree(d, ignore_errors=True)


def count_rows(db_path: Path, table: str) -> str:
    """Rows of `table` in an SQLite file (read-only), for checking what a run stored."""
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            return f"{db.execute(f'SELECT count(*) FROM {table}').fetchone()[0]:,}"
        finally:
            db.close()
    except sqlite3.Error as e:
        return f"? ({e})"


# ------------------------------------------------------------------------------ summary
def med(runs: list[Run], attr: str = "wall") -> float:
    return statistics.median(getattr(r, attr) if attr != "startup" else r.extra["startup"]
                             for r in runs)


def spread(runs: list[Run], attr: str = "wall", unit: str = "s") -> str:
    v = [getattr(r, attr) if attr != "startup" else r.extra["startup"] for r in runs]
    if len(v) == 1:
        return f"{v[0]:.2f}{unit}"
    return f"{statistics.median(v):.2f}{unit} [{min(v):.2f}-{max(v):.2f}]"


def summary(b: Bench, hosts: list[int]) -> None:
    R = b.results
    print("\n" + "=" * 100)
    print("summary: median [min-max] of the runs; CPU = user+sys of the whole process tree; "
          "peak RSS = largest single process;\n  first request = from the spawn to the first "
          "request the feed server received")
    rows = [("feedparser alone, one process", "feedparser")]
    for h in hosts:
        rows += [(f"sokuho poll --once cold, {host_label(h)}", f"cold@{h}"),
                 (f"sokuho poll --once warm, {host_label(h)}", f"warm@{h}"),
                 (f"newsboat -x reload cold, {host_label(h)}", f"newsboat@{h}")]
    rows += [("sokuho match over the files", "match"),
             ("poll --once with the big store (all 304)", "startup"),
             ("the same, 1 feed with new items", "onefeed")]
    print(f"  {'measure':44s} {'wall':>22s} {'CPU':>22s} {'peak RSS':>10s} {'first request':>22s}")
    for label, key in rows:
        if key in R:
            rs = R[key]
            first = spread(rs, "startup") if "startup" in rs[0].extra else "-"
            print(f"  {label:44s} {spread(rs):>22s} {spread(rs, 'cpu'):>22s} "
                  f"{max(r.peak_mb for r in rs):7.0f} MB {first:>22s}")
    others = [r.others for rs in R.values() for r in rs]
    print(f"  other processes kept {statistics.median(others):.1f} cores busy (median; max "
          f"{max(others):.1f}) during the timed runs: {'idle enough' if max(others) < 0.3 else 'figures are noisy'}")

    print("\ntargets (issue 9, whole processes, medians):")

    def judge(ok: bool, *keys: str) -> str:
        bad = any(r.extra.get("problem") for k in keys for r in R.get(k, ()))
        return "VOID (a run did not do the whole job: see above)" if bad else verdict(ok)

    def cpu(key: str) -> float:
        return med(R[key], "cpu")

    fp, fpc = med(R["feedparser"]), cpu("feedparser")
    for h in hosts:
        c, w = med(R[f"cold@{h}"]), med(R[f"warm@{h}"])
        tag = f"[{host_label(h)}]"
        if h != hosts[0]:
            floor = -(-b.args.feeds // min(32, 4 * h)) * b.args.latency
            print(f"  {tag} for information (the targets are for {host_label(hosts[0])}); with "
                  f"the default limits (32 at once, 4 per host) the network alone takes "
                  f"{floor:.2f}s")
        print(f"  {tag} cold {c:.2f}s = {c / fp:.2f}x feedparser alone ({fp:.2f}s; CPU "
              f"{cpu(f'cold@{h}') / fpc:.2f}x)   "
              f"{TARGETS['cold']}: {judge(c <= fp, f'cold@{h}', 'feedparser')}")
        if f"newsboat@{h}" in R:
            n = med(R[f"newsboat@{h}"])
            print(f"  {tag} newsboat {n:.2f}s = {n / c:.2f}x sokuho cold   {TARGETS['newsboat']}: "
                  f"{judge(n >= 1.5 * c, f'newsboat@{h}', f'cold@{h}')}")
        else:
            print(f"  {tag} newsboat not run (--no-newsboat, or not installed: apt-get install "
                  f"newsboat)   "
                  f"{TARGETS['newsboat']}: NOT MEASURED")
        print(f"  {tag} warm {w:.2f}s   {TARGETS['warm']}: {judge(w <= 1.5, f'warm@{h}')}")
    m = med(R["match"])
    print(f"  match {m:.2f}s = {m / fp:.2f}x feedparser alone (CPU {cpu('match') / fpc:.2f}x)   "
          f"{TARGETS['match']}: "
          f"{judge(m <= fp, 'match', 'feedparser')}")
    if "startup" in R:
        st, rss = med(R["startup"], "startup"), max(r.peak_mb for r in R["startup"])
        print(f"  start-up to the first request with {b.stored} stored items: {st:.2f}s   "
              f"{TARGETS['startup']}: {judge(st <= 1.0, 'startup', 'fill')}")
        print(f"  peak RSS of that process: {rss:.0f} MB   {TARGETS['startup_rss']}: "
              f"{judge(rss <= 250, 'startup', 'fill')}")
    else:
        print("  start-up with a big store: skipped (--store-items 0)")
    if "onefeed" in R:
        print(f"  (information) the cron case, one feed of {b.args.feeds} bringing {b.args.items} "
              f"new items, with the big store: {spread(R['onefeed'])} wall, "
              f"{spread(R['onefeed'], 'cpu')} CPU, {max(r.peak_mb for r in R['onefeed']):.0f} MB")

    extra = " ".join(b.args.env)
    print("\ncommands ($TMP = the run's temp dir; env: SOKUHO_ALLOW_PRIVATE_NETWORKS=1"
          + (f" {extra}, no other SOKUHO_* or TELEGRAM_* variables):" if extra else
             ", no other SOKUHO_* or TELEGRAM_* variables, so every limit is a default):"))
    for key, cmd in b.commands.items():
        if key != "fill":
            print(f"  {key:18s} {cmd}")
    print("  <FEEDPARSER_ALONE> =\n" + "\n".join("      " + ln for ln in FEEDPARSER_ALONE.splitlines()))


# ------------------------------------------------------------------------------ main
def ensure_newsboat(install: bool) -> str | None:
    if shutil.which("newsboat") or not install:
        return shutil.which("newsboat")
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print("newsboat is not installed: run `sudo apt-get install newsboat` for its figures")
        return None
    print("newsboat is not installed: apt-get install -y newsboat ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "newsboat"]):
        if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode:
            print(f"  `{' '.join(cmd)}` failed: newsboat figures skipped")
            return None
    return shutil.which("newsboat")


def versions(newsboat: str | None) -> str:
    nb = "newsboat not used"
    if newsboat:
        out = subprocess.run([newsboat, "--version"], capture_output=True, text=True).stdout
        nb = out.split(" - ")[0].strip() if out else "?"
    rev = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %cs"],
                         capture_output=True, text=True).stdout.strip() or "?"
    return (f"Python {platform.python_version()}, feedparser {feedparser.__version__}, {nb}, "
            f"sokuho at {rev}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=500)
    ap.add_argument("--items", type=int, default=50, help="items per feed")
    ap.add_argument("--latency", type=float, default=0.05, help="server latency per request (s)")
    ap.add_argument("--hosts", default="50,1",
                    help="loopback host counts to run the poll comparison at, comma-separated; "
                         "the targets are judged at the first (default 50,1)")
    ap.add_argument("--match-rate", type=float, default=0.08, help="share of items naming a topic")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of the cheap measurements")
    ap.add_argument("--store-items", type=int, default=100_000,
                    help="items in the store for the start-up figure (0: skip it)")
    ap.add_argument("--store-age", type=float, default=24,
                    help="items of the store are published within this many hours")
    ap.add_argument("--env", action="append", default=[], metavar="SOKUHO_X=VALUE",
                    help="a setting for every sokuho process (repeatable), e.g. "
                         "SOKUHO_FETCH_PER_HOST=8; by default every setting is a default")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-newsboat", action="store_true", help="skip newsboat")
    ap.add_argument("--no-install", action="store_true",
                    help="do not apt-get install newsboat when it is missing")
    args = ap.parse_args()
    hosts = [int(h) for h in args.hosts.split(",") if h.strip()]
    if not hosts or not all(1 <= h <= 254 for h in hosts):
        ap.error("--hosts: numbers 1..254")
    if not all("=" in kv and kv.startswith("SOKUHO_") for kv in args.env):
        ap.error("--env: SOKUHO_NAME=VALUE")

    newsboat = None if args.no_newsboat else ensure_newsboat(not args.no_install)
    print(f"poll_bench  {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC  {platform.node()}, "
          f"{os.cpu_count()} cores  {versions(newsboat)}")
    print(f"machine at start: {machine_load()}")
    t0 = time.perf_counter()
    gen = NewsGen(args.seed, match_rate=args.match_rate)      # later generations continue it
    feeds = build_feeds(args.feeds, args.items, seed=args.seed, gen=gen)
    mb = sum(len(f.body) for f in feeds) / 1e6
    print(f"feeds: {args.feeds} x {args.items} items = {args.feeds * args.items:,} items, {mb:.1f} MB "
          f"of RSS 2.0, {args.match_rate:.0%} naming a topic (generated in "
          f"{time.perf_counter() - t0:.1f}s); server: child process on {max(hosts)} loopback "
          f"addresses, {args.latency * 1000:.0f} ms before each response")
    server = ServerProcess(feeds, max(hosts), args.latency)
    with tempfile.TemporaryDirectory(prefix="sokuho-pollbench-") as d:
        tmp = Path(d)
        files = tmp / "files"
        files.mkdir()
        for i, f in enumerate(feeds):
            (files / f"{i}.xml").write_bytes(f.body)
        b = Bench(args, tmp, server, feeds, files)
        b.newsboat, b.gen = newsboat, gen
        wl = write_config(tmp, feeds, server)
        try:
            for r in range(args.repeat):
                print(f"\nround {r + 1}/{args.repeat}  ({machine_load()})", flush=True)
                b.feedparser_alone()
                for h in hosts:
                    b.hosts_round(h)
                b.match(wl)
            if args.store_items:
                b.startup(hosts[0])
        finally:
            server.stop()
        print(f"\nmachine at the end: {machine_load()}")
        summary(b, hosts)


if __name__ == "__main__":
    main()
