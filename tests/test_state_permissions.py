"""The state folder is 0700 and its files (database, -wal, -shm, backups) 0600 under any umask."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bot.adapters.store import Store

SOKUHO = Path(sys.executable).parent / "sokuho"


@pytest.fixture
def umask022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_store_state_is_private_under_umask_022(tmp_path, umask022):
    state = tmp_path / "state"
    store = Store.open(state / "sokuho.db")
    try:
        store.sync_feeds([], 300, __import__("bot.core.model", fromlist=["utcnow"]).utcnow())
        files = sorted(state.iterdir())
        assert {p.name for p in files} >= {"sokuho.db", "sokuho.db-wal", "sokuho.db-shm"}
        assert mode(state) == 0o700
        for p in files:
            assert mode(p) == 0o600, (p.name, oct(mode(p)))
        store.backup(tmp_path / "bk" / "copy.db")
        assert mode(tmp_path / "bk" / "copy.db") == 0o600
    finally:
        store.close()


def test_existing_loose_state_is_tightened(tmp_path, umask022):
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    Store.open(state / "sokuho.db").close()
    os.chmod(state / "sokuho.db", 0o644)
    os.chmod(state, 0o755)
    Store.open(state / "sokuho.db").close()
    assert mode(state) == 0o700 and mode(state / "sokuho.db") == 0o600


def test_a_shared_folder_is_not_tightened(tmp_path, umask022):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    (shared / "someone-elses.txt").write_text("x")
    Store.open(shared / "sokuho.db").close()       # the db file itself is still private
    assert mode(shared) == 0o755 and mode(shared / "sokuho.db") == 0o600


def test_backup_command_writes_0600(tmp_path):
    state = tmp_path / "st"
    Store.open(state / "sokuho.db").close()
    r = subprocess.run(["sh", "-c", f"umask 022 && {SOKUHO} backup --state {state} "
                        f"{tmp_path / 'b.db'}"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert mode(tmp_path / "b.db") == 0o600
