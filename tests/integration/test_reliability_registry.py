"""A worker started while the schema registry is down (issue 17, finding 1).

The registry is reached through a closed :class:`tests.integration.gate.Gate` (the shared
registry is never stopped). Events wait in the raw topic before the worker starts; the worker
must stay up, say on ``/health`` that it waits for the registry, and once the gate opens route
every event: each valid one to a read, each bad one to a dead letter, none lost.

Before the fix the worker dead-lettered the waiting events as ``registry_unavailable``, failed
to encode those dead letters (their schema needs the registry too) and crashed about 29 s
after its start.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from config.settings import Settings
from ops.worker import WorkerProcess, free_port
from streams.codec import default_schema_cache
from tests.integration.conftest import require_port
from tests.integration.gate import Gate
from tests.integration.test_router import Collector, produce
from tests.support.isolated import IsolatedRun
from tests.support.streams import encode_plate_event

VALID = 300
BAD = 20
#: The worker crashed about 29 s into the outage before the fix.
OUTAGE_S = 35.0


@pytest.fixture
async def run(settings: Settings, unique: str) -> AsyncIterator[IsolatedRun]:
    require_port(settings.kafka.bootstrap_servers, "Kafka")
    require_port(settings.schema_registry.url, "schema registry")
    isolated = IsolatedRun("test-reliability", unique)
    await isolated.create_worker_topics(settings.kafka.bootstrap_servers, settings.kafka.partitions)
    yield isolated
    await isolated.drop(settings.kafka.bootstrap_servers, settings.schema_registry.url)


@pytest.fixture
async def registry_gate(settings: Settings) -> AsyncIterator[Gate]:
    parts = urlsplit(settings.schema_registry.url)
    gate = Gate(parts.hostname or "127.0.0.1", parts.port or 80)
    yield gate
    await gate.close()


def gated_url(settings: Settings, gate: Gate) -> str:
    parts = urlsplit(settings.schema_registry.url)
    return urlunsplit(parts._replace(netloc=f"127.0.0.1:{gate.port}"))


async def test_a_worker_started_without_the_registry_waits_and_then_routes_everything(
    settings: Settings, run: IsolatedRun, registry_gate: Gate, tmp_path: Path
) -> None:
    bootstrap = settings.kafka.bootstrap_servers
    raw = run.topic("raw")
    cache = default_schema_cache()  # the test's own, on the real registry
    valid = {str(uuid.uuid4()) for _ in range(VALID)}
    messages = [(e.encode(), encode_plate_event(cache, f"{raw}-value", event_id=e)) for e in valid]
    messages += [(str(uuid.uuid4()).encode(), b"\x01not avro %d" % i) for i in range(BAD)]
    await produce(bootstrap, raw, messages)

    env = {
        **os.environ,
        **run.env(alerts=True),
        "ALPR_SCHEMA_REGISTRY__URL": gated_url(settings, registry_gate),
        # the stores' projections are not under test here
        "ALPR_PROJECTIONS__ENABLE_PG": "false",
        "ALPR_PROJECTIONS__ENABLE_ES": "false",
    }
    async with (
        Collector(bootstrap, run.topic("detected"), "PlateRead") as reads,
        Collector(bootstrap, run.topic("dlq"), "DeadLetter") as letters,
    ):
        with WorkerProcess(tmp_path, free_port(), env=env) as worker:
            await asyncio.to_thread(worker.wait_ready, 120, 1, ("router",))
            started = time.monotonic()
            health = None
            while time.monotonic() - started < OUTAGE_S:
                assert worker.process is not None and worker.process.poll() is None, (
                    f"the worker exited during the outage:\n{worker.log_tail()}"
                )
                health = worker.health() or health
                await asyncio.sleep(1)
            assert reads.records == [] and letters.records == []
            assert health is not None and health["status"] == "degraded", health
            assert "registry" in health["waiting_on"], health

            await registry_gate.open()
            await reads.wait_for(VALID, timeout=120)
            await letters.wait_for(BAD, timeout=60)
            await asyncio.sleep(3)  # anything extra would show up now
            assert {r["event_id"] for r in reads.records} == valid
            assert [d["reason"] for d in letters.records] == ["wrong_magic"] * BAD
            after = worker.health()
            assert after is not None and "registry" not in after["waiting_on"], after
            assert worker.process is not None and worker.process.poll() is None
