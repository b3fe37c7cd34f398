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
