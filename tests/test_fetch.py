"""Fetcher fault tests against the local FeedServer (never the internet)."""
from __future__ import annotations

import asyncio
import socket
import time
import tracemalloc
from email.utils import formatdate

import pytest
from hypothesis import given, settings, strategies as st

from bot.adapters.fetch import Fetcher, backoff_delay, parse_retry_after

try:
    from tests.feedserver import gzip_bomb, make_rss
except ImportError:  # pragma: no cover
    from feedserver import gzip_bomb, make_rss

UA = "sokuho-test/0.1 (+https://example.org/sokuho)"
FEED = make_rss([{"title": "Hello", "guid": "1", "link": "https://example.org/1"}])


def fetcher(**kw) -> Fetcher:
    kw.setdefault("user_agent", UA)
    kw.setdefault("allow_private", True)    # the test server is on 127.0.0.1
    return Fetcher(**kw)


async def test_ok_sends_honest_feed_headers(feed_server):
    url = feed_server.route("/feed.xml", body=FEED, headers={"X-Thing": "1"})
    async with fetcher() as f:
        r = await f.fetch(url)
    assert (r.status, r.body, r.error, r.error_kind, r.ok) == (200, FEED, None, None, True)
    assert r.headers["x-thing"] == "1" and "content-type" in r.headers   # lower-cased keys
    req = feed_server.requests_for("/feed.xml")[0]
    assert req.header("User-Agent") == UA
    assert "application/rss+xml" in req.header("Accept")
    assert req.header("Accept-Encoding") == "gzip, deflate"
    assert req.header("If-None-Match") is None and req.header("If-Modified-Since") is None


async def test_conditional_get_etag_gives_304_without_body(feed_server):
    url = feed_server.route("/c.xml", body=FEED, etag='"v1"')
    async with fetcher() as f:
        first = await f.fetch(url)
        second = await f.fetch(url, etag=first.etag)
    assert first.status == 200 and first.etag == '"v1"'
    assert feed_server.requests_for("/c.xml")[1].header("If-None-Match") == '"v1"'
    assert second.status == 304 and second.not_modified and second.ok
    assert second.body is None and second.error is None and second.etag == '"v1"'


async def test_conditional_get_last_modified_gives_304(feed_server):
    lm = "Mon, 06 Jan 2025 10:00:00 GMT"
    url = feed_server.route("/lm.xml", body=FEED, last_modified=lm)
    async with fetcher() as f:
        first = await f.fetch(url)
        second = await f.fetch(url, last_modified=first.last_modified)
        changed = await f.fetch(url, last_modified="Sun, 05 Jan 2025 10:00:00 GMT")
    assert first.last_modified == lm and first.body == FEED
    assert feed_server.requests_for("/lm.xml")[1].header("If-Modified-Since") == lm
    assert second.not_modified and second.body is None and second.last_modified == lm
    assert changed.status == 200 and changed.body == FEED


async def test_gzip_body_is_decompressed(feed_server):
    url = feed_server.route("/gz.xml", body=FEED, gzip=True)
    async with fetcher() as f:
        r = await f.fetch(url)
    assert r.headers["content-encoding"] == "gzip"
    assert r.body == FEED


async def test_gzip_bomb_is_cut_off_without_inflating_it(feed_server):
    bomb = gzip_bomb(64 * 2**20)             # ~64 KiB on the wire, 64 MiB inflated
    url = feed_server.route("/bomb", body=bomb, precompressed=True)
    async with fetcher(max_body=2**20) as f:
        tracemalloc.start()
        try:
            r = await f.fetch(url)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert r.error_kind == "too_large" and r.body is None and url in r.error
    assert peak < 16 * 2**20, f"peak {peak} bytes: the bomb was inflated in memory"


async def test_endless_body_is_abandoned_at_the_limit(feed_server):
    url = feed_server.route("/endless", endless=True)
    async with fetcher(max_body=256 * 1024) as f:
        r = await asyncio.wait_for(f.fetch(url), 30)
    assert r.status == 200 and r.error_kind == "too_large" and r.body is None
    assert "262144-byte limit" in r.error and url in r.error


async def test_declared_content_length_over_limit_is_refused_up_front(feed_server):
    url = feed_server.route("/big", body=b"x" * 10, content_length=50 * 2**20)
    async with fetcher(max_body=2**20) as f:
        r = await f.fetch(url)
    assert r.error_kind == "too_large" and "Content-Length 52428800" in r.error


async def test_slow_headers_time_out(feed_server):
    url = feed_server.route("/slow", body=FEED, delay=5)
    async with fetcher(read_timeout=0.3, total_timeout=10) as f:
        r = await f.fetch(url)
    assert r.error_kind == "timeout" and r.status is None and r.body is None
    assert url in r.error and "timed out" in r.error


async def test_slow_drip_body_hits_total_timeout(feed_server):
    url = feed_server.route("/drip", body=FEED * 20, drip=0.2, chunk_size=64)
    async with fetcher(read_timeout=5, total_timeout=1) as f:
        r = await f.fetch(url)
    assert r.error_kind == "timeout" and r.body is None


@pytest.mark.parametrize("where", ["before_headers", "mid_body"])
async def test_connection_reset(feed_server, where):
    url = feed_server.route("/reset", body=FEED * 50, reset=where)
    async with fetcher() as f:
        r = await f.fetch(url)
    assert r.error_kind == "reset", r.error
    assert r.body is None and url in r.error


async def test_connection_refused():
    with socket.socket() as s:            # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/feed.xml"
    async with fetcher(connect_timeout=5) as f:
        r = await f.fetch(url)
    assert r.error_kind == "connect" and r.status is None and url in r.error


async def test_redirect_loop_and_followed_redirect(feed_server):
    loop_url = feed_server.route("/a", redirect="/b")
    feed_server.route("/b", redirect="/a")
    for i in range(3):                      # /hop0 -> /hop1 -> /hop2 -> /new: 3 redirects
        feed_server.route(f"/hop{i}", redirect=f"/hop{i + 1}" if i < 2 else "/new")
    feed_server.route("/new", body=FEED)
    async with fetcher(max_redirects=3) as f:
        loop = await f.fetch(loop_url)
        moved = await f.fetch(feed_server.url("/hop0"))
    async with fetcher(max_redirects=0) as f:
        refused = await f.fetch(feed_server.url("/hop0"))
    assert loop.error_kind == "redirects" and loop_url in loop.error and "redirects" in loop.error
    # the first request plus 3 followed redirects, then it gives up
    assert len(feed_server.requests_for("/a")) + len(feed_server.requests_for("/b")) == 4
    assert moved.ok and moved.body == FEED and moved.final_url == feed_server.url("/new")
    assert refused.error_kind == "redirects" and refused.status == 302


@pytest.mark.parametrize("status,kind", [(404, "not_found"), (410, "gone"), (403, "http_4xx"),
                                         (500, "http_5xx"), (502, "http_5xx")])
async def test_http_errors(feed_server, status, kind):
    url = feed_server.route("/err", status=status, body=b"oops")
    async with fetcher() as f:
        r = await f.fetch(url)
    assert (r.status, r.error_kind, r.body, r.ok) == (status, kind, None, False)
    assert r.error.startswith(f"{url}: HTTP {status}")


async def test_429_with_retry_after_seconds(feed_server):
    url = feed_server.route("/busy", status=429, headers={"Retry-After": "120"})
    async with fetcher() as f:
        r = await f.fetch(url)
    assert r.error_kind == "ratelimited" and r.retry_after == 120
    assert r.error == f"{url}: HTTP 429 Too Many Requests (retry after 120s)"


async def test_503_with_retry_after_http_date(feed_server):
    when = formatdate(time.time() + 300, usegmt=True)
    url = feed_server.route("/down", status=503, headers={"Retry-After": when})
    async with fetcher() as f:
        r = await f.fetch(url)
    assert r.error_kind == "http_5xx" and 240 < r.retry_after <= 300
    assert "503 Service Unavailable (retry after" in r.error


async def test_per_host_concurrency_is_bounded(feed_server):
    urls = [feed_server.route(f"/p{i}", body=FEED, delay=0.2) for i in range(8)]
    feed_server.hold_until_active(2)            # the limit is reached, whatever the load
    async with fetcher(per_host=2, total_concurrency=10) as f:
        results = await asyncio.gather(*(f.fetch(u) for u in urls))
    assert all(r.ok for r in results)
    assert feed_server.max_active == 2


async def test_total_concurrency_is_bounded(feed_server):
    urls = [feed_server.route(f"/t{i}", body=FEED, delay=0.2) for i in range(8)]
    feed_server.hold_until_active(3)
    async with fetcher(per_host=8, total_concurrency=3) as f:
        await asyncio.gather(*(f.fetch(u) for u in urls))
    assert feed_server.max_active == 3


async def test_file_path_and_file_url(tmp_path):
    p = tmp_path / "feed.xml"
    p.write_bytes(FEED)
    async with fetcher() as f:
        plain = await f.fetch(str(p))
        as_url = await f.fetch(p.as_uri())
    for r in (plain, as_url):
        assert (r.status, r.body, r.error) == (200, FEED, None)


async def test_file_needs_no_session_and_respects_max_body(tmp_path):
    p = tmp_path / "big.xml"
    p.write_bytes(b"x" * 5000)
    r = await fetcher(max_body=4096).fetch(str(p))     # files work outside `async with`
    assert r.error_kind == "too_large" and r.body is None


async def test_missing_file(tmp_path):
    missing = tmp_path / "nope.xml"
    r = await fetcher().fetch(str(missing))
    assert r.error_kind == "file" and r.status is None and str(missing) in r.error


async def test_credentials_never_appear_in_errors(feed_server):
    url = feed_server.url("/nope").replace("http://", "http://bob:s3cret@")
    async with fetcher() as f:
        r = await f.fetch(url)
    assert r.error_kind == "not_found" and "s3cret" not in r.error and "/nope" in r.error


async def test_http_fetch_outside_context_is_a_programming_error():
    with pytest.raises(RuntimeError):
        await fetcher().fetch("http://127.0.0.1:9/feed")


# ------------------------------------------------------------------ Retry-After and backoff
def test_parse_retry_after_forms():
    now = 1_700_000_000.0
    assert parse_retry_after("120") == 120
    assert parse_retry_after(formatdate(now + 60, usegmt=True), now=now) == pytest.approx(60)
    assert parse_retry_after(formatdate(now - 60, usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


unit = st.floats(min_value=0.0, max_value=1.0)


@settings(max_examples=300)
@given(n=st.integers(-5, 10_000), r=unit, ra=st.none() | st.floats(0, 10**9),
       base=st.floats(0.5, 3600), cap=st.floats(1, 86_400))
def test_backoff_bounds(n, r, ra, base, cap):
    d = backoff_delay(n, base=base, cap=cap, retry_after=ra, rng=lambda: r)
    assert 0 < d <= cap
    if ra is not None:
        assert d >= min(ra, cap)
    if ra is None:   # jitter never goes below half the exponential step
        assert d >= min(cap, base * 2.0 ** min(max(n, 1) - 1, 64)) / 2 * (1 - 1e-9)


@given(n=st.integers(1, 200), base=st.floats(0.5, 600), cap=st.floats(1, 86_400))
def test_backoff_upper_bound_is_monotone(n, base, cap):
    hi = [backoff_delay(k, base=base, cap=cap, rng=lambda: 1.0) for k in (n, n + 1)]
    lo = [backoff_delay(k, base=base, cap=cap, rng=lambda: 0.0) for k in (n, n + 1)]
    assert hi[0] <= hi[1] and lo[0] <= lo[1] and lo[0] <= hi[0]


def test_backoff_jitter_spreads_and_rejects_bad_config():
    values = {backoff_delay(3, base=60) for _ in range(50)}
    assert len(values) > 1 and all(120 <= v <= 240 for v in values)
    with pytest.raises(ValueError):
        backoff_delay(1, base=0)
