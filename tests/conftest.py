"""Shared pytest fixtures. Keep it small: one fixture per concern, helpers live in modules."""
from __future__ import annotations

import pytest_asyncio

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
