"""Hostile or broken watchlists: clear file:line errors, never a traceback; `run` exits 2."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SOKUHO = Path(sys.executable).parent / "sokuho"

TAGGED = [
    ('name: evil\naliases:\n  en:\n    - Cuba\n    - !!python/object/apply:os.system ["touch {marker}"]\n', 5),
    ('name: evil\naliases:\n  en: [Cuba]\ncontext: !!python/object/apply:os.system ["touch {marker}"]\n', 4),
    ("name: evil\naliases: !!python/object/new:dict\n  en: [Cuba]\n", 2),
    ("name: evil\naliases:\n  en: [Cuba]\nexcludes: !custom x\n", 4),
    ("name: evil\naliases:\n  en: [Cuba]\nexcludes: !!binary aGVsbG8=\n", 4),
]


@pytest.mark.parametrize("text,line", TAGGED)
@pytest.mark.parametrize("cmd", [["check"], ["explain", "Cuba news"], ["run"]])
def test_unknown_yaml_tag_is_a_file_line_error(tmp_path, text, line, cmd):
    wl = tmp_path / "wl"
    wl.mkdir()
    marker = tmp_path / "pwned"
    (wl / "evil.yaml").write_text(text.format(marker=marker), encoding="utf-8")
    (wl / "feeds.yaml").write_text("feeds: []\n", encoding="utf-8")
    r = subprocess.run([str(SOKUHO), *cmd, "--watchlists", str(wl), "--state", str(tmp_path / "st")],
                       capture_output=True, text=True, timeout=60)
    assert "Traceback" not in r.stderr and "TypeError" not in r.stderr
    assert f"{wl / 'evil.yaml'}:{line}:" in r.stderr and "is not allowed" in r.stderr
    assert r.returncode == {"check": 1, "explain": 2, "run": 2}[cmd[0]], r.stderr
    assert not marker.exists()


def test_alias_bomb_is_walked_once(tmp_path):
    from bot.adapters.config import load_config
    lines = ["name: bomb", "a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}]"
              for i in range(1, 9)]
    lines += ["aliases:", "  en: [Cuba]"]
    (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\n")
    with pytest.raises(Exception) as ei:
        load_config(tmp_path)
    assert "bomb.yaml" in str(ei.value)


@pytest.mark.parametrize("alias,why", [("'(a+)+$'", "shorter than 2 letters"), ("A.", "shorter"),
                                       ("é", "shorter"), ("The", "stop words"),
                                       ("'de la'", "stop words"), ("'  -- Los --'", "stop words")])
def test_check_rejects_aliases_that_fold_to_one_letter_or_stop_words(tmp_path, alias, why):
    wl = tmp_path / "wl"
    wl.mkdir()
    (wl / "w.yaml").write_text(f"name: w\naliases:\n  en:\n    - Cuba\n    - {alias}\n")
    r = subprocess.run([str(SOKUHO), "check", "--watchlists", str(wl)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1 and f"{wl / 'w.yaml'}:5:7: aliases.en[1]" in r.stderr
    assert why in r.stderr


@pytest.mark.parametrize("alias", ["米", "中国", "キューバ", "EU", "Sí", "la Habana", "Ω Ω"])
def test_short_cjk_and_two_letter_aliases_stay_valid(alias):
    from bot.core.normalize import weak_alias
    assert weak_alias(alias) is None


def test_a_case_sensitive_alias_is_not_a_stop_word():
    from bot.core.watchlist import Alias
    assert Alias(text="US", case="sensitive").text == "US"
    with pytest.raises(ValueError):
        Alias(text="us")
