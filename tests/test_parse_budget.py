"""The parse budget of a worker process is CPU time: a worker that waits for a core (a busy
machine, the workers' lower priority) is not killed as "too large or hostile" for that wait,
while its wall time stays bounded (WALL_CAP times the budget). The wait is made deterministic
by stopping the worker (SIGSTOP): its wall clock runs, its CPU clock does not."""
from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from bot.adapters.parse_pool import WALL_CAP, ParserPool, cpu_seconds

try:
    from tests.feedserver import make_rss
except ImportError:  # pragma: no cover
    from feedserver import make_rss

SMALL = make_rss([{"title": "Havana blackout", "guid": "h1"}])
# small enough to sit in the socket's buffer while the worker is stopped (a send that blocks
# would not start the budget's clock)
FIVE = make_rss([{"title": f"Item {i} about the grid", "guid": f"m{i}"} for i in range(5)])


def test_cpu_seconds_counts_this_process_and_knows_no_stranger():
    before = cpu_seconds(os.getpid())
    t = time.process_time()
    while time.process_time() - t < 0.3:
        pass
    after = cpu_seconds(os.getpid())
    assert before is not None and after is not None
    assert 0.2 <= after - before <= 5                         # clock ticks: coarse, but there
    assert cpu_seconds(2**22 + 12345) is None                  # no such process


async def _stopped_worker(pool: ParserPool):
    """The pool's one worker, started and ready, then stopped: no CPU from now on."""
    await pool.parse(SMALL, feed_name="warm")
    (w,) = list(pool._all)
    os.kill(w.proc.pid, signal.SIGSTOP)
    return w


@pytest.mark.timeout(120)
async def test_a_worker_kept_off_the_cpu_past_its_budget_still_finishes_its_feed():
    budget = 1.0
    pool = ParserPool("process", workers=1, budget=budget)
    try:
        w = await _stopped_worker(pool)
        job = asyncio.ensure_future(pool.parse(FIVE, feed_name="five"))
        await asyncio.sleep(3 * budget)                        # 3 budgets of wall time
        assert not job.done() and w.proc.is_alive()            # not judged on the wait
        os.kill(w.proc.pid, signal.SIGCONT)
        res = await job
        assert not res.failed and len(res.entries) == 5
        assert pool._all == {w}                                # the same worker, not replaced
    finally:
        pool.close()


@pytest.mark.timeout(120)
async def test_a_worker_that_never_gets_the_cpu_is_killed_at_the_wall_cap():
    budget = 0.4
    pool = ParserPool("process", workers=1, budget=budget)
    try:
        w = await _stopped_worker(pool)
        t0 = time.monotonic()
        res = await pool.parse(FIVE, feed_name="stuck")
        took = time.monotonic() - t0
        assert res.failed and res.error_kind == "timeout_parse"
        assert took >= budget * WALL_CAP * 0.9                 # not at the budget: at the cap
        again = await pool.parse(SMALL, feed_name="after")     # killed and replaced
        assert not again.failed and len(again.entries) == 1
        assert w not in pool._all and not w.proc.is_alive()
    finally:
        pool.close()
