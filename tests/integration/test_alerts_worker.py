"""The alert path end to end: a real Faust worker, broker and registry, and a webhook
receiver on loopback. A watch-listed read produced to the raw topic (twice, as a retrying
edge would) is routed, evaluated and delivered to the webhook once, signed, and the alert is
projected into PostgreSQL's ``alerts`` table."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web
from aiokafka import AIOKafkaProducer

from agents.alerting.rule_topic import publish_rules
from config.settings import Settings
from notify.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from ops.worker import WorkerProcess, free_port
from rules.model import WatchlistRule
from streams.codec import default_schema_cache
from tests.integration.conftest import require_port
from tests.integration.kafka_reading import consume_topic
from tests.support.isolated import IsolatedRun
from tests.support.streams import create_topics, encode_plate_event

PARTITIONS = 2
SECRET = "e2e-secret"


@pytest.fixture
async def hook() -> AsyncIterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    received: list[tuple[dict[str, str], bytes]] = []

    async def handle(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/hook", received
    await runner.cleanup()


async def stored_alert(dsn: str, alert_id: str, timeout: float = 30.0) -> asyncpg.Record:
    """The alert's row in PostgreSQL, once the alert projection has written it (removed)."""
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + timeout
        query = "SELECT * FROM alerts WHERE alert_id = $1"
        while (row := await conn.fetchrow(query, alert_id)) is None:
            assert time.monotonic() < deadline, f"alert {alert_id} not in PostgreSQL"
            await asyncio.sleep(0.3)
        await conn.execute("DELETE FROM alerts WHERE alert_id = $1", alert_id)
        return row
    finally:
        await conn.close()


async def delivery_log(
    bootstrap: str, app_id: str, alert_id: str, timeout: float = 20.0
) -> list[bytes | None]:
    """The values the delivery log's changelog holds for ``alert_id``, oldest first, once
    the last is a tombstone (or ``timeout`` passed)."""
    topic = f"{app_id}-alert_deliveries-changelog"
    deadline = time.monotonic() + timeout
    while True:
        values = [
            m.value for m in await consume_topic(bootstrap, topic, expected=10**9, polls=2)
            if m.key is not None and alert_id in m.key.decode()
        ]  # fmt: skip
        if (values and values[-1] is None) or time.monotonic() > deadline:
            return values
        await asyncio.sleep(1)


async def test_watchlisted_read_reaches_the_webhook_once(
    settings: Settings,
    unique: str,
    tmp_path: Path,
    hook: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    bootstrap = settings.kafka.bootstrap_servers
    require_port(bootstrap, "Kafka")
    require_port(settings.schema_registry.url, "schema registry")
    url, received = hook
    run = IsolatedRun(tag=unique)
    names = {t: run.topic(t) for t in ("raw", "detected", "dlq", "cameras", "rules", "alerts")}
    env = {
        **run.env(partitions=PARTITIONS, alerts=True),
        "ALPR_NOTIFY__BACKOFF_S": "0.2",
        "ALPR_E2E_HOOK_KEY": SECRET,
        # Delivery log entries go after 4 s (checked once the alerts are in).
        "ALPR_NOTIFY__DELIVERY_LOG_TTL_S": "4",
        "ALPR_NOTIFY__DELIVERY_LOG_PRUNE_S": "1",
    }
    rule = WatchlistRule(
        type="watchlist", name="e2e-stolen", plates=["AB12CDE"], match="fuzzy",
        actions=[{"channel": "webhook", "url": url, "secret_env": "ALPR_E2E_HOOK_KEY"}],  # type: ignore[list-item]
    )  # fmt: skip
    try:
        await create_topics(
            bootstrap, [names[t] for t in ("raw", "detected", "dlq", "alerts")], PARTITIONS
        )
        await publish_rules(bootstrap, names["rules"], [rule], prune=True)
        worker = WorkerProcess(tmp_path, free_port(), env=env).start()
        try:
            await asyncio.to_thread(worker.wait_ready, 120.0)
            cache = default_schema_cache()
            subject = f"{names['raw']}-value"
            hit_id = str(uuid.uuid4())
            hit = encode_plate_event(cache, subject, event_id=hit_id, plate_text="AB12 CDE")
            misses = [encode_plate_event(cache, subject, plate_text=f"ZZ{n}9XY") for n in range(4)]
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
            await producer.start()
            try:
                for key, value in [(hit_id, hit), *((str(n), m) for n, m in enumerate(misses))]:
                    await producer.send_and_wait(names["raw"], value, key=key.encode())
                await producer.send_and_wait(names["raw"], hit, key=hit_id.encode())  # a retry
            finally:
                await producer.stop()
            deadline = time.monotonic() + 60
            while not received and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            assert received, f"no webhook call; worker log:\n{worker.log_tail()}"
            await asyncio.sleep(3)  # time for a duplicate to show up, if one were coming
            first = list(received)
            stored = await stored_alert(settings.postgres.dsn, json.loads(first[0][1])["alert_id"])
            assert (stored["rule_id"], stored["event_id"]) == ("e2e-stolen", hit_id)
            # A rule published to the running worker applies without a restart.
            added = rule.model_copy(update={"name": "e2e-added", "plates": ["ZZ09XY"]})
            await publish_rules(bootstrap, names["rules"], [rule, added], prune=True)
            later_id = str(uuid.uuid4())
            later = encode_plate_event(cache, subject, event_id=later_id, plate_text="ZZ0 9XY")
            deadline = time.monotonic() + 30
            while len(received) < 2 and time.monotonic() < deadline:
                producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
                await producer.start()
                try:  # until the worker has the rule: each attempt is a new read
                    await producer.send_and_wait(names["raw"], later, key=later_id.encode())
                    later_id = str(uuid.uuid4())
                    later = encode_plate_event(
                        cache, subject, event_id=later_id, plate_text="ZZ0 9XY"
                    )
                finally:
                    await producer.stop()
                await asyncio.sleep(1)
            log = await delivery_log(bootstrap, run.app_id, stored["alert_id"])
            assert log[0] is not None and json.loads(log[0])["done"] == ["0:webhook"]
            assert log[-1] is None, f"no tombstone after the TTL: {log}"
        finally:
            worker.stop()
        assert [json.loads(b)["rule"] for _, b in received[1:2]] == ["e2e-added"]
        ((headers, body),) = first
        assert verify(SECRET.encode(), headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
        alert = json.loads(body)
        assert (alert["rule"], alert["plate"], alert["event_ids"]) == (
            "e2e-stolen", "AB12CDE", [hit_id]
        )  # fmt: skip
    finally:
        await run.drop(bootstrap, settings.schema_registry.url)
