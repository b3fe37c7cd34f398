"""Prometheus /metrics text and /healthz on a local port."""
from __future__ import annotations

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.ops.metrics import Metrics

NAMES = ["sokuho_feeds_polled", "sokuho_fetch_errors", "sokuho_items", "sokuho_matches",
         "sokuho_duplicates", "sokuho_deliveries", "sokuho_telegram_429",
         "sokuho_cycle_duration_seconds", "sokuho_last_cycle_timestamp_seconds"]


class FakeClock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
async def served():
    clock = FakeClock()
    m = Metrics(monotonic=clock)
    store_ok = {"v": True}

    async def check():
        return store_ok["v"]

    port = await m.start_server(port=0, check=check, max_cycle_age=60)
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}") as http:
        yield m, http, store_ok, clock
    await m.stop()


def samples(text: str) -> dict:
    families = {f.name: f for f in text_string_to_metric_families(text)}
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in families.values() for s in f.samples}


async def test_metrics_text(served):
    m, http, _, _ = served
    m.record_fetch("ok")
    m.record_fetch("failed", "timeout")
    m.items.inc(4)
    m.matches.labels(watchlist="toyota").inc()
    m.duplicates.labels(reason="url").inc(2)
    m.record_cycle(2.0)
    async with http.get("/metrics") as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
        text = await r.text()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in NAMES:
        assert name in families, name
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in families.values() for s in f.samples}
    assert samples[("sokuho_feeds_polled_total", (("status", "failed"),))] == 1
    assert samples[("sokuho_fetch_errors_total", (("kind", "timeout"),))] == 1
    assert samples[("sokuho_items_total", ())] == 4
    assert samples[("sokuho_matches_total", (("watchlist", "toyota"),))] == 1
    assert samples[("sokuho_cycle_duration_seconds_count", ())] == 1
    assert samples[("sokuho_last_cycle_timestamp_seconds", ())] > 1e9


async def test_healthz(served):
    m, http, store_ok, clock = served
    async with http.get("/healthz") as r:              # no cycle finished yet
        assert r.status == 503
        assert (await r.json())["status"] == "unhealthy"
    m.record_cycle(0.1)
    async with http.get("/healthz") as r:
        body = await r.json()
        assert r.status == 200 and body["status"] == "ok" and body["store"] == "ok"
    store_ok["v"] = False
    async with http.get("/healthz") as r:
        assert r.status == 503 and (await r.json())["store"] == "failing"
    store_ok["v"] = True
    clock.t += 59                                       # just inside max_cycle_age
    async with http.get("/healthz") as r:
        assert r.status == 200
    clock.t += 2                                        # older than max_cycle_age
    async with http.get("/healthz") as r:
        body = await r.json()
        assert r.status == 503 and "last poll cycle" in body["problems"][0]
    m.record_tick()                                     # scheduler alive, nothing was due
    async with http.get("/healthz") as r:
        assert r.status == 200


async def test_delivery_and_429_counters_count_real_deliveries(tmp_path):
    """The two Telegram metrics are counted by the sender itself, through real deliveries to the
    fake Bot API: sent messages, a 429 (flood control, then sent), a 5xx retried, a blocked chat."""
    from fakebotapi import FakeBotAPI, Harness

    m = Metrics()
    api = await FakeBotAPI().start()
    h = await Harness(tmp_path, api, metrics=m).start()
    try:
        for chat in (1, 2, 3, 4):
            await h.subscribe(chat, "greenland")             # urgent: instant alerts
        api.fail("sendMessage", chat_id=2, retry_after=1)
        api.fail("sendMessage", chat_id=3, status=502)
        api.fail("sendMessage", chat_id=4, status=403)
        await h.sink.publish(h.items(("Greenland one", "greenland"), ("Greenland two", "greenland")))
        for chat in (1, 2, 3):
            assert await h.settled(chat) == ["sent", "sent"]
        await h.until(lambda: h.sink.outbox.chat(4).active is False)
        got = samples(m.render().decode())
        assert got[("sokuho_deliveries_total", (("status", "sent"),))] == 6
        assert got[("sokuho_deliveries_total", (("status", "retried"),))] == 2   # 429 + 502
        assert got[("sokuho_deliveries_total", (("status", "failed"),))] == 1    # blocked
        assert got[("sokuho_telegram_429_total", ())] == 1
    finally:
        await h.stop()
        await api.close()


async def test_server_binds_localhost_only_and_stops():
    m = Metrics()
    port = await m.start_server(port=0)
    assert m._runner.addresses[0][0] == "127.0.0.1"
    await m.stop()
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession() as s:
            await s.get(f"http://127.0.0.1:{port}/metrics")


async def test_two_instances_do_not_share_a_registry():
    a, b = Metrics(), Metrics()
    a.items.inc()
    assert b"sokuho_items_total 0.0" in b.render()
