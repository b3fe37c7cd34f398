"""Config watcher: one reload per burst of edits; deletes and creations count."""
from __future__ import annotations

import asyncio
import os
import time

from bot.ops.watch import ConfigWatcher, describe, snapshot

SETTLE = 0.5


async def _wait_for(pred, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        await asyncio.sleep(0.02)
    return False


def _watcher(paths):
    calls = []

    async def on_change():
        calls.append(time.monotonic())

    return ConfigWatcher(paths, on_change, interval=0.05, settle=SETTLE), calls


async def test_burst_of_writes_triggers_once(tmp_path):
    wl = tmp_path / "news.yaml"
    wl.write_text("name: news\n")
    w, calls = _watcher([tmp_path])
    w.start()
    try:
        await asyncio.sleep(0.2)
        assert calls == []
        # an editor's save: backup copy, temp file, several writes, rename over the original
        for i in range(6):
            (tmp_path / ".news.yaml.swp").write_text(f"swap {i}")
            tmp = tmp_path / "news.yaml.tmp"
            tmp.write_text(f"name: news\n# edit {i}\n")
            os.replace(tmp, wl)
            await asyncio.sleep(0.03)
        assert await _wait_for(lambda: len(calls) >= 1)
        await asyncio.sleep(SETTLE * 3)
        assert len(calls) == 1
        assert w.last_changes == ["changed news.yaml"]
    finally:
        await w.stop()


async def test_delete_and_create_trigger(tmp_path):
    a = tmp_path / "a.yaml"
    a.write_text("x: 1\n")
    w, calls = _watcher([tmp_path])
    w.start()
    try:
        a.unlink()
        assert await _wait_for(lambda: len(calls) == 1)
        assert w.last_changes == ["removed a.yaml"]
        (tmp_path / "b.yml").write_text("y: 2\n")
        assert await _wait_for(lambda: len(calls) == 2)
        assert w.last_changes == ["added b.yml"]
        (tmp_path / "notes.txt").write_text("not config")          # not watched
        await asyncio.sleep(SETTLE * 3)
        assert len(calls) == 2
    finally:
        await w.stop()


async def test_missing_file_path_is_watched_for_creation(tmp_path):
    feeds = tmp_path / "conf" / "feeds.yaml"                        # does not exist yet
    w, calls = _watcher([feeds])
    w.start()
    try:
        await asyncio.sleep(0.2)
        feeds.parent.mkdir()
        feeds.write_text("feeds: []\n")
        assert await _wait_for(lambda: len(calls) == 1)
        assert w.last_changes == ["added feeds.yaml"]
    finally:
        await w.stop()


async def test_failing_callback_does_not_stop_the_watcher(tmp_path):
    f = tmp_path / "a.yaml"
    f.write_text("1")
    calls = []

    async def on_change():
        calls.append(1)
        raise ValueError("invalid YAML")

    w = ConfigWatcher([tmp_path], on_change, interval=0.05, settle=0.1)
    w.start()
    try:
        f.write_text("22")
        assert await _wait_for(lambda: len(calls) == 1)
        f.write_text("333")
        assert await _wait_for(lambda: len(calls) == 2)
    finally:
        await w.stop()
    assert w._task is None


def test_same_size_rewrite_is_a_change(tmp_path):
    f = tmp_path / "a.yaml"
    f.write_text("aaaa")
    before = snapshot([tmp_path])
    tmp = tmp_path / "a.new"
    tmp.write_text("bbbb")
    os.replace(tmp, f)                    # same size, maybe same mtime tick: the inode differs
    assert describe(before, snapshot([tmp_path])) == ["changed a.yaml"]
