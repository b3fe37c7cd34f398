"""Fixed costs of a process: a command imports its own module only, and a config found in the
parse cache is read without importing the YAML parser. (What is imported, never how long.)"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _modules(code: str) -> set[str]:
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return set(r.stdout.split())


def test_a_command_imports_only_its_own_module():
    mods = _modules("import sys, contextlib, io\n"
                    "from bot.cli import main\n"
                    "with contextlib.redirect_stdout(io.StringIO()):\n"
                    "    try: main(['poll', '--help'])\n"
                    "    except SystemExit: pass\n"
                    "print(*[m for m in sys.modules if m.startswith('bot.commands.')])")
    assert mods == {"bot.commands.poll"}
    everything = _modules("import sys, contextlib, io\n"
                          "from bot.cli import main\n"
                          "with contextlib.redirect_stdout(io.StringIO()):\n"
                          "    try: main(['--help'])\n"
                          "    except SystemExit: pass\n"
                          "print(*[m for m in sys.modules if m.startswith('bot.commands.')])")
    assert {"bot.commands.poll", "bot.commands.status", "bot.commands.run"} <= everything


def test_a_cached_config_is_read_without_the_yaml_parser(tmp_path):
    wl, st = tmp_path / "wl", tmp_path / "st"
    wl.mkdir()
    st.mkdir()
    (wl / "cuba.yaml").write_text("name: cuba\naliases:\n  en: [Cuba]\n", encoding="utf-8")
    (wl / "feeds.yaml").write_text("feeds:\n  - {name: A, url: 'https://a.example/rss'}\n",
                                   encoding="utf-8")
    code = ("import sys\nfrom bot.adapters.config import load_config\n"
            f"c = load_config({str(wl)!r}, cache_dir={str(st)!r})\n"
            "print(len(c.feeds.feeds), any(m.startswith('ruamel') for m in sys.modules))")
    assert _modules(code) == {"1", "True"}          # parsed, and the cache written
    assert _modules(code) == {"1", "False"}         # from the cache
