"""The config parse cache (state/config-cache.json): a file whose text was parsed and validated
before is validated again from plain data without the (slow) YAML parse; any other text, or a
cache that is damaged or wrong, takes the full path, so results and error messages are those of
a fresh parse."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.adapters import config as C
from bot.adapters.config import ConfigError, load_config

CUBA = "name: cuba\ntitle: {en: Cuba}\naliases:\n  en: [Cuba, Havana]\n  es: [La Habana]\n"


@pytest.fixture
def dirs(tmp_path):
    wl, st = tmp_path / "wl", tmp_path / "state"
    wl.mkdir()
    st.mkdir()
    (wl / "cuba.yaml").write_text(CUBA, encoding="utf-8")
    (wl / "feeds.yaml").write_text(
        "defaults: {interval: 10m}\nfeeds:\n  - {name: A, url: 'https://a.example/rss', lang: es}\n"
        "  - {name: B, url: 'https://b.example/rss', enabled: false, interval: 1h}\n",
        encoding="utf-8")
    return wl, st


def _no_yaml(monkeypatch):
    def refuse(path, *_):
        raise AssertionError(f"{path} was parsed again")
    monkeypatch.setattr(C, "_read", refuse)
    monkeypatch.setattr(C, "_read_fast", refuse)


def test_same_text_is_not_parsed_again_and_gives_the_same_config(dirs, monkeypatch):
    wl, st = dirs
    first = load_config(wl, cache_dir=st)
    assert (st / "config-cache.json").stat().st_mode & 0o777 == 0o600
    fresh = load_config(wl)                      # no cache: parsed
    _no_yaml(monkeypatch)
    again = load_config(wl, cache_dir=st)
    assert again == first == fresh
    assert [f.enabled for f in again.feeds.feeds] == [True, False]
    assert again.feeds.feeds[1].interval == 3600


def test_an_edited_file_is_parsed_again(dirs):
    wl, st = dirs
    load_config(wl, cache_dir=st)
    (wl / "cuba.yaml").write_text(CUBA.replace("Havana", "Santiago de Cuba"), encoding="utf-8")
    aliases = {a.text for _, a in load_config(wl, cache_dir=st).watchlists["cuba"].all_aliases()}
    assert "Santiago de Cuba" in aliases and "Havana" not in aliases


def test_a_broken_file_still_names_its_line(dirs):
    wl, st = dirs
    load_config(wl, cache_dir=st)
    (wl / "cuba.yaml").write_text(CUBA + "excludes: [oops\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_config(wl, cache_dir=st)
    assert "cuba.yaml:" in str(e.value) and "invalid YAML" in str(e.value)
    (wl / "cuba.yaml").write_text(CUBA + "colour: red\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_config(wl, cache_dir=st)
    assert "cuba.yaml:6:1: colour: unknown key" in str(e.value)


@pytest.mark.parametrize("damage", ["not json{", json.dumps({"version": 1, "files": []}),
                                    "poisoned"])
def test_a_damaged_or_wrong_cache_is_ignored(dirs, damage):
    wl, st = dirs
    good = load_config(wl, cache_dir=st)
    cache = st / "config-cache.json"
    if damage == "poisoned":         # the right key, data that does not validate: parse the YAML
        raw = json.loads(cache.read_text())
        key = C.ParseCache.key((wl / "cuba.yaml").read_text(encoding="utf-8"))
        raw["files"][key] = {"name": "cuba", "aliases": {"en": 42}, "colour": "red"}
        damage = json.dumps(raw)
    cache.write_text(damage)
    assert load_config(wl, cache_dir=st) == good
    assert json.loads(cache.read_text())["version"] == 1       # rewritten whole


def test_values_json_cannot_carry_are_not_cached(dirs, monkeypatch):
    wl, st = dirs
    (wl / "feeds.yaml").write_text("feeds:\n  - {name: A, url: 'https://a.example/rss'}\n"
                                   "note: !!binary aGVsbG8=\n", encoding="utf-8")
    with pytest.raises(ConfigError):             # a foreign tag: refused, and never cached
        load_config(wl, cache_dir=st)
    assert C._plain({"a": [1, 2.5, True, None, "x"]}) == {"a": [1, 2.5, True, None, "x"]}
    import datetime
    assert C._plain({"when": datetime.date(2026, 1, 3)}) is C._NOT_PLAIN
    assert C._plain({"x": float("nan")}) is C._NOT_PLAIN


def test_no_cache_without_an_existing_state_folder(tmp_path, dirs):
    wl, _ = dirs
    load_config(wl, cache_dir=tmp_path / "missing")
    assert not (tmp_path / "missing").exists()


def test_the_first_poll_once_already_leaves_the_cache(tmp_path):
    """A cron `poll --once` pays the YAML parse once: the very first run writes the cache into
    the state folder it creates."""
    import os
    import subprocess
    import sys
    wl = tmp_path / "wl"
    wl.mkdir()
    (wl / "cuba.yaml").write_text(CUBA, encoding="utf-8")
    (wl / "feeds.yaml").write_text(f"feeds:\n  - {{name: gone, url: '{tmp_path}/none.xml'}}\n",
                                   encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOKUHO_", "TELEGRAM_"))}
    r = subprocess.run([str(Path(sys.executable).parent / "sokuho"), "poll", "--once", "--quiet",
                        "--watchlists", str(wl), "--state", str(tmp_path / "st")],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "gone" in r.stdout, r.stderr     # the one feed failed
    cache = tmp_path / "st" / "config-cache.json"
    assert cache.stat().st_mode & 0o777 == 0o600
    assert len(json.loads(cache.read_text())["files"]) == 2
