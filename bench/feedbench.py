"""Shared pieces of the feed benchmarks (pipeline_bench, scale_bench, poll_bench).

- `build_feeds`: synthetic RSS 2.0 feeds of NewsGen items (Zipf vocabulary, ja/en/es).
- `ServerProcess`: tests/feedserver.py in a child process on N loopback addresses, with ETag /
  Last-Modified, a fixed latency, per-cycle request counts and the time of the first request.
- `write_config`: a watchlists dir (the shipped watchlists + a feeds.yaml of the server's URLs).
- `sokuho_cmd`, `sokuho_env`: how a user runs sokuho against the local server.
- `run_timed`: one whole process timed from outside, like /usr/bin/time (wall, user+sys CPU of
  the process and the children it waited for, peak RSS), plus the CPU other processes used
  meanwhile (the machine is shared: a figure taken while others were busy is noisy).
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from match_bench import OUTLETS, NewsGen  # noqa: E402
from tests.feedserver import FeedServer, make_rss  # noqa: E402

WATCHLISTS = ROOT / "watchlists"
VENV_BIN = ROOT / ".venv" / "bin"
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


def build_feeds(n: int, items: int, *, seed: int = 7, match_rate: float = 0.05,
                gen: NewsGen | None = None, age: float = 24 * 3600) -> list[FeedSpec]:
    """`n` feeds of `items` items each, published within `age` seconds before now. The same
    `seed` gives every feed the same name, language and path; pass the same `gen` again to get
    a later generation of the same feeds with new, distinct items."""
    gen = gen or NewsGen(seed, match_rate=match_rate)
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
            it = gen.item(lang, outlet=outlet, now=now, age=age)
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
class _TimedServer(FeedServer):
    """FeedServer that also notes when requests arrive (CLOCK_MONOTONIC, system-wide on Linux,
    so comparable with the benchmark process's time.monotonic()) and the statuses it answered."""

    def reset(self) -> None:
        self.requests, self.max_active = [], 0
        self.first = self.last = None
        self.statuses: Counter = Counter()

    async def _handle(self, request):
        now = time.monotonic()
        if self.first is None:
            self.first = now
        self.last = now
        resp = await super()._handle(request)
        self.statuses[resp.status] += 1
        return resp


def _serve(spec: list[tuple[str, bytes, str, str]], hosts: int, latency: float, conn) -> None:
    """Child process: the feed server on 127.0.0.1 .. 127.0.0.<hosts>, until told to stop."""
    asyncio.run(_serve_async(spec, hosts, latency, conn))


async def _serve_async(spec, hosts, latency, conn) -> None:
    from aiohttp import web
    server = _TimedServer("127.0.0.1")
    server.reset()
    await server.start()

    def load(spec):
        for path, body, etag, lm in spec:
            server.route(path, body=body, delay=latency, etag=etag, last_modified=lm)

    load(spec)
    runner = server._runner          # one aiohttp app, one extra site per loopback address
    for k in range(2, hosts + 1):
        await web.TCPSite(runner, f"127.0.0.{k}", 0).start()
    conn.send({addr[0]: addr[1] for addr in runner.addresses})
    loop = asyncio.get_running_loop()
    while True:
        cmd, arg = await loop.run_in_executor(None, conn.recv)
        if cmd == "stats":
            reqs = server.requests
            conn.send({"requests": len(reqs), "max_active": server.max_active,
                       "conditional": sum(1 for r in reqs if r.header("If-None-Match")
                                          or r.header("If-Modified-Since")),
                       "statuses": dict(server.statuses), "first": server.first,
                       "last": server.last})
            server.reset()
        elif cmd == "load":
            load(arg)
            conn.send("ok")
        else:
            break
    await server.close()
    conn.send("bye")


class ServerProcess:
    """The feed server in a spawned child process, so its CPU is not charged to what is timed."""

    def __init__(self, feeds: list[FeedSpec], hosts: int, latency: float):
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(self._spec(feeds), hosts, latency, child),
                                daemon=True)
        self.proc.start()
        self.ports: dict[str, int] = self.conn.recv()
        self.hosts = sorted(self.ports, key=lambda h: int(h.rsplit(".", 1)[1]))

    @staticmethod
    def _spec(feeds):
        return [(f.path, f.body, f.etag, f.last_modified) for f in feeds]

    def url(self, i: int, path: str, hosts: int | None = None) -> str:
        """Feed i's URL, on 127.0.0.(1 + i % hosts) (default: every address the server has)."""
        host = self.hosts[i % (hosts or len(self.hosts))]
        return f"http://{host}:{self.ports[host]}{path}"

    def stats(self) -> dict:
        """Requests since the last call (count, statuses, conditional, most at once, monotonic
        time of the first and last); resets the counters."""
        self.conn.send(("stats", None))
        return self.conn.recv()

    def load(self, feeds: list[FeedSpec]) -> None:
        """Serve these bodies (e.g. a new generation of the same feeds) from now on."""
        self.conn.send(("load", self._spec(feeds)))
        self.conn.recv()

    def cpu(self) -> float:
        return proc_cpu(self.proc.pid)

    def stop(self) -> None:
        try:
            self.conn.send(("stop", None))
            self.conn.recv()
        finally:
            self.proc.join(5)
            if self.proc.is_alive():
                self.proc.terminate()


# ------------------------------------------------------------------------------ sokuho
def write_config(tmp: Path, feeds: list[FeedSpec], server: ServerProcess,
                 hosts: int | None = None) -> Path:
    """tmp/watchlists: copies of the shipped watchlists + a feeds.yaml listing the server's URLs."""
    wl = tmp / "watchlists"
    wl.mkdir()
    for f in WATCHLISTS.glob("*.yaml"):
        if f.name != "feeds.yaml":
            shutil.copy(f, wl / f.name)
    lines = ["defaults: {interval: 5m}", "feeds:"]
    for i, f in enumerate(feeds):
        lines.append(f"  - {{name: {json.dumps(f.name, ensure_ascii=False)}, "
                     f"url: {json.dumps(server.url(i, f.path, hosts))}, lang: {f.lang}}}")
    (wl / "feeds.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return wl


def sokuho_cmd() -> list[str]:
    exe = VENV_BIN / "sokuho"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "bot.cli"]


def sokuho_env(**extra: str) -> dict[str, str]:
    """The caller's environment without SOKUHO_* / TELEGRAM_* (so every setting is a default, and
    output goes to the console), allowing the loopback feed server, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOKUHO_", "TELEGRAM_"))}
    env["SOKUHO_ALLOW_PRIVATE_NETWORKS"] = "1"      # the feed server is on 127.0.0.x
    env.update(extra)
    return env


# ------------------------------------------------------------------------------ timing
HZ = os.sysconf("SC_CLK_TCK")


def busy_cpu() -> float:
    """CPU seconds the whole machine has spent busy since boot (/proc/stat, not idle/iowait)."""
    with open("/proc/stat") as fh:
        v = [int(x) for x in fh.readline().split()[1:9]]
    return (sum(v) - v[3] - v[4]) / HZ


def proc_cpu(pid: int) -> float:
    """user+sys CPU seconds of one running process (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            f = fh.read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / HZ
    except (OSError, IndexError, ValueError):
        return 0.0


@dataclass
class Run:
    cmd: list[str]
    start: float            # time.monotonic() just before the fork
    wall: float
    cpu: float              # user + sys of the process and every child it waited for
    peak_mb: float          # ru_maxrss: the largest RSS of any one process of the tree, MB (10^6)
    rc: int
    others: float           # cores other processes kept busy on average meanwhile
    stdout: str = ""
    stderr: str = ""
    extra: dict = field(default_factory=dict)


# A forked child starts with its parent's peak RSS (Linux keeps the pre-exec high-water mark),
# so the benchmark process (tens of MB) cannot fork the measured command itself: this small
# launcher (python -I -S, ~9 MB) forks, execs, os.wait4s and reports on fd argv[1], as
# /usr/bin/time does. Its own size is the floor of every peak RSS figure.
LAUNCHER = """\
import json, os, sys, time
fd, cmd = int(sys.argv[1]), sys.argv[2:]
t0 = time.monotonic()
pid = os.fork()
if pid == 0:
    os.close(fd)
    try:
        os.execvp(cmd[0], cmd)
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.monotonic() - t0
os.write(fd, json.dumps({"start": t0, "wall": wall, "cpu": ru.ru_utime + ru.ru_stime,
                         "maxrss_kib": ru.ru_maxrss,
                         "rc": os.waitstatus_to_exitcode(status)}).encode())
"""


def run_timed(cmd: list[str], *, env: dict | None = None, cwd: Path | None = None,
              ours: tuple[int, ...] = ()) -> Run:
    """Run `cmd` to its end and time it from outside (see LAUNCHER); `ours`: pids (e.g. the
    feed server) whose CPU is not counted as other processes' load."""
    rfd, wfd = os.pipe()
    with tempfile.TemporaryFile() as so, tempfile.TemporaryFile() as se:
        ours_cpu0 = sum(proc_cpu(p) for p in ours)
        busy0 = busy_cpu()
        t0 = time.monotonic()
        try:
            subprocess.run([sys.executable, "-I", "-S", "-c", LAUNCHER, str(wfd), *cmd], env=env,
                           cwd=cwd, stdout=so, stderr=se, stdin=subprocess.DEVNULL,
                           pass_fds=(wfd,), check=True)
        finally:
            os.close(wfd)
        with os.fdopen(rfd, "rb") as fh:
            res = json.loads(fh.read())
        total = time.monotonic() - t0
        busy = busy_cpu() - busy0
        mine = (res["cpu"] + sum(proc_cpu(q) for q in ours) - ours_cpu0
                + total - res["wall"])           # the launcher's own start and exit, at most
        so.seek(0)
        se.seek(0)
        return Run(cmd, res["start"], res["wall"], res["cpu"], res["maxrss_kib"] * 1024 / 1e6,
                   res["rc"], max(0.0, busy - mine) / total if total > 0 else 0.0,
                   so.read().decode("utf-8", "replace"), se.read().decode("utf-8", "replace"))
