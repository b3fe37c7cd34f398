"""Config watcher: polls watchlists/*.yaml and feeds.yaml and calls `on_change` once per edit.

Polling (stat every `interval` seconds) needs no dependency and works on every file system,
including bind mounts and network shares where inotify is unreliable. A change is reported only
after the files have been stable for `settle` seconds, so an editor's burst (write temp file,
rename, chmod, backup file) triggers one reload, not five.
"""
from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Awaitable, Callable

log = logging.getLogger(__name__)

PATTERNS = ("*.yaml", "*.yml")

Snapshot = dict[str, tuple[int, int, int, int]]


def _ignored(name: str) -> bool:
    # editor droppings: .file.swp, file~, #file#, .#file
    return name.startswith((".", "#")) or name.endswith(("~", ".swp", ".tmp"))


def snapshot(paths: list[Path]) -> Snapshot:
    """{file: (mtime_ns, ctime_ns, size, inode)} for files and YAML files in directories."""
    files: set[Path] = set()
    for p in paths:
        if p.is_dir():
            for pattern in PATTERNS:
                files.update(f for f in p.glob(pattern) if not _ignored(f.name))
        else:
            files.add(p)               # watched even while missing: creation is a change
    out: Snapshot = {}
    for f in files:
        try:
            st = os.stat(f)
        except OSError:               # missing (deleted, or mid-rename)
            continue
        out[str(f)] = (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)
    return out


def describe(old: Snapshot, new: Snapshot) -> list[str]:
    """Human-readable list of what differs: 'added a.yaml', 'removed b.yaml', 'changed c.yaml'."""
    out = [f"added {Path(f).name}" for f in sorted(new.keys() - old.keys())]
    out += [f"removed {Path(f).name}" for f in sorted(old.keys() - new.keys())]
    out += [f"changed {Path(f).name}" for f in sorted(old.keys() & new.keys()) if old[f] != new[f]]
    return out


class ConfigWatcher:
    def __init__(self, paths: list[Path], on_change: Callable[[], Awaitable[None]],
                 interval: float = 2.0, settle: float | None = None):
        self.paths = [Path(p) for p in paths]
        self.on_change = on_change
        self.interval = interval
        self.settle = interval if settle is None else settle
        self.last_changes: list[str] = []    # what the last triggered reload was about
        self._task: asyncio.Task | None = None
        self._state: Snapshot = {}

    async def _snapshot(self) -> Snapshot:
        # stat() on a hung network file system must not block the event loop
        return await asyncio.to_thread(snapshot, self.paths)

    def start(self) -> asyncio.Task:
        """Take the baseline now (so edits right after start count) and poll in a task."""
        if self._task is None or self._task.done():
            self._state = snapshot(self.paths)
            self._task = asyncio.get_running_loop().create_task(self._run(), name="config-watcher")
        return self._task

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                current = await self._snapshot()
                if current == self._state:
                    continue
                while True:                            # debounce: wait until stable
                    await asyncio.sleep(self.settle)
                    later = await self._snapshot()
                    if later == current:
                        break
                    current = later
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("config watcher: cannot stat %s", ", ".join(map(str, self.paths)))
                continue
            self.last_changes = describe(self._state, current)
            self._state = current
            if not self.last_changes:
                continue
            log.info("configuration files changed: %s", "; ".join(self.last_changes))
            try:
                await self.on_change()
            except asyncio.CancelledError:
                raise
            except Exception:     # the reload reports its own errors; the watcher keeps going
                log.exception("reload after a configuration change failed")
