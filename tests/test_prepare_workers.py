"""Normalising and matching where feeds are parsed (parser worker processes), the duplicate check
in the main process: same results as one process, a reload reaches the workers, dead workers are
replaced, and `sokuho match` keeps its output order with several files."""
from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.adapters.parse import ParserPool, parse_feed
from bot.app import App
from bot.commands.match import dup_why
from bot.core.dedup import Deduper
from bot.core.matcher import Matcher
from bot.core.process import Preparer, Processor, prepare
from bot.core.watchlist import Watchlist
from bot.settings import Settings

try:
    from tests.feedserver import make_rss
except ImportError:  # pragma: no cover
    from feedserver import make_rss

ROOT = Path(__file__).resolve().parent.parent
CUBA = Watchlist.model_validate({"name": "cuba", "aliases": {"en": ["Cuba", "Havana"],
                                                             "ja": ["キューバ"]}})
GREENLAND = Watchlist.model_validate({"name": "greenland", "aliases": {"en": ["Greenland", "Nuuk"]}})
ROWS = [{"title": "Havana blackout leaves millions in the dark", "guid": "h1"},
        {"title": "Nuuk airport opens a new runway", "guid": "n1"},
        {"title": "キューバで大規模停電", "guid": "k1"},
        {"title": "Markets rally after rate decision", "guid": "m1"}]
BODY = make_rss(ROWS, language="en")


def hit_names(res):
    return [[h.watchlist for h in p.hits] for p in res.prepared]


@pytest.mark.timeout(120)
async def test_workers_match_as_one_process_would_and_a_reload_reaches_them():
    one = Preparer(Matcher([CUBA]))
    pool = ParserPool("process", workers=2)
    try:
        res = await pool.parse(BODY, feed_name="f", preparer=one)
        assert res.prepared_by == one.version and len(res.prepared) == len(res.entries) == 4
        here = [prepare(e, one.matcher) for e in res.entries]                   # as in-process
        assert [(p.lang, p.hits) for p in res.prepared] == [(p.lang, p.hits) for p in here]
        assert [(p.dedup.url, p.dedup.sig.key, p.dedup.sig.title) for p in res.prepared] == \
            [(p.dedup.url, p.dedup.sig.key, p.dedup.sig.title) for p in here]
        assert hit_names(res) == [["cuba"], [], ["cuba"], []]
        assert res.prepared[2].lang == "ja"                    # detected in the worker
        # both workers busy, then the watchlists change (what App.reload does)
        await asyncio.gather(*(pool.parse(BODY, feed_name=f"w{i}", preparer=one)
                               for i in range(6)))
        pids = {w.proc.pid for w in pool._all}
        two = Preparer(Matcher([GREENLAND]))
        results = await asyncio.gather(*(pool.parse(BODY, feed_name=f"r{i}", preparer=two)
                                         for i in range(6)))
        for r in results:
            assert r.prepared_by == two.version
            assert hit_names(r) == [[], ["greenland"], [], []]
        assert {w.proc.pid for w in pool._all} == pids        # the same processes, reloaded
        plain = await pool.parse(BODY, feed_name="p")          # no preparer: parse only
        assert plain.prepared is None and len(plain.entries) == 4
    finally:
        pool.close()


@pytest.mark.timeout(120)
async def test_a_dead_worker_is_replaced_and_the_new_one_gets_the_watchlists():
    one = Preparer(Matcher([CUBA]))
    pool = ParserPool("process", workers=1)
    try:
        await pool.parse(BODY, feed_name="warm", preparer=one)
        [w] = pool._all
        w.proc.kill()
        w.proc.join(10)
        died = await pool.parse(BODY, feed_name="x", preparer=one)
        assert died.failed and died.extra.get("died")
        again = await pool.parse(BODY, feed_name="y", preparer=one)
        assert not again.failed and again.prepared_by == one.version
        assert hit_names(again) == [["cuba"], [], ["cuba"], []]
        [w2] = pool._all
        assert w2 is not w and w2.version == one.version
    finally:
        pool.close()


@pytest.mark.timeout(120)
async def test_answers_are_unpickled_on_the_loop_thread_and_a_garbled_one_fails_its_feed_only(
        monkeypatch):
    """A worker's answer travels pickled to the event loop's thread (a feeder thread unpickling
    it would take the GIL from the loop for every feed); an answer that cannot be unpickled
    fails that feed, and the pool goes on with the next one."""
    import threading

    import bot.adapters.parse_pool as parse_mod
    one = Preparer(Matcher([CUBA]))
    pool = ParserPool("process", workers=1)
    where: list[str] = []
    real = parse_mod.pickle.loads

    class Pickle:                       # bot.adapters.parse_pool's view of the pickle module
        @staticmethod
        def loads(data):
            where.append(threading.current_thread().name)
            return real(data)
    monkeypatch.setattr(parse_mod, "pickle", Pickle)
    try:
        res = await pool.parse(BODY, feed_name="f", preparer=one)
        assert not res.failed and hit_names(res) == [["cuba"], [], ["cuba"], []]
        assert where == [threading.current_thread().name]
        [w] = pool._all
        call = w.call
        monkeypatch.setattr(w, "call", lambda *a: call(*a)[:-40])     # cut short on the way
        bad = await pool.parse(BODY, feed_name="g", preparer=one)
        assert bad.failed and bad.entries == [] and "unreadable" in bad.bozo
        monkeypatch.setattr(w, "call", call)
        again = await pool.parse(BODY, feed_name="h", preparer=one)
        assert not again.failed and hit_names(again) == [["cuba"], [], ["cuba"], []]
        assert pool._all == {w}
    finally:
        pool.close()


@pytest.mark.parametrize("kind", ["thread", "inline"])
async def test_thread_and_inline_pools_prepare_too(kind):
    one = Preparer(Matcher([CUBA]))
    pool = ParserPool(kind, workers=2)
    try:
        res = await pool.parse(BODY, feed_name="f", preparer=one)
    finally:
        pool.close()
    assert res.prepared_by == one.version and hit_names(res) == [["cuba"], [], ["cuba"], []]


async def open_app(feed_server, tmp_path, rows, parser_kind):
    """An App polling one feed of `rows`, watching cuba (Havana) only."""
    url = feed_server.route("/a.xml", body=make_rss(rows, language="en"))
    wl = tmp_path / "wl"
    wl.mkdir()
    (wl / "cuba.yaml").write_text("name: cuba\naliases:\n  en: [Havana]\n", encoding="utf-8")
    (wl / "feeds.yaml").write_text(f"feeds:\n  - {{name: a, url: '{url}'}}\n", encoding="utf-8")
    return wl, await App.open(Settings(watchlists=wl, state=tmp_path / "st",
                                       allow_private_networks=True), parser_kind=parser_kind)


@pytest.mark.timeout(120)
async def test_app_reload_changes_what_the_worker_processes_match(feed_server, tmp_path):
    now = datetime.now(timezone.utc)
    rows = [{"title": "Havana blackout", "guid": "a1", "link": "https://a.example/1",
             "pubDate": now - timedelta(minutes=5)},
            {"title": "Nuuk votes on mining law", "guid": "a2", "link": "https://a.example/2",
             "pubDate": now - timedelta(minutes=4)}]
    wl, app = await open_app(feed_server, tmp_path, rows, "process")
    try:
        seen = []
        real = app.parsers.parse

        async def spy(body, **kw):
            r = await real(body, **kw)
            seen.append(r.prepared_by)
            return r
        app.parsers.parse = spy
        await app.pipeline.poll_many(app.store.feeds())
        assert app.store.item("a1").watchlists == ["cuba"] and app.store.item("a2").watchlists == []
        (wl / "greenland.yaml").write_text("name: greenland\naliases:\n  en: [Nuuk]\n",
                                           encoding="utf-8")
        app.reload()
        rows.append({"title": "Nuuk and Havana sign a fisheries deal", "guid": "a3",
                     "link": "https://a.example/3", "pubDate": now - timedelta(minutes=1)})
        feed_server.route("/a.xml", body=make_rss(rows, language="en"))
        await app.pipeline.poll_many(app.store.feeds())
        assert app.store.item("a3").watchlists == ["cuba", "greenland"]
        # both polls were prepared in the worker processes, the second with the new watchlists
        assert seen == [seen[0], app.processor.preparer.version] and seen[0] != seen[1]
    finally:
        await app.close()


def test_match_with_several_files_keeps_the_documented_order(tmp_path):
    (tmp_path / "wl").mkdir()
    (tmp_path / "wl" / "cuba.yaml").write_text("name: cuba\naliases:\n  en: [Cuba, Havana]\n",
                                               encoding="utf-8")
    t0 = datetime(2026, 1, 3, 6, tzinfo=timezone.utc)
    files = []
    # the first file is big (its worker finishes last), later ones repeat its stories
    rng = random.Random(9)
    vocab = [f"{a}{b}{c}" for a in "bdfgklmnprst" for b in "aeiou" for c in "nrsltm"]

    def words(n):
        return " ".join(rng.choice(vocab) for _ in range(n))
    # distinct headlines (one duplicate verdict each, whatever the hash seed)
    big = [{"title": f"Havana {words(6)}" if i % 3 == 0 else words(7).capitalize(),
            "guid": f"big{i}", "link": f"https://big.example/{i}",
            "pubDate": t0 + timedelta(minutes=i), "description": words(30)} for i in range(400)]
    files.append(("big.xml", big))
    for k in range(4):
        files.append((f"small{k}.xml", [
            {"title": big[k]["title"], "guid": f"s{k}-copy",
             "link": f"https://big.example/{k}", "pubDate": t0 + timedelta(hours=1)},
            {"title": f"Cuba {words(6)}", "guid": f"s{k}-own",
             "link": f"https://small{k}.example/own", "pubDate": t0 + timedelta(hours=1)}]))
    paths = []
    for name, rows in files:
        (tmp_path / name).write_bytes(make_rss(rows, language="en"))
        paths.append(str(tmp_path / name))
    r = subprocess.run([sys.executable, "-m", "bot.cli", "match", "--watchlists",
                        str(tmp_path / "wl"), *paths], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    # what one process computes, source after source, entry after entry
    from bot.adapters.config import load_config
    processor = Processor(Matcher(load_config(tmp_path / "wl").watchlists), Deduper(48 * 3600))
    expected = []
    for src in paths:
        for entry in parse_feed(Path(src).read_bytes(), feed_name=src, base_url=src).entries:
            p = processor.process(entry)
            expected.append(json.dumps({
                "id": entry.id, "feed": src, "title": entry.title, "link": entry.link,
                "watchlists": p.watchlists, "duplicate_of": p.dup.duplicate_of,
                "why": [h.as_dict() for h in p.hits] + dup_why(p.dup)}, ensure_ascii=False))
    assert r.stdout.splitlines() == expected
    ids = [json.loads(line)["id"] for line in r.stdout.splitlines()]
    assert ids[:400] == [f"big{i}" for i in range(400)] and ids[400:402] == ["s0-copy", "s0-own"]
    assert json.loads(r.stdout.splitlines()[400])["duplicate_of"] == "big0"


class _Unloadable(Preparer):
    """Watchlists a worker cannot build a matcher from (the main process still can prepare)."""

    @property
    def watchlists(self):
        return [object()]


@pytest.mark.timeout(120)
async def test_a_worker_that_cannot_load_the_watchlists_parses_and_leaves_matching_to_main(caplog):
    bad = _Unloadable(Matcher([CUBA]))
    pool = ParserPool("process", workers=1)
    try:
        first = await pool.parse(BODY, feed_name="a", preparer=bad)
        again = await pool.parse(BODY, feed_name="b", preparer=bad)
        [w] = pool._all
    finally:
        pool.close()
    for r in (first, again):
        assert not r.failed and len(r.entries) == 4 and r.prepared is None
    assert w.refused == bad.version and w.version is None
    assert sum("could not load the watchlists" in m for m in caplog.messages) == 1   # asked once


async def test_a_reload_while_a_feed_is_parsed_is_applied_to_that_feed(feed_server, tmp_path):
    now = datetime.now(timezone.utc)
    rows = [{"title": "Nuuk votes on mining law", "guid": "n1", "link": "https://a.example/n1",
             "pubDate": now - timedelta(minutes=5)}]
    wl, app = await open_app(feed_server, tmp_path, rows, "inline")
    try:
        real = app.parsers.parse

        async def parse_then_reload(body, **kw):     # the watchlists change while it parses
            r = await real(body, **kw)
            (wl / "greenland.yaml").write_text("name: greenland\naliases:\n  en: [Nuuk]\n",
                                               encoding="utf-8")
            app.reload()
            return r
        app.parsers.parse = parse_then_reload
        await app.pipeline.poll_many(app.store.feeds())
        assert app.store.item("n1").watchlists == ["greenland"]     # decided with the new ones
    finally:
        await app.close()


@pytest.mark.parametrize("env,nice", [({}, 10), ({"SOKUHO_PARSER_NICE": "0"}, 0),
                                      ({"SOKUHO_PARSER_NICE": "3"}, 3)])
async def test_parser_workers_run_below_the_main_process_priority(env, nice, tmp_path):
    """The main process (dedup, store, delivery) goes first when the cores are contended, by
    SOKUHO_PARSER_NICE (default 10; 0 = the same priority)."""
    import os
    s = Settings.from_env({"SOKUHO_WATCHLISTS": str(tmp_path), "SOKUHO_STATE": str(tmp_path),
                           **env})
    assert s.parser_nice == nice
    pool = ParserPool("process", workers=1, nice=s.parser_nice)   # one: the one that parsed
    try:
        res = await pool.parse(BODY, feed_name="f")
        assert not res.failed
        [pid] = [w.proc.pid for w in pool._all]
        mine = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, pid) == min(19, mine + nice)
    finally:
        pool.close()


@pytest.mark.parametrize("value", ["-1", "20", "ten"])
def test_a_bad_parser_nice_is_a_clear_error(value, tmp_path):
    from bot.settings import SettingsError
    with pytest.raises(SettingsError, match="SOKUHO_PARSER_NICE"):
        Settings.from_env({"SOKUHO_WATCHLISTS": str(tmp_path), "SOKUHO_PARSER_NICE": value})


async def test_a_worker_told_to_stop_exits_at_once_without_the_interpreters_teardown(
        tmp_path, monkeypatch):
    """The parent waits for each worker when the pool closes (the end of every poll): a worker
    told to stop ends with os._exit, not by the interpreter's exit, which would first walk and
    free its matcher and modules. Seen here by an atexit handler that must not run, and the
    exit code, 0 as before."""
    import os
    site = tmp_path / "site"
    site.mkdir()
    marker = tmp_path / "finalized"
    (site / "sitecustomize.py").write_text(
        "import atexit\n"
        f"atexit.register(lambda: open({str(marker)!r}, 'w').write('teardown ran'))\n",
        encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    pool = ParserPool("process", workers=1)
    try:
        res = await pool.parse(BODY, feed_name="f")
        assert not res.failed and len(res.entries) == 4
        [w] = list(pool._all)
    finally:
        pool.close()
    assert w.proc._popen.returncode == 0
    assert not marker.exists()
    # the handler does run where the interpreter exits normally (the check above can fail)
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    assert marker.read_text(encoding="utf-8") == "teardown ran"
