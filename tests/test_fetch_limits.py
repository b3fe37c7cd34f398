"""Politeness limits as settings: SOKUHO_FETCH_PER_HOST (default 4) and SOKUHO_FETCH_CONCURRENCY
(default 32) bound the requests in flight of a whole `sokuho poll --once`; bad values are a clear
error before anything is fetched. The feed server holds every request until the expected number
is in flight (so reaching the limit does not depend on timing) and records the high-water mark."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError

SOKUHO = Path(sys.executable).parent / "sokuho"


def test_defaults_and_values():
    s = Settings.from_env({})
    assert (s.fetch_concurrency, s.fetch_per_host) == (32, 4)
    s = Settings.from_env({"SOKUHO_FETCH_CONCURRENCY": " 8 ", "SOKUHO_FETCH_PER_HOST": "1"})
    assert (s.fetch_concurrency, s.fetch_per_host) == (8, 1)


@pytest.mark.parametrize("key,value,words", [
    ("SOKUHO_FETCH_PER_HOST", "0", "out of range (allowed: 1 to 64)"),
    ("SOKUHO_FETCH_PER_HOST", "65", "out of range"),
    ("SOKUHO_FETCH_PER_HOST", "four", "not a whole number"),
    ("SOKUHO_FETCH_CONCURRENCY", "-1", "out of range (allowed: 1 to 1000)"),
    ("SOKUHO_FETCH_CONCURRENCY", "2.5", "not a whole number"),
])
def test_bad_values_name_the_variable(key, value, words):
    with pytest.raises(SettingsError) as e:
        Settings.from_env({key: value})
    assert str(e.value).startswith(f"{key}={value!r}: ") and words in str(e.value)


def _env(**kw) -> dict:
    e = {k: v for k, v in os.environ.items() if not k.startswith(("SOKUHO_", "TELEGRAM_"))}
    e.update(SOKUHO_ALLOW_PRIVATE_NETWORKS="1", SOKUHO_LOG_FORMAT="plain", **kw)
    return e


def _conf(tmp_path: Path, urls: list[str]) -> Path:
    wl = tmp_path / "wl"
    wl.mkdir()
    (wl / "cuba.yaml").write_text("name: cuba\naliases:\n  en: [Cuba]\n", encoding="utf-8")
    (wl / "feeds.yaml").write_text("feeds:\n" + "".join(
        f"  - {{name: f{i}, url: '{u}'}}\n" for i, u in enumerate(urls)), encoding="utf-8")
    return wl


def test_a_bad_value_stops_the_command_with_a_clear_error(tmp_path):
    wl = _conf(tmp_path, [])
    r = subprocess.run([str(SOKUHO), "poll", "--once", "--watchlists", str(wl), "--state",
                        str(tmp_path / "st")], env=_env(SOKUHO_FETCH_PER_HOST="lots"),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "invalid setting: SOKUHO_FETCH_PER_HOST='lots': not a whole number" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "st").exists()


@pytest.mark.parametrize("env,limit", [({}, 4),                       # the default per host
                                       ({"SOKUHO_FETCH_PER_HOST": "2"}, 2),
                                       ({"SOKUHO_FETCH_PER_HOST": "8",
                                         "SOKUHO_FETCH_CONCURRENCY": "3"}, 3)])
async def test_poll_once_keeps_the_limits(tmp_path, feed_server, env, limit):
    urls = feed_server.add_many(12, items=2, latency=0.2)     # one host: 127.0.0.1
    feed_server.hold_until_active(limit)     # a client allowing fewer never gets past this
    wl = _conf(tmp_path, urls)
    p = await asyncio.create_subprocess_exec(
        str(SOKUHO), "poll", "--once", "--quiet", "--watchlists", str(wl), "--state",
        str(tmp_path / "st"), env=_env(**env), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(p.communicate(), 120)
    assert p.returncode == 0, err.decode()
    assert "12 feeds: 12 ok" in out.decode()
    assert len(feed_server.requests) == 12
    assert feed_server.max_active == limit
