"""A projection worker started while the schema registry is down (issue 17).

The registry is reached through a closed :class:`tests.integration.gate.Gate`. Reads and
messages that are not reads wait in the detected topic before the worker starts, each
partition beginning with one that is not a read, read in batches of one: the projection can
decode those without the registry, but their dead letters need it. The worker must stay up
past the point where it used to give up, say on ``/health`` that it waits for the registry,
and once the gate opens store every read in PostgreSQL and dead-letter every other message.

Before the fix a dead letter was tried five times (about 18 s) and then raised, which crashed
the worker, and decoding waited in a loop of its own that ``/health`` did not see.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from config.settings import Settings
from ops.worker import WorkerProcess, free_port
from streams.codec import default_schema_cache
from tests.integration.gate import Gate
from tests.integration.test_projections import PARTITIONS, Scratch, dead_letters, scratch
from tests.integration.test_reliability_registry import gated_url, registry_gate
from tests.support.stores import encode_reads, pg_event_ids, plate_read_datum, produce

__all__ = ["registry_gate", "scratch"]  # the fixtures

READS = 100
#: Dead letters were given up after about 18 s; the outage lasts well past that.
OUTAGE_S = 30.0


async def not_reads_first(bootstrap: str, topic: str) -> int:
    """One message that is not a read at the head of every partition; how many were sent."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for partition in range(PARTITIONS):
            await producer.send_and_wait(topic, b"\x01not avro", partition=partition)
    finally:
        await producer.stop()
    return PARTITIONS


async def through_the_outage(worker: WorkerProcess) -> dict[str, Any] | None:
    """Watch ``worker`` for :data:`OUTAGE_S`: it must stay up; its last ``/health``."""
    answers: list[dict[str, Any]] = []
    deadline = time.monotonic() + OUTAGE_S
    while time.monotonic() < deadline:
        exited = worker.process is None or worker.process.poll() is not None
        assert not exited, f"the worker exited during the outage:\n{worker.log_tail()}"
        if (answer := await asyncio.to_thread(worker.health)) is not None:
            answers.append(answer)
        await asyncio.sleep(1)
    return answers[-1] if answers else None


async def test_a_projection_started_without_the_registry_waits_and_then_stores_everything(
    settings: Settings, scratch: Scratch, registry_gate: Gate, tmp_path: Path
) -> None:
    bootstrap = settings.kafka.bootstrap_servers
    cache = default_schema_cache()  # the test's own, on the real registry
    reads = [plate_read_datum() for _ in range(READS)]
    bad = await not_reads_first(bootstrap, scratch.detected)
    await produce(
        bootstrap, scratch.detected, encode_reads(cache, f"{scratch.detected}-value", reads)
    )

    env = {
        **os.environ,
        **scratch.env(),
        "ALPR_SCHEMA_REGISTRY__URL": gated_url(settings, registry_gate),
        "ALPR_PROJECTIONS__ENABLE_ES": "false",
        # The alerting stage's topics too: its rule feed forwards what it cannot read yet,
        # and the shared ones would carry these messages into other runs.
        "ALPR_RULES__TOPIC": f"test.{scratch.unique}.rules",
        "ALPR_RULES__ALERTS_TOPIC": f"test.{scratch.unique}.alerts",
        # Batches of one: the first batch of each partition is a dead letter.
        "ALPR_PROJECTIONS__BATCH_SIZE": "1",
    }
    with WorkerProcess(tmp_path, free_port(), env=env) as worker:
        await asyncio.to_thread(worker.wait_ready, 180, 1, ("projection-pg",))
        health = await through_the_outage(worker)
        assert await pg_event_ids(scratch.dsn) == []
        assert health is not None and health["status"] == "degraded", health
        assert "registry" in health["waiting_on"], health

        await registry_gate.open()
        expected = sorted(r["event_id"] for r in reads)
        deadline = time.monotonic() + 120
        while sorted(map(str, await pg_event_ids(scratch.dsn))) != expected:
            assert time.monotonic() < deadline, f"reads missing:\n{worker.log_tail()}"
            assert worker.process is not None and worker.process.poll() is None
            await asyncio.sleep(1)
        letters = await dead_letters(bootstrap, scratch.dlq, cache)
        # Each once or more: the alerting stage may dead-letter what it cannot decode too.
        sources = {(d["topic"], d["partition"], d["offset"], d["reason"]) for d in letters}
        assert sources == {(scratch.detected, p, 0, "wrong_magic") for p in range(bad)}
        after = await asyncio.to_thread(worker.health)
        assert after is not None and "registry" not in after["waiting_on"], after
