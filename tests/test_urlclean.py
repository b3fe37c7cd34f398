from hypothesis import given, strategies as st

from bot.core.urlclean import canonical_url


def test_tracking_fragment_scheme_port_host_slash():
    base = canonical_url("https://news.example/a/b")
    for v in ("http://news.example/a/b", "https://NEWS.example:443/a/b/",
              "https://news.example/a/b?utm_source=x&utm_medium=rss#top",
              "http://news.example:80/a/b?fbclid=1&gclid=2"):
        assert canonical_url(v) == base


def test_meaningful_query_kept_and_sorted():
    assert canonical_url("https://x.example/?p=2&a=1") == canonical_url("https://x.example/?a=1&p=2")
    assert canonical_url("https://x.example/?p=1") != canonical_url("https://x.example/?p=2")


def test_non_http_left_alone():
    assert canonical_url("urn:uuid:123") == "urn:uuid:123"
    assert canonical_url("") == ""


@given(st.from_regex(r"https?://[a-z]{1,8}\.example(:[0-9]{2,4})?/[a-z/]{0,12}(\?[a-z]=[a-z0-9]{1,3}(&utm_[a-z]+=[a-z]+)?)?", fullmatch=True))
def test_idempotent(url):
    once = canonical_url(url)
    assert canonical_url(once) == once


# the fast path (canonical_url) against the general one (_canonical_slow): the same string for any
# URL, including the ones it must hand over (escapes, ports, fragments, "=" in a value, ";")
_url_pieces = st.sampled_from(
    ["https://", "http://", "HTTP://", "www.", "News.Example", ".", ":", ":443", ":8080", "/", "//",
     "a", "B", "0", "-", "_", "~", "?", "&", "=", "#", "%20", "%2F", "+", ";", "@", "é", " ",
     "utm_source=rss", "utm_medium", "fbclid=x", "UTM_Campaign=y", "p=2", "a=1", "ref_src",
     "mc_cid=3", "q=a b", "q=x=y", "k="])


@given(st.lists(_url_pieces, max_size=16))
def test_fast_path_gives_what_the_general_path_gives(parts):
    from bot.core.urlclean import _canonical_slow
    url = "".join(parts)
    expected = _canonical_slow.__wrapped__(url.strip()) if url.strip() else ""
    assert canonical_url(url) == expected


# the same, from a well-formed start: a path of the fast path's characters ("//" right after the
# host, empty segments, dots), then any of the pieces above (queries plain and tracking, escapes)
_path_pieces = st.sampled_from(["/", "//", "a", "B", "0", "-", ".", "~", "_", ":"])


@given(st.sampled_from(["https://", "http://"]), st.sampled_from(["x.example", "X.Example."]),
       st.lists(_path_pieces, max_size=8), st.lists(_url_pieces, max_size=6))
def test_fast_path_after_a_host_gives_what_the_general_path_gives(scheme, host, path, rest):
    from bot.core.urlclean import _canonical_slow
    url = scheme + host + "".join(path) + "".join(rest)
    assert canonical_url(url) == _canonical_slow.__wrapped__(url.strip())


def test_fast_path_examples():
    from bot.core.urlclean import _canonical_slow
    for url in ("https://www.x.example/en/2026/a-b-3?utm_source=rss&utm_medium=feed",
                "http://X.example?b=2&a=1&a=&c", "https://x.example/a/?=v&&k=v=w",
                "https://x.example/?", "https://x.example/a?utm_x=1&Fbclid=2",
                "https://x.example./a//b?z=1", "https://x.example//a", "https://x.example//a?b=1",
                "https://x.example///", "https://x.example//"):
        assert canonical_url(url) == _canonical_slow.__wrapped__(url)
    assert canonical_url("http://X.example?b=2&a=1&a=&c") == "https://x.example/?a=&a=1&b=2&c="
