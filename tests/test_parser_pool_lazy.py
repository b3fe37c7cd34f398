"""Parser workers cost nothing until a body needs them: the pool starts one for the first body and
grows with the backlog; a poll whose feeds all answer 304 starts none and builds no matcher; a new
state (every feed brings a body) starts them ahead; a worker imports neither pydantic, asyncio nor
multiprocessing, matching with plain copies of the watchlists that match as the models do. The
guarantees stay: a hostile first body is killed at its budget, a reload reaches workers started
later."""
from __future__ import annotations

import asyncio
import os
import pickle
import time
from pathlib import Path

import pytest

from bot.adapters.config import load_config
from bot.adapters.parse import parse_feed
from bot.adapters.parse_pool import ParserPool
from bot.app import App
from bot.core.matcher import Matcher
from bot.core.process import Preparer
from bot.core.watchlist import Watchlist
from bot.core.watchlist_plain import PlainWatchlist, plain
from bot.settings import Settings

try:
    from tests.feedserver import make_rss
except ImportError:  # pragma: no cover
    from feedserver import make_rss

ROOT = Path(__file__).resolve().parent.parent
CUBA = Watchlist.model_validate({"name": "cuba", "aliases": {"en": ["Cuba", "Havana"]}})
GREENLAND = Watchlist.model_validate({"name": "greenland", "aliases": {"en": ["Nuuk"]}})
BODY = make_rss([{"title": "Havana blackout", "guid": "h1"},
                 {"title": "Nuuk airport opens a runway", "guid": "n1"}], language="en")


def hit_names(res):
    return [[h.watchlist for h in p.hits] for p in res.prepared]


def _huge_feed() -> bytes:
    # 60,000 entries (3 MB): feedparser needs several seconds for them, far over a 1 s budget
    return make_rss([{"title": f"Item {i}", "guid": f"g{i}"} for i in range(60_000)])


async def _until(cond, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "condition not reached"
        await asyncio.sleep(0.02)


@pytest.mark.timeout(120)
async def test_the_pool_starts_a_worker_for_the_first_body_and_grows_with_the_backlog():
    pool = ParserPool("process", workers=2)
    try:
        await asyncio.sleep(0.2)
        assert pool.started == 0 and not pool._all            # nothing to parse: no process
        one = await pool.parse(BODY, feed_name="a")
        assert len(one.entries) == 2 and pool.started == 1 and len(pool._all) == 1
        for _ in range(3):                                     # one body at a time: one worker
            await pool.parse(BODY, feed_name="b")
        assert pool.started == 1
        many = await asyncio.gather(*(pool.parse(BODY, feed_name=f"c{i}") for i in range(8)))
        assert all(len(r.entries) == 2 for r in many)
        assert pool.started == 2 and len(pool._all) == 2       # bodies waited: a second one
        await asyncio.gather(*(pool.parse(BODY, feed_name=f"d{i}") for i in range(8)))
        assert pool.started == 2                                # never more than `workers`
    finally:
        pool.close()


@pytest.mark.timeout(120)
async def test_a_hostile_first_body_is_killed_at_its_budget_by_a_lazily_started_pool():
    pool = ParserPool("process", workers=2, budget=1.0)
    try:
        t0 = time.monotonic()
        res = await pool.parse(_huge_feed(), feed_name="big")
        assert res.failed and res.error_kind == "timeout_parse"
        assert time.monotonic() - t0 < 60
        assert pool.started == 1                               # one feeder, its worker killed
        ok = await pool.parse(BODY, feed_name="after")         # ... and replaced
        assert not ok.failed and len(ok.entries) == 2 and len(pool._all) == 1
    finally:
        pool.close()


@pytest.mark.timeout(120)
async def test_a_reload_reaches_workers_started_later_and_prestarted_ones():
    one, two = Preparer(Matcher([CUBA])), Preparer(Matcher([GREENLAND]))
    pool = ParserPool("process", workers=2)
    try:
        first = await pool.parse(BODY, feed_name="a", preparer=one)
        assert hit_names(first) == [["cuba"], []] and pool.started == 1
        # the watchlists change, then a backlog starts the second worker
        res = await asyncio.gather(*(pool.parse(BODY, feed_name=f"r{i}", preparer=two)
                                     for i in range(8)))
        assert pool.started == 2
        assert all(r.prepared_by == two.version and hit_names(r) == [[], ["greenland"]]
                   for r in res)
    finally:
        pool.close()
    pool = ParserPool("process", workers=2)
    try:
        pool.prestart(preparer=one)                    # ahead of need, watchlists loaded first
        await _until(lambda: len(pool._all) == 2
                     and all(w.version == one.version for w in list(pool._all)))
        assert pool.started == 2
        res = await asyncio.gather(*(pool.parse(BODY, feed_name=f"p{i}", preparer=two)
                                     for i in range(4)))
        assert all(r.prepared_by == two.version and hit_names(r) == [[], ["greenland"]]
                   for r in res)
    finally:
        pool.close()


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc (Linux)")
@pytest.mark.timeout(120)
async def test_a_worker_imports_neither_pydantic_asyncio_multiprocessing_nor_a_yaml_parser():
    """What a worker loads, not how long it takes: its compiled modules, read from /proc (the
    lexicon comes from its JSON copy)."""
    from ruamel.yaml import YAML
    YAML(typ="safe").load("a: 1")                              # the main process has them all
    pool = ParserPool("process", workers=1)
    try:
        res = await pool.parse(BODY, feed_name="a", preparer=Preparer(Matcher([CUBA])))
        assert hit_names(res) == [["cuba"], []]                # it did match
        [w] = pool._all
        maps = Path(f"/proc/{w.proc.pid}/maps").read_text()
        mine = Path("/proc/self/maps").read_text()
    finally:
        pool.close()
    for lib in ("_pydantic_core", "_asyncio", "_multiprocessing", "_ruamel_yaml"):
        assert lib in mine                                      # the main process has them
        assert lib not in maps, lib


# every field the matcher reads, set away from its default
EVERY_FIELD = Watchlist.model_validate({
    "name": "fields", "title": {"en": "Fields", "ja": "項目"}, "context": ["Greenland"],
    "excludes": ["Marilyn Monroe"],
    "aliases": {"en": [{"text": "Monroe", "context": ["doctrine"], "within": 30},
                       {"text": "Maduro", "case": "sensitive", "kind": "person"},
                       {"text": "Sheinbaum", "match": "exact"},
                       {"text": "Nuuk", "needs_context": True},
                       {"text": "Caracas", "match": "fuzzy", "kind": "place"}],
                "ja": [{"text": "グリーンランド", "unless": ["遊園地"]}]}})
FIELD_ITEMS = ["Monroe doctrine revived", "Monroe, the town, votes", "Marilyn Monroe film",
               "MADURO rally", "Maduro speaks", "Sheinbaums visit", "Sheinbaum visits",
               "Nuuk airport in Greenland", "Nuuk airport", "Caracass blackout",
               "グリーンランド遊園地が再開", "グリーンランドで選挙"]


def test_plain_watchlists_match_as_the_models_do():
    """The shipped watchlists and one setting every alias field, as models and as the plain
    copies workers get: the same hits, evidence and rejections on every item of the regression
    corpus and on items made for those fields."""
    from bot.core.model import Entry
    models = list(load_config(ROOT / "watchlists").watchlists.values()) + [EVERY_FIELD]
    copies = pickle.loads(pickle.dumps(plain(models)))        # as they travel to a worker
    assert all(isinstance(w, PlainWatchlist) for w in copies) and plain(copies) == copies
    assert [w.name for w in copies] == [w.name for w in models]
    for w, c in zip(models, copies):
        assert [(lang, a.model_dump()) for lang, a in w.all_aliases()] == \
            [(lang, a._asdict()) for lang, a in c.all_aliases()]
        assert [a.ambiguous for _, a in w.all_aliases()] == [a.ambiguous for _, a in c.all_aliases()]
        assert (w.context, w.excludes, w.label("ja")) == (c.context, c.excludes, c.label("ja"))
    a, b = Matcher(models), Matcher(copies)
    entries = [e for f in sorted((ROOT / "eval/regression/feeds").glob("*.xml"))
               for e in parse_feed(f.read_bytes(), feed_name=f.name).entries]
    entries += [Entry(f"x{i}", "f", t, "", "") for i, t in enumerate(FIELD_ITEMS)]
    assert len(entries) > 300
    hits = 0
    for e in entries:
        ta, tb = a.explain(e), b.explain(e)
        assert [(h.as_dict(), h.evidence) for h in ta.hits] == \
            [(h.as_dict(), h.evidence) for h in tb.hits]
        assert ta.rejected == tb.rejected
        assert a.match(e) == b.match(e)
        hits += len(ta.hits)
    assert hits > 50
    one, other = Matcher([EVERY_FIELD]), Matcher(plain([EVERY_FIELD]))
    fields = [[h.alias for h in one.match(Entry("x", "f", t, "", ""))] for t in FIELD_ITEMS]
    assert fields == [[h.alias for h in other.match(Entry("x", "f", t, "", ""))]
                      for t in FIELD_ITEMS]
    # the fields made a difference: context, needs_context, unless, exact, fuzzy
    assert fields[0] == ["Monroe"] and fields[1] == [] and fields[-2] == [] and \
        fields[-1] == ["グリーンランド"] and fields[7:9] == [["Nuuk"], []] and \
        fields[5:7] == [[], ["Sheinbaum"]] and fields[9] == ["Caracas"]


def _config(tmp_path, urls: dict[str, str]) -> Settings:
    wl = tmp_path / "wl"
    wl.mkdir(exist_ok=True)
    (wl / "cuba.yaml").write_text("name: cuba\naliases:\n  en: [Havana]\n", encoding="utf-8")
    (wl / "feeds.yaml").write_text(
        "feeds:\n" + "".join(f"  - {{name: {n}, url: '{u}', lang: en}}\n" for n, u in urls.items()),
        encoding="utf-8")
    return Settings(watchlists=wl, state=tmp_path / "st", allow_private_networks=True)


@pytest.mark.timeout(120)
async def test_a_poll_starts_workers_only_for_the_bodies_it_gets(feed_server, tmp_path):
    """A new state: every feed brings a body, the workers start at open. Then all answer 304:
    no worker, no matcher. Then one feed has news: one worker, and the main process still
    builds no matcher (the worker prepared every entry)."""
    rows = [{"title": "Havana blackout", "guid": "a1"}]
    urls = {n: feed_server.route(f"/{n}.xml", body=make_rss(rows if n == "a" else [
        {"title": f"{n} news", "guid": f"{n}1"}]), etag=f'"{n}1"') for n in ("a", "b", "c")}
    s = _config(tmp_path, urls)
    app = await App.open(s, parser_kind="process", command="poll")
    try:
        assert app.parsers.started == 2                 # before any request: the pool's size
        await app.pipeline.poll_many(app.store.feeds())
        assert app.store.item("a1").watchlists == ["cuba"]
    finally:
        await app.close()
    app = await App.open(s, parser_kind="process", command="poll")
    try:
        assert app.parsers.started == 0
        r = await app.pipeline.poll_many(app.store.feeds())
        assert r.count("not_modified") == 3
        assert app.parsers.started == 0 and (app.processor is None or not app.processor.preparer.built)
    finally:
        await app.close()
    rows.append({"title": "Havana talks", "guid": "a2"})
    feed_server.route("/a.xml", body=make_rss(rows), etag='"a2"')
    app = await App.open(s, parser_kind="process", command="poll")
    try:
        r = await app.pipeline.poll_many(app.store.feeds())
        assert (r.count("ok"), r.count("not_modified"), r.new_items) == (1, 2, 1)
        assert app.store.item("a2").watchlists == ["cuba"]
        assert app.parsers.started == 1 and not app.processor.preparer.built
    finally:
        await app.close()


@pytest.mark.timeout(120)
async def test_feeds_without_validators_prestart_one_worker_each_up_to_the_pool(feed_server,
                                                                               tmp_path):
    """A server without ETag/Last-Modified brings a body every time: its workers start at open,
    with the watchlists loaded, as many as such feeds (up to the pool's size)."""
    url = feed_server.route("/plain.xml", body=make_rss([{"title": "Havana", "guid": "p1"}]))
    s = _config(tmp_path, {"plain": url})
    s.state.mkdir()
    app = await App.open(s, parser_kind="process", command="poll")     # no database yet: all
    try:
        assert app.parsers.started == app.parsers.workers == (os.cpu_count() or 1)
        await app.pipeline.poll_many(app.store.feeds())
    finally:
        await app.close()
    app = await App.open(s, parser_kind="process", command="poll")
    try:
        assert app.parsers.started == 1               # one feed, no validator: one worker
        version = app.processor.preparer.version
        await _until(lambda: [w.version for w in list(app.parsers._all)] == [version])
    finally:
        await app.close()


@pytest.mark.timeout(120)
async def test_the_main_process_of_a_poll_loads_neither_feedparser_nor_the_matcher(feed_server,
                                                                                  tmp_path):
    """`sokuho poll --once` as a cron job runs it: the parser workers parse and match, so the
    main process imports neither feedparser nor the matcher, whether its feeds bring bodies or
    all answer 304 (what is loaded, not how long it takes)."""
    import sys
    url = feed_server.route("/a.xml", body=make_rss([{"title": "Havana blackout", "guid": "a1"}]),
                            etag='"a1"')
    s = _config(tmp_path, {"a": url})
    code = ("import sys\nfrom bot.cli import main\nrc = main(sys.argv[1:])\n"
            "print('LOADED', *[m for m in ('feedparser', 'bot.core.matcher', 'bot.core.phrases')"
            " if m in sys.modules])\nsys.exit(rc)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOKUHO_", "TELEGRAM_"))}

    async def poll() -> list[str]:
        p = await asyncio.create_subprocess_exec(
            sys.executable, "-c", code, "poll", "--once", "--watchlists", str(s.watchlists),
            "--state", str(s.state), "--allow-private-networks", cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await p.communicate()
        assert p.returncode == 0, err.decode()
        return out.decode().splitlines()
    first = await poll()
    assert any("1 ok" in line and "1 matched" in line for line in first), first
    assert "LOADED" in first
    again = await poll()
    assert any("1 not modified" in line for line in again), again
    assert "LOADED" in again
