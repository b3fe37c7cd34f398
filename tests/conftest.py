"""Shared pytest fixtures. Keep it small: one fixture per concern, helpers live in modules."""
from __future__ import annotations

import os

import pytest
import pytest_asyncio

# The test feed servers listen on 127.0.0.1, which sokuho refuses by default (README, "Security").
# Every `sokuho` subprocess and Settings.from_env() in the tests inherit this; code that builds
# Settings(...) or Fetcher(...) directly passes allow_private_networks=True / allow_private=True
# itself. tests/test_private_networks.py checks the refusals with the setting off.
os.environ["SOKUHO_ALLOW_PRIVATE_NETWORKS"] = "1"

try:  # `python -m pytest` (repo root on sys.path) and plain `pytest` (tests/ on sys.path)
    from tests.feedserver import FeedServer
except ImportError:  # pragma: no cover
    from feedserver import FeedServer


@pytest_asyncio.fixture
async def feed_server():
    """A started FeedServer on 127.0.0.1 (random port); closed after the test. See feedserver.py."""
    server = FeedServer()
    await server.start()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture(autouse=True)
def _isolated_log_redaction():
    """The Telegram sink installs token redaction process-wide (a log record factory, filters),
    as it must in production; in the test process it must not leak from one test into the next
    (tests of the log formatter count their own redaction marks)."""
    import logging

    from bot.telegram import redact
    factory, tokens, installed = logging.getLogRecordFactory(), set(redact._tokens), redact._installed
    yield
    logging.setLogRecordFactory(factory)
    redact._tokens.clear()
    redact._tokens.update(tokens)
    redact._installed = installed
    for lg in [logging.getLogger()] + [logging.getLogger(n) for n in
                                       ("httpx", "httpcore", "telegram", "bot.telegram")]:
        for f in [f for f in lg.filters if isinstance(f, redact.TokenFilter)]:
            lg.removeFilter(f)
        for h in lg.handlers:
            for f in [f for f in h.filters if isinstance(f, redact.TokenFilter)]:
                h.removeFilter(f)


# --- PostgreSQL: one throwaway cluster per test session, a fresh database per test ------------
import pytest  # noqa: E402

try:
    from tests import pgcluster
except ImportError:  # pragma: no cover
    import pgcluster


@pytest.fixture(scope="session")
def pg_cluster():
    """A PostgreSQL cluster (Debian's binaries, initdb as an unprivileged user, 127.0.0.1, trust
    auth). Skips the test with the reason only when PostgreSQL cannot be installed at all."""
    try:
        cluster = pgcluster.PgCluster.start()
    except pgcluster.PgUnavailable as e:
        pytest.skip(f"PostgreSQL not available: {e}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(pg_cluster):
    """The URL of a new, empty database in the session's cluster."""
    return pg_cluster.create_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    """The store target on both engines: an SQLite file path, or a fresh PostgreSQL URL."""
    if request.param == "sqlite":
        return tmp_path / "state" / "sokuho.db"
    return request.getfixturevalue("pg_url")
