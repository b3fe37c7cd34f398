"""The orchestrator against a local feed server: faults are logged per feed, stored, retried with
backoff; the cycle goes on for the other feeds; nothing stored is lost."""
from datetime import datetime, timedelta, timezone

import pytest

from bot.app import App
from bot.settings import Settings

try:
    from tests.feedserver import make_rss
except ImportError:  # pragma: no cover
    from feedserver import make_rss

WATCH = "name: cuba\naliases:\n  en: [Cuba, Havana]\n  ja: [キューバ]\n"


def items(*titles, prefix="g"):
    return [{"title": t, "link": f"https://news.example/{prefix}{i}", "guid": f"{prefix}{i}",
             "description": f"<p>{t} — details</p>",
             "pubDate": datetime.now(timezone.utc) - timedelta(minutes=30 - i)}
            for i, t in enumerate(titles)]


async def open_app(tmp_path, feeds: dict[str, str], published: list):
    wl = tmp_path / "wl"
    wl.mkdir(exist_ok=True)
    (wl / "cuba.yaml").write_text(WATCH, encoding="utf-8")
    lines = ["feeds:"] + [f"  - {{name: {n}, url: '{u}', lang: en}}" for n, u in feeds.items()]
    (wl / "feeds.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    s = Settings(watchlists=wl, state=tmp_path / "state", allow_private_networks=True)

    async def publish(its):
        published.extend(its)
    return await App.open(s, publish=publish, parser_kind="inline")


async def poll_all(app):
    return await app.pipeline.poll_many([f for f in app.store.feeds() if f.enabled])


async def test_one_cycle_stores_matches_and_publishes_only_new_matches(feed_server, tmp_path):
    good = feed_server.route("/a.xml", body=make_rss(items("Havana blackout", "Sports today")),
                             etag='"v1"')
    copy = feed_server.route("/b.xml", body=make_rss(items("Havana blackout - Wire", prefix="h")))
    pub = []
    app = await open_app(tmp_path, {"a": good, "b": copy}, pub)
    try:
        r = await poll_all(app)
        assert (r.count("ok"), r.new_items, r.matched, r.duplicates) == (2, 3, 1, 1)
        assert [p.entry.title for p in pub] == ["Havana blackout"] or \
            [p.entry.title for p in pub] == ["Havana blackout - Wire"]
        r2 = await poll_all(app)            # a: 304 via ETag; b: same items, all known
        assert r2.count("not_modified") == 1 and r2.new_items == 0 and len(pub) == 1
        assert feed_server.requests_for("/a.xml")[-1].header("If-None-Match") == '"v1"'
    finally:
        await app.close()


@pytest.mark.parametrize("route,kind", [
    (dict(status=500), "http_5xx"),
    (dict(status=404), "not_found"),
    (dict(status=429, headers={"Retry-After": "600"}), "ratelimited"),
    (dict(body=b"<html><body>Not a feed</body></html>", content_type="text/html"), "parse"),
    (dict(reset="before_headers"), "reset"),
])
async def test_faults_are_recorded_backed_off_and_do_not_stop_others(feed_server, tmp_path,
                                                                     caplog, route, kind):
    bad = feed_server.route("/bad.xml", **route)
    good = feed_server.route("/good.xml", body=make_rss(items("Cuba news")))
    app = await open_app(tmp_path, {"bad": bad, "good": good}, [])
    try:
        r = await poll_all(app)
        assert r.count("ok") == 1 and r.count("failed") == 1
        st = app.store.feed(bad)
        assert st.error_count == 1 and st.last_error_kind == kind and bad in st.last_error
        assert bad in caplog.text
        wait = (st.next_poll_at - datetime.now(timezone.utc)).total_seconds()
        assert wait > 25 and (kind != "ratelimited" or wait >= 590)
        await poll_all(app)
        assert app.store.feed(bad).error_count == 2
        assert app.store.counts()["items"] == 1          # nothing stored was lost
    finally:
        await app.close()


async def test_bozo_feed_with_entries_is_kept(feed_server, tmp_path, caplog):
    body = make_rss(items("Havana talks")).replace(b"</channel>", b"<broken></channel>")
    url = feed_server.route("/bozo.xml", body=body)
    pub = []
    app = await open_app(tmp_path, {"bozo": url}, pub)
    try:
        r = await poll_all(app)
        assert r.count("ok") == 1 and len(pub) == 1
    finally:
        await app.close()


async def test_duplicates_are_caught_across_restarts(feed_server, tmp_path):
    a = feed_server.route("/a.xml", body=make_rss(items("Trump says Cuba is about to fall")))
    pub = []
    app = await open_app(tmp_path, {"a": a}, pub)
    await poll_all(app)
    await app.close()
    feed_server.route("/b.xml", body=make_rss(items("Trump says Cuba is about to fall - Wire",
                                                    prefix="other")))
    app = await open_app(tmp_path, {"a": a, "b": feed_server.url("/b.xml")}, pub)
    try:
        r = await poll_all(app)
        assert r.duplicates == 1 and len(pub) == 1
        dup = app.store.item("other0")
        assert dup.duplicate_of == "g0"
        assert "b" in app.store.item("g0").also_in
    finally:
        await app.close()


async def test_start_up_reads_the_duplicate_window_only_when_an_item_needs_it(feed_server,
                                                                             tmp_path):
    """A restart (or `poll --once`) whose feeds bring nothing new never warms the duplicate
    index; the first new item warms it, and a copy of a stored item is still caught."""
    a = feed_server.route("/a.xml", body=make_rss(items("Trump says Cuba is about to fall")),
                          etag='"v1"')
    pub = []
    app = await open_app(tmp_path, {"a": a}, pub)
    await poll_all(app)
    await app.close()
    app = await open_app(tmp_path, {"a": a}, pub)
    depth = []
    warm_index = app.deduper._loader

    def loader():
        depth.append(app.store._depth)                # not inside the shared write section
        return warm_index()
    app.deduper.defer(loader)
    try:
        assert not app.deduper.loaded                 # App.open read no item
        r = await poll_all(app)                       # 304: nothing to decide
        assert r.count("not_modified") == 1 and not app.deduper.loaded
        feed_server.route("/a.xml", body=make_rss(
            items("Trump says Cuba is about to fall") +
            items("Trump says Cuba is about to fall - Wire", prefix="other")), etag='"v2"')
        r = await poll_all(app)
        assert app.deduper.loaded and r.new_items == 1 and r.duplicates == 1 and depth == [0]
        assert app.store.item("other0").duplicate_of == "g0" and len(pub) == 1
    finally:
        await app.close()


async def test_invalid_reload_keeps_last_good_config(feed_server, tmp_path):
    url = feed_server.route("/a.xml", body=make_rss(items("Havana")))
    app = await open_app(tmp_path, {"a": url}, [])
    try:
        (tmp_path / "wl" / "cuba.yaml").write_text(WATCH + "bogus: 1\n", encoding="utf-8")
        from bot.adapters.config import ConfigError
        with pytest.raises(ConfigError) as ei:
            app.reload()
        assert "cuba.yaml:5" in str(ei.value)
        assert "cuba" in app.config.watchlists           # still in force
        (tmp_path / "wl" / "cuba.yaml").write_text(WATCH.replace("Havana]", "Havana, Habana]"),
                                                  encoding="utf-8")
        assert any("aliases added: Habana" in c for c in app.reload())
    finally:
        await app.close()


async def test_old_items_are_stored_but_not_alerted(feed_server, tmp_path):
    now = datetime.now(timezone.utc)
    rows = [{"title": "Havana archive story", "guid": "old", "link": "https://n.example/old",
             "pubDate": now - timedelta(days=10)},
            {"title": "Havana fresh story", "guid": "new", "link": "https://n.example/new",
             "pubDate": now - timedelta(hours=1)},
            {"title": "Havana undated story", "guid": "nodate", "link": "https://n.example/nd"}]
    url = feed_server.route("/a.xml", body=make_rss(rows))
    pub = []
    app = await open_app(tmp_path, {"a": url}, pub)
    try:
        r = await poll_all(app)
        # an undated item of a feed's first poll is its back catalogue too: stored, not alerted
        assert sorted(p.entry.id for p in pub) == ["new"]
        assert r.old == 2 and "2 too old to alert" in r.summary()
        assert app.store.item("old").watchlists == ["cuba"]        # stored and matched
        assert app.store.item("nodate").watchlists == ["cuba"]
        rows.append({"title": "Power grid collapse leaves Havana dark", "guid": "nodate2",
                     "link": "https://n.example/nd2"})
        feed_server.route("/a.xml", body=make_rss(rows))
        await poll_all(app)                                         # the second poll: news
        assert sorted(p.entry.id for p in pub) == ["new", "nodate2"]
    finally:
        await app.close()


async def test_a_copy_that_names_the_subject_is_published_when_the_first_did_not(feed_server, tmp_path):
    """First copy: no watchlist named. Later copy of the same story names Cuba: the story is news
    for `cuba` now and is published once (as the copy); a copy that adds nothing is not."""
    now = datetime.now(timezone.utc)
    summary = "The president said the communist government had nothing left and should negotiate."
    first = [{"title": "Trump says island government is about to fall", "guid": "a1",
              "link": "https://a.example/1", "description": summary, "pubDate": now - timedelta(hours=2)}]
    later = [{"title": "Trump says Cuba government is about to fall", "guid": "b1",
              "link": "https://b.example/1", "description": summary, "pubDate": now - timedelta(hours=1)},
             {"title": "Trump says Cuba government is about to fall - Wire", "guid": "c1",
              "link": "https://c.example/1", "description": summary, "pubDate": now}]
    a = feed_server.route("/a.xml", body=make_rss(first))
    pub = []
    app = await open_app(tmp_path, {"a": a}, pub)
    try:
        await poll_all(app)
        assert pub == []
        feed_server.route("/b.xml", body=make_rss(later))
        await app.close()
        app = await open_app(tmp_path, {"a": a, "b": feed_server.url("/b.xml")}, pub)
        await poll_all(app)
        assert app.store.item("b1").duplicate_of == "a1" and app.store.item("c1").duplicate_of == "a1"
        assert [p.entry.id for p in pub] == ["b1"]
    finally:
        await app.close()


async def test_another_outlets_report_is_folded_and_shown_as_also_in(feed_server, tmp_path):
    """The first report is published; a later report of the same event in its own words is not
    published again but reaches the sink as "also in" with the story's first report."""
    import io
    from bot.adapters.console import ConsoleSink
    now = datetime.now(timezone.utc)
    first = [{"title": "Havana frees 553 prisoners after talks with the Vatican", "guid": "a1",
              "link": "https://one.example/a1", "pubDate": now - timedelta(hours=2),
              "description": "Cuba's government released 553 prisoners in a deal brokered by "
                             "the Vatican, officials in Havana said."}]
    later = [{"title": "Cuba releases hundreds of detainees in Vatican-brokered deal",
              "guid": "b1", "link": "https://two.example/b1", "pubDate": now,
              "description": "Authorities in Havana freed 553 prisoners under an agreement "
                             "brokered by the Vatican."}]
    one = feed_server.route("/one.xml", body=make_rss(first))
    two = feed_server.route("/two.xml", body=make_rss([]))
    pub, pairs = [], []
    app = await open_app(tmp_path, {"One": one, "Two": two}, pub)
    out = io.StringIO()
    console = ConsoleSink(out)

    async def also_in(p):
        pairs.extend(p)
        await console.also_in(p)
    app.pipeline.also_in = also_in
    try:
        await poll_all(app)
        assert [p.entry.id for p in pub] == ["a1"] and pairs == []
        feed_server.route("/two.xml", body=make_rss(later))
        r = await poll_all(app)
        assert r.duplicates == 1 and [p.entry.id for p in pub] == ["a1"]     # not published again
        assert [(f.entry.id, s.entry.id) for f, s in pairs] == [("a1", "b1")]
        assert pairs[0][0].also_in == ["Two"]
        assert "Havana frees 553 prisoners" in out.getvalue() and "also in: Two" in out.getvalue()
        assert app.store.duplicate_info("b1")[1] == "story"
    finally:
        await app.close()


async def test_alerts_leave_only_after_their_items_are_durable(feed_server, tmp_path):
    """The feed's commit is a group commit (its fsync shared with other feeds', off the loop):
    by the time the sink gets its alerts, that commit has been synced."""
    a = feed_server.route("/a.xml", body=make_rss(items("Havana blackout", "Sports today",
                                                        "Cuba talks")))
    seen = []
    app = await open_app(tmp_path, {"a": a}, [])

    async def publish(its):
        seen.append((len(its), app.store.unsynced))
    app.pipeline.publish = publish
    try:
        r = await poll_all(app)
        assert r.matched == 2 and seen == [(2, 0)]
        assert app.store.unsynced == 1          # then the marks are cleared: bookkeeping
    finally:
        await app.close()


async def test_a_poll_whose_feeds_all_answer_304_builds_no_matcher(feed_server, tmp_path):
    """Fixed costs of a cron `poll --once`: when no feed brings a body, the matcher (and the
    lexicon it loads) is never built, nor the duplicate index warmed."""
    a = feed_server.route("/a.xml", body=make_rss(items("Havana blackout")), etag='"v1"')
    pub = []
    app = await open_app(tmp_path, {"a": a}, pub)
    try:
        assert app.processor is None
        await poll_all(app)
        assert app.processor is not None and len(pub) == 1
    finally:
        await app.close()
    app = await open_app(tmp_path, {"a": a}, pub)
    try:
        r = await poll_all(app)
        assert r.count("not_modified") == 1 and app.processor is None
    finally:
        await app.close()


@pytest.mark.parametrize("retention,window,kept", [
    (3600.0, 48 * 3600.0, True),      # retention shorter than the window: kept for the window
    (0.0, 48 * 3600.0, True),         # retention "off": the same
    (3600.0, 3600.0, False),          # both over: pruned
])
async def test_prune_keeps_what_the_duplicate_window_still_reads(feed_server, tmp_path,
                                                                 retention, window, kept):
    url = feed_server.route("/a.xml", body=make_rss(items("Havana blackout", "Sports today")))
    app = await open_app(tmp_path, {"a": url}, [])
    try:
        app.settings.retention, app.settings.dedup_window = retention, window
        r = await poll_all(app)
        assert r.new_items == 2 and len(app.deduper) == 2     # indexed, texts left in the store
        pruned = app.prune(datetime.now(timezone.utc) + timedelta(hours=3))
        assert pruned == (0 if kept else 2)
        assert app.store.summary_of("g0") == ("Havana blackout — details" if kept else "")
    finally:
        await app.close()
