"""The throwaway PostgreSQL clusters of the tests (tests/pgcluster.py) die with the test process:
a pytest killed with SIGKILL takes its postgres processes with it, and the next start removes
the folders that killed runs left, without touching the clusters of runs still going."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import pgcluster

ROOT = Path(__file__).resolve().parents[1]

INNER = '''
import json, os, time

def test_hold(pg_cluster):
    import psycopg
    with psycopg.connect(pg_cluster.create_database()) as c:    # a backend too
        c.execute("SELECT 1")
        with open(os.environ["MARK"] + ".tmp", "w") as fh:
            json.dump({"pid": pg_cluster.proc.pid, "base": str(pg_cluster.base)}, fh)
        os.replace(os.environ["MARK"] + ".tmp", os.environ["MARK"])
        time.sleep(600)
'''


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                raw = (d / "stat").read_text()
            except OSError:
                continue
            if int(raw[raw.rfind(")") + 2:].split()[1]) == pid:
                out.append(int(d.name))
    return out


def _wait(pred, timeout: float, what: str):
    end = time.monotonic() + timeout
    while not (value := pred()):
        if time.monotonic() > end:
            raise AssertionError(f"not within {timeout:g}s: {what}")
        time.sleep(0.05)
    return value


@pytest.fixture
def pg_binaries():
    try:
        pgcluster.ensure_installed()
    except pgcluster.PgUnavailable as e:
        pytest.skip(f"PostgreSQL not available: {e}")


def test_a_killed_test_run_takes_its_cluster_with_it_and_the_next_start_clears_the_rest(
        tmp_path, pg_binaries):
    (tmp_path / "test_inner.py").write_text(INNER)
    mark = tmp_path / "mark.json"
    env = {**os.environ, "MARK": str(mark),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT)])}
    run = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "-p", "conftest", "-o", "timeout=0", "--rootdir", str(tmp_path),
                            str(tmp_path / "test_inner.py")],
                           cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        info = _wait(lambda: mark.exists() and json.loads(mark.read_text()), 120,
                     "the inner pytest never had its cluster up")
        postmaster, base = info["pid"], Path(info["base"])
        servers = {p: pgcluster._proc_start(p) for p in [postmaster, *_children(postmaster)]}
        assert len(servers) >= 3 and all(servers.values())          # postmaster + workers
        assert (base / "owner.json").exists()
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait()

    def gone():
        return all(pgcluster._proc_start(p) != start for p, start in servers.items())
    _wait(gone, 60, "postgres processes outlived the killed test run")
    # the killed run could not remove its folder: the next start does (unless another test run
    # on this machine started a cluster meanwhile and reaped it first)
    mine = pgcluster.PgCluster.start()
    try:
        assert not base.exists()
        assert mine.base.exists()
    finally:
        mine.stop()
    assert not mine.base.exists()


def test_reaping_spares_running_clusters_and_fresh_folders_and_stops_an_orphaned_server(
        pg_binaries):
    tmp = Path(tempfile.gettempdir())
    live = pgcluster.PgCluster.start()          # owner: this process, alive
    orphan = pgcluster.PgCluster.start()
    keep_fresh = Path(tempfile.mkdtemp(prefix=pgcluster.PREFIX))      # no owner file, new
    stale = Path(tempfile.mkdtemp(prefix=pgcluster.PREFIX))           # no owner, an hour old
    old = time.time() - 2 * pgcluster.ORPHAN_AGE
    os.utime(stale, (old, old))
    try:
        # make `orphan` look as if its owner were killed: a pid that ran once and is gone
        p = subprocess.Popen([sys.executable, "-c", ""])
        start = pgcluster._proc_start(p.pid)
        p.wait()
        (orphan.base / "owner.json").write_text(json.dumps({"pid": p.pid, "start": start or 1}))
        server = orphan.proc.pid
        removed = pgcluster.reap_orphans(tmp)
        assert orphan.base in removed and stale in removed
        assert live.base not in removed and keep_fresh not in removed
        assert live.base.exists() and keep_fresh.exists() and not orphan.base.exists()
        assert orphan.proc.wait(30) is not None            # the orphan's server was stopped
        assert pgcluster._proc_start(server) is None
        import psycopg
        with psycopg.connect(live.create_database()) as c:  # the live cluster still serves
            assert c.execute("SELECT 1").fetchone() == (1,)
    finally:
        live.stop()
        orphan.stop()
        keep_fresh.rmdir()
