"""The C-parser fast path of config loading (bot/adapters/config.py, `_read_fast`): on a parse-cache
miss, ruamel.yaml.clib's safe loader reads the file; whatever it accepts must give exactly the
Config the round-trip parser gives, and whatever it cannot vouch for goes to the round-trip path,
so every error still names file:line:column."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.adapters import config as C
from bot.adapters.config import ConfigError, load_config
from bot.core.watchlist import FeedList, Watchlist

ROOT = Path(__file__).resolve().parent.parent


def _rt_data(text: str):
    """The round-trip parser's plain data, or an exception instance."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")           # ruamel's YAML 1.1 float notices
            return C._plain(C._yaml().load(text))
    except Exception as e:          # noqa: BLE001 - any parse error counts as "rejected"
        return e


def outcome(model, text: str, *, fast: bool, monkeypatch=None):
    """(object, [problem strings]) of one file, by the fast path or by the round-trip path only."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "f.yaml"
        path.write_text(text, encoding="utf-8")
        saved = C._read_fast
        if not fast:
            C._read_fast = lambda _text: C._NOT_PLAIN
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")       # ruamel's notices on odd generated YAML
                obj, probs = C._load(model, path, None)
        finally:
            C._read_fast = saved
        return obj, [str(p).replace(str(path), "F") for p in probs]


def _model_for(text: str):
    return FeedList if "feeds:" in text.split("\n", 1)[0] or text.lstrip().startswith(
        ("feeds:", "defaults:")) else Watchlist


# --- the shipped files and the test fixtures ---------------------------------------------------

SHIPPED = sorted((ROOT / "watchlists").glob("*.yaml")) + [ROOT / "examples/offline/feeds.yaml"]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_files_take_the_fast_path_and_give_the_same_object(path):
    text = path.read_text(encoding="utf-8")
    model = FeedList if path.name == "feeds.yaml" else Watchlist
    assert C._read_fast(text) is not C._NOT_PLAIN, "the C parser did not vouch for a shipped file"
    fast, rt = outcome(model, text, fast=True), outcome(model, text, fast=False)
    assert fast == rt and fast[0] is not None


def test_load_config_of_the_shipped_watchlists_is_the_same_either_way(monkeypatch):
    calls = []
    real = C._read
    monkeypatch.setattr(C, "_read", lambda p, *a: calls.append(p) or real(p, *a))
    fast = load_config(ROOT / "watchlists")
    assert calls == []                      # no round-trip parse at all
    monkeypatch.setattr(C, "_read_fast", lambda _t: C._NOT_PLAIN)
    rt = load_config(ROOT / "watchlists")
    assert calls and fast == rt


def _fixture_texts() -> list[str]:
    """Every YAML text written by the config tests (string constants that parse to a mapping)."""
    out = []
    for name in ("test_config.py", "test_config_cache.py", "test_hostile_config.py",
                 "test_yamledit.py", "test_cli.py", "conftest.py"):
        tree = ast.parse((ROOT / "tests" / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and "\n" in node.value and ":" in node.value:
                out.append(node.value)
    return sorted(set(out))


FIXTURES = _fixture_texts()


def test_the_fixture_collection_is_not_empty():
    assert len(FIXTURES) >= 10


@pytest.mark.parametrize("text", FIXTURES, ids=range(len(FIXTURES)))
@pytest.mark.parametrize("model", [Watchlist, FeedList], ids=["watchlist", "feeds"])
def test_test_fixtures_give_the_same_object_or_the_same_errors(text, model):
    assert outcome(model, text, fast=True) == outcome(model, text, fast=False)


# --- YAML 1.2 semantics, generated ---------------------------------------------------------------

SCALARS = [
    "yes", "no", "on", "off", "y", "n", "Yes", "NO", "true", "True", "FALSE", "null", "~", "Null",
    "", "''", '""', "0o17", "017", "0x1F", "0b101", "1_000", "+12", "-0", "1e3", "1E3", "1.5e-3",
    ".5", "6.", ".inf", "-.Inf", ".nan", "2026-01-03", "2026-01-03T10:00:00Z",
    "2026-01-03 10:00:00 +09:00", "12:30:45", "1:30", "190:20:30", "0.", "1.0", "3.14159",
    "'quoted: yes'", '"dq \\u00e9 \\t"', "キューバ", "Sí señor", "a:b", "a #x", "'#'", "x # comment",
    "https://a.example/rss?q=1&b=2", "90s", "5m", "1h", "en", "ja", "es", "|\n    lit\n    two",
    ">-\n    folded\n    line", "'it''s'", "@reserved", "`tick", "%pct", "!!str 12", "!!int '7'",
    "!!float 1", "!!bool yes", "!!binary aGk=", "!!set {a}", "!custom x", "&an anchored", "*missing",
    "- item", "{a: 1}", "[1, 2]", "? k", "a: b: c", "'unterminated", "\t tab",
]

scalar = st.one_of(st.sampled_from(SCALARS),
                   st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)),
                           max_size=12))


def _doc(keys_values, style: int, anchor: bool, merge: bool) -> str:
    lines = []
    for i, v in enumerate(keys_values):
        v = v.replace("\n", "\n" if style == 0 else " ")
        if style == 0:
            lines.append(f"k{i}: {v}")
        elif style == 1:
            lines.append(f"- {v}")
        else:
            lines.append(f"k{i}: [{v}, x]")
    if style == 1:
        lines = ["s:"] + ["  " + line.replace("\n", "\n  ") for line in lines]
    if anchor:
        lines += ["base: &b {k: 1, j: v}", "ref: *b", "refs: [*b, *b]"]
    if merge:
        lines += ["m:", "  <<: *b" if anchor else "  <<: {k: 2}", "  k: 3"]
    return "\n".join(lines) + "\n"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(scalar, min_size=1, max_size=6), st.integers(0, 2), st.booleans(), st.booleans(),
       st.booleans())
def test_fast_data_equals_round_trip_data_and_never_accepts_what_it_rejects(
        values, style, anchor, merge, directive):
    text = _doc(values, style, anchor, merge)
    if directive:
        text = "%YAML 1.1\n---\n" + text
    fast, rt = C._read_fast(text), _rt_data(text)
    if fast is C._NOT_PLAIN:
        return                                       # the round-trip path decides: same by design
    assert not isinstance(rt, Exception), f"fast path accepted what round trip rejects: {rt}"
    assert json.dumps(fast) == json.dumps(rt)          # key order too


FEED_FIELDS = ["name", "url", "lang", "interval", "enabled"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.fixed_dictionaries({f: scalar for f in FEED_FIELDS}), min_size=1, max_size=3),
       st.sampled_from(["5m", "90", "1e3", "0o17", "yes", "", "2026-01-03", "1.5"]),
       st.booleans())
def test_generated_feed_lists_give_the_same_feeds_or_the_same_errors(feeds, default, flow):
    lines = [f"defaults: {{interval: {default}}}" if flow else f"defaults:\n  interval: {default}",
             "feeds:"]
    for f in feeds:
        if flow:
            lines.append("  - {" + ", ".join(f"{k}: {v.replace(chr(10), ' ')}"
                                            for k, v in f.items()) + "}")
        else:
            lines.append("  - " + "\n    ".join(f"{k}: {v.replace(chr(10), ' ')}"
                                              for k, v in f.items()))
    text = "\n".join(lines) + "\n"
    assert outcome(FeedList, text, fast=True) == outcome(FeedList, text, fast=False)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(scalar, min_size=1, max_size=4), scalar, scalar, st.booleans())
def test_generated_watchlists_give_the_same_watchlist_or_the_same_errors(aliases, title, urgent,
                                                                         anchor):
    al = "\n".join(f"    - {a.replace(chr(10), ' ')}" for a in aliases)
    text = (f"name: gen\ntitle: {{en: {title.replace(chr(10), ' ')}}}\n"
            f"urgent: {urgent.replace(chr(10), ' ')}\naliases:\n  en:{' &al' if anchor else ''}\n"
            f"{al}\n" + ("  es: *al\n" if anchor else ""))
    assert outcome(Watchlist, text, fast=True) == outcome(Watchlist, text, fast=False)


# --- what the fast path leaves to the round-trip parser -------------------------------------------

@pytest.mark.parametrize("text,why", [
    ("%YAML 1.1\n---\nname: x\naliases: {en: [Cuba]}\n", "a directive switches YAML rules"),
    ("b: &b {en: [Cuba]}\nname: x\naliases:\n  <<: *b\n", "merge keys order keys differently"),
    ("name: x\nname: y\naliases: {en: [Cuba]}\n", "duplicate key"),
    ("name: !!binary eA==\naliases: {en: [Cuba]}\n", "foreign tag"),
    ("name: x\nwhen: 2026-01-03\naliases: {en: [Cuba]}\n", "a date is not plain data"),
    ("name: x\naliases: {en: [Cuba]}\ncolour: red\n", "validation error"),
    ("name: x\naliases: {en: [Cuba]\n", "parse error"),
])
def test_unusual_files_go_to_the_round_trip_path_with_the_same_result(text, why):
    assert outcome(Watchlist, text, fast=True) == outcome(Watchlist, text, fast=False), why


def test_errors_still_name_file_line_and_column(tmp_path):
    (tmp_path / "w.yaml").write_text("name: w\naliases:\n  en: [Cuba]\n  fr:\n    - {txt: x}\n",
                                     encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path)
    assert f"{tmp_path / 'w.yaml'}:5:" in str(e.value) and "aliases.fr[0]" in str(e.value)


def test_without_the_c_parser_the_pure_path_gives_the_same_config(monkeypatch):
    import ruamel.yaml.main
    fast = load_config(ROOT / "watchlists")
    monkeypatch.setattr(ruamel.yaml.main, "CParser", None)
    assert C._c_yaml() is None and C._read_fast("a: 1\n") is C._NOT_PLAIN
    assert load_config(ROOT / "watchlists") == fast


def test_a_fast_parse_fills_the_parse_cache(tmp_path, monkeypatch):
    st_dir = tmp_path / "state"
    st_dir.mkdir()
    first = load_config(ROOT / "watchlists", cache_dir=st_dir)
    monkeypatch.setattr(C, "_read_fast", lambda _t: pytest.fail("parsed again"))
    monkeypatch.setattr(C, "_read", lambda *_a: pytest.fail("parsed again"))
    assert load_config(ROOT / "watchlists", cache_dir=st_dir) == first


@pytest.mark.parametrize("text", [
    "a: " + "[" * 100000 + "]" * 100000 + "\n",                 # deeper than the C stack holds
    "a: " + "- " * 60000 + "x\n",
    "name: b\na0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i-1}'] * 9)}]\n" for i in range(1, 9)),  # billion laughs
    "name: r\naliases: &r {en: [Cuba], x: *r}\n",              # a recursive alias
])
def test_hostile_nesting_neither_crashes_nor_hangs_the_fast_path(text, tmp_path):
    # in a subprocess: a C stack overflow would kill the interpreter, not raise
    (tmp_path / "h.yaml").write_text(text, encoding="utf-8")
    code = ("import sys; from bot.adapters import config as C\n"
            "t = open(sys.argv[1], encoding='utf-8').read()\n"
            "print('fallback' if C._read_fast(t) is C._NOT_PLAIN else 'fast')\n")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "h.yaml")], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-500:]
    assert r.stdout.strip() == "fallback"
