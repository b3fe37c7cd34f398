"""The CLI contract: command names and output shapes other tools rely on, and the README."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import COMMANDS, build_parser

try:
    from tests.feedserver import make_rss
except ImportError:  # pragma: no cover
    from feedserver import make_rss

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
WATCH = "name: cuba\naliases:\n  en: [Cuba, Havana]\n"


def sokuho(*args, cwd=None, env=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True,
                          text=True, cwd=cwd or ROOT, env=env, timeout=timeout)


@pytest.fixture
def wl(tmp_path):
    d = tmp_path / "wl"
    d.mkdir()
    (d / "cuba.yaml").write_text(WATCH, encoding="utf-8")
    return d


def test_every_command_is_registered_and_documented():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == set(COMMANDS)
    for name in COMMANDS:
        assert f"`sokuho {name}" in README, f"README does not document `sokuho {name}`"
        assert (sub.choices[name].description or "").strip(), f"`sokuho {name}` has no description"


def test_every_setting_is_documented():
    src = (ROOT / "bot/settings.py").read_text(encoding="utf-8")
    for var in sorted(set(re.findall(r'"((?:SOKUHO|TELEGRAM)_[A-Z_]+)"', src))):
        assert f"`{var}`" in README, f"README does not document {var}"


def test_match_prints_the_json_lines_contract(tmp_path, wl):
    rows = [{"title": "Havana blackout", "link": "https://n.example/a?utm_source=x", "guid": "g1"},
            {"title": "Sports", "link": "https://n.example/b", "guid": "g2"},
            {"title": "Havana blackout - Wire", "link": "https://n.example/a", "guid": "g3"}]
    f = tmp_path / "feed.xml"
    f.write_bytes(make_rss(rows))
    r = sokuho("match", "--watchlists", str(wl), str(f))
    assert r.returncode == 0, r.stderr
    out = [json.loads(line) for line in r.stdout.splitlines()]
    assert [o["id"] for o in out] == ["g1", "g2", "g3"]
    for o in out:
        assert set(o) == {"id", "feed", "title", "link", "watchlists", "duplicate_of", "why"}
        assert o["feed"] == str(f)
    assert out[0]["watchlists"] == ["cuba"] and out[0]["duplicate_of"] is None
    assert out[0]["why"][0] == {"watchlist": "cuba", "alias": "Havana", "field": "title",
                                "text": "Havana", "kind": "exact", "score": 100.0}
    assert out[1]["watchlists"] == [] and out[2]["duplicate_of"] == "g1"
    assert not (tmp_path / "state").exists()


def test_match_reads_urls_and_reports_unreadable_sources(tmp_path, wl):
    r = sokuho("match", "--watchlists", str(wl), str(tmp_path / "missing.xml"))
    assert r.returncode == 1 and "missing.xml" in r.stderr


def test_check_exit_codes_and_error_location(tmp_path, wl):
    assert sokuho("check", "--watchlists", str(wl)).returncode == 0
    (wl / "bad.yaml").write_text("name: bad\naliases:\n  en: [x]\nexclude: [y]\n", encoding="utf-8")
    r = sokuho("check", "--watchlists", str(wl))
    assert r.returncode == 1
    assert f"{wl}/bad.yaml:4:1: exclude: unknown key" in r.stderr


def test_explain(wl):
    (wl / "cuba.yaml").write_text(WATCH + "excludes: [Cuba Gooding]\n", encoding="utf-8")
    r = sokuho("explain", "--watchlists", str(wl), "cuba", "Cuba Gooding Jr. in town")
    assert r.returncode == 1 and r.stdout.startswith("cuba: no match")
    assert "inside exclude 'Cuba Gooding'" in r.stdout
    r = sokuho("explain", "--watchlists", str(wl), "cuba", "Havana's blackout")
    assert r.returncode == 0 and "alias 'Havana' in title" in r.stdout
    assert "      + alias found" in r.stdout                  # the evidence under each hit
    r = sokuho("explain", "--watchlists", str(wl), "cuba", "Tycoon Mark Havana speaks", "--summary",
               "It was dark in Cuba.")
    assert "ignored alias 'Havana' in title: 'Havana': another person's name: 'Mark Havana'" in r.stdout
    r = sokuho("explain", "--watchlists", str(wl), "nope", "x")
    assert r.returncode == 2 and "no watchlist named 'nope'" in r.stderr


def test_poll_once_summary_and_state(tmp_path, wl):
    f = tmp_path / "feed.xml"
    from datetime import datetime, timezone
    f.write_bytes(make_rss([{"title": "Havana talks", "link": "https://n.example/a", "guid": "g1",
                             "pubDate": datetime.now(timezone.utc)}]))   # undated: backlog
    (wl / "feeds.yaml").write_text(f"feeds:\n  - {{name: local, url: '{f}', lang: en}}\n"
                                   f"  - {{name: gone, url: '{tmp_path}/gone.xml'}}\n")
    r = sokuho("poll", "--once", "--watchlists", str(wl), "--state", str(tmp_path / "st"))
    assert r.returncode == 0, r.stderr
    assert "Havana talks" in r.stdout
    assert "cycle: 2 feeds: 1 ok, 0 not modified, 1 failed; 1 new items, 1 matched" in r.stdout
    assert "FAILED gone" in r.stdout and "gone.xml" in r.stderr
    assert (tmp_path / "st" / "sokuho.db").exists()
    r2 = sokuho("poll", "--once", "--watchlists", str(wl), "--state", str(tmp_path / "st"))
    assert "0 new items" in r2.stdout and "Havana talks" not in r2.stdout


def test_invalid_config_is_a_clear_error(tmp_path, wl):
    (wl / "cuba.yaml").write_text("name: cuba\naliases: [oops\n", encoding="utf-8")
    r = sokuho("poll", "--once", "--watchlists", str(wl), "--state", str(tmp_path / "st"))
    assert r.returncode == 2 and "cuba.yaml:" in r.stderr and "invalid YAML" in r.stderr


async def test_match_fetches_urls_in_the_order_given(feed_server, tmp_path, wl):
    import asyncio
    a = feed_server.route("/a.xml", body=make_rss([{"title": "Cuba first", "guid": "a1",
                                                     "link": "https://n.example/1"}]), delay=0.3)
    b = feed_server.route("/b.xml", body=make_rss([{"title": "Cuba first - Wire", "guid": "b1",
                                                     "link": "https://other.example/1"}]))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "match", "--watchlists", str(wl), a, b, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    rows = [json.loads(line) for line in out.decode().splitlines()]
    assert proc.returncode == 0, err
    assert [(r["id"], r["feed"], r["duplicate_of"]) for r in rows] == [("a1", a, None), ("b1", b, "a1")]


def test_explain_recent_tries_an_edited_watchlist_on_stored_items(tmp_path, wl):
    from datetime import datetime, timedelta, timezone
    now = datetime.now(timezone.utc)
    f = tmp_path / "feed.xml"
    f.write_bytes(make_rss([
        {"title": "Havana talks resume", "link": "https://n.example/a", "guid": "g1", "pubDate": now},
        {"title": "La Habana sin luz", "link": "https://n.example/b", "guid": "g2", "pubDate": now},
        {"title": "Old Havana story", "link": "https://n.example/c", "guid": "g3",
         "pubDate": now - timedelta(days=20)}]))
    (wl / "feeds.yaml").write_text(f"feeds:\n  - {{name: local, url: '{f}', lang: es}}\n")
    st = tmp_path / "st"
    assert sokuho("poll", "--once", "--quiet", "--watchlists", str(wl), "--state", str(st)).returncode == 0
    (wl / "cuba.yaml").write_text("name: cuba\naliases:\n  en: [Cuba, Havana]\n  es: [La Habana]\n")
    r = sokuho("explain", "--recent", "cuba", "--days", "3", "--watchlists", str(wl), "--state", str(st))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert any(l.startswith("+") and "La Habana sin luz" in l for l in lines)   # newly matched
    assert any(l.startswith(" ") and "Havana talks resume" in l for l in lines)  # matched before
    assert not any("Old Havana story" in l for l in lines)                      # outside 3 days
    assert "would match 2 stored items" in lines[-1] and "(1 not matched before" in lines[-1]


def test_offline_demo_shows_matches_negatives_and_duplicates(tmp_path):
    import os
    env = dict(os.environ, SOKUHO_MAX_AGE="0")
    r = sokuho("poll", "--once", "--feeds", "examples/offline/feeds.yaml", "--state",
               str(tmp_path / "st"), env=env)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for title in ("Sheinbaun says talks", "Venezuala: la oposición", "Groenlandia aprueba una nueva ley de minería",
                  "キューバで全国規模の停電", "シェインバーム大統領"):
        assert title in out, title
    for negative in ("Mark Cuban", "Plátano maduro", "キューブ型", "マリリン・モンロー", "incubadora"):
        assert negative not in out, negative
    assert "3 feeds: 3 ok" in out and "1 duplicates" in out


def test_match_and_explain_say_which_story_a_report_joined_and_why(tmp_path, wl):
    from datetime import datetime, timedelta, timezone
    now = datetime.now(timezone.utc) - timedelta(hours=4)
    one = [{"title": "Havana frees 553 prisoners after talks with the Vatican", "guid": "a1",
            "link": "https://one.example/a1", "pubDate": now,
            "description": "Cuba's government released 553 prisoners in a deal brokered by the "
                           "Vatican, officials in Havana said."}]
    two = [{"title": "Cuba releases hundreds of detainees in Vatican-brokered deal", "guid": "b1",
            "link": "https://two.example/b1", "pubDate": now + timedelta(hours=2),
            "description": "Authorities in Havana freed 553 prisoners under an agreement brokered "
                           "by the Vatican."}]
    (tmp_path / "one.xml").write_bytes(make_rss(one, language="en"))
    (tmp_path / "two.xml").write_bytes(make_rss(two, language="en"))
    r = sokuho("match", "--watchlists", str(wl), str(tmp_path / "one.xml"), str(tmp_path / "two.xml"))
    assert r.returncode == 0, r.stderr
    out = [json.loads(line) for line in r.stdout.splitlines()]
    assert [o["duplicate_of"] for o in out] == [None, "a1"]
    assert set(out[1]) == {"id", "feed", "title", "link", "watchlists", "duplicate_of", "why"}
    assert out[1]["why"][0]["watchlist"] == "cuba"              # the hits come first, unchanged
    story = out[1]["why"][-1]
    assert story["kind"] == "story" and story["duplicate_of"] == "a1"
    assert any("553" in line for line in story["evidence"])
    assert all(w.get("kind") != "story" for w in out[0]["why"])

    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - url: {tmp_path / 'one.xml'}\n    name: One\n"
                     f"  - url: {tmp_path / 'two.xml'}\n    name: Two\n", encoding="utf-8")
    common = ["--watchlists", str(wl), "--feeds", str(feeds), "--state", str(tmp_path / "state")]
    r = sokuho("poll", "--once", *common)
    assert r.returncode == 0, r.stderr
    # the feeds are polled concurrently: either report may be the story's first
    ra, rb = (sokuho("explain", "--item", g, *common) for g in ("a1", "b1"))
    assert ra.returncode == 0 and rb.returncode == 0, ra.stderr + rb.stderr
    first, later = (ra, rb) if "first report of its story" in ra.stdout else (rb, ra)
    assert "first report of its story" in first.stdout and "also in: " in first.stdout
    assert "folded into the story of '" in later.stdout and "shared figures: 553" in later.stdout
    assert sokuho("explain", "--item", "zz", *common).returncode == 1


def test_a_command_process_freezes_what_it_built_before_exiting(tmp_path, wl):
    """`sokuho ...` (main() reading the process's own argv) freezes what is left in memory out of
    the cyclic GC before the interpreter exits, so exit does not walk the duplicate index; the
    output, the exit code and the atexit handlers are as before."""
    f = tmp_path / "feed.xml"
    f.write_bytes(make_rss([{"title": "Havana blackout", "link": "https://n.example/a",
                             "guid": "g1"}]))
    probe = ("import atexit, gc, sys\n"
             "atexit.register(lambda: print('frozen', gc.get_freeze_count(), file=sys.stderr))\n"
             "atexit.register(lambda: print('gc on', gc.isenabled(), file=sys.stderr))\n"
             "from bot.cli import main\n"
             "sys.argv = ['sokuho'] + sys.argv[1:]\n"
             "sys.exit(main())\n")
    r = subprocess.run([sys.executable, "-c", probe, "match", "--watchlists", str(wl), str(f)],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 0, r.stderr
    assert [json.loads(line)["watchlists"] for line in r.stdout.splitlines()] == [["cuba"]]
    frozen = re.search(r"^frozen (\d+)$", r.stderr, re.M)
    assert frozen and int(frozen.group(1)) > 10_000, r.stderr     # the modules, the matcher, ...
    assert re.search(r"^gc on False$", r.stderr, re.M), r.stderr     # a one-shot command: off
    # a command outside ONE_SHOT keeps the cyclic GC on while it runs
    r = subprocess.run([sys.executable, "-c", probe, "check", "--watchlists", str(wl)],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 0 and re.search(r"^gc on True$", r.stderr, re.M), r.stderr


def test_main_given_argv_leaves_the_callers_gc_alone(monkeypatch):
    import gc

    import bot.cli
    seen = []
    monkeypatch.setattr(bot.cli, "_main", lambda argv, own_process: seen.append(own_process) or 3)
    before = gc.get_freeze_count()
    try:
        assert bot.cli.main(["match", "x.xml"]) == 3
        assert gc.get_freeze_count() == before
        assert bot.cli.main() == 3
        assert gc.get_freeze_count() > before
        assert seen == [False, True]        # only its own process runs a command with GC off
    finally:
        gc.unfreeze()


def test_a_one_shot_command_run_in_process_keeps_the_gc_on(monkeypatch, tmp_path, wl, capsys):
    import gc

    import bot.cli
    monkeypatch.setattr(bot.cli, "setup_logging", lambda settings: None)
    f = tmp_path / "feed.xml"
    f.write_bytes(make_rss([{"title": "Havana blackout", "link": "https://n.example/a",
                             "guid": "g1"}]))
    threshold = gc.get_threshold()
    try:
        assert bot.cli.main(["match", "--watchlists", str(wl), str(f)]) == 0
        assert gc.isenabled()
    finally:
        gc.enable()
        gc.set_threshold(*threshold)
    assert json.loads(capsys.readouterr().out)["id"] == "g1"
