"""The worker's Kafka consumer, as Faust builds it with ``ops.faust_fixes``, against the real
broker: while records it fetched wait to be taken, it sends no fetch that would leave their
partition out (and wait ``fetch_max_wait_ms`` for the others); once they are taken it
fetches every partition again. A partition Faust pauses is paused in the consumer too, and
its records not taken hold no fetch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from faust.types import TP

import alpr
from config.settings import Settings, get_settings
from ops import faust_fixes
from tests.integration.conftest import require_port
from tests.support.streams import scratch_topic


@pytest.fixture
async def topic(settings: Settings, unique: str) -> AsyncIterator[str]:
    require_port(settings.kafka.bootstrap_servers, "Kafka")
    bootstrap = settings.kafka.bootstrap_servers
    async with scratch_topic(bootstrap, f"test.{unique}.fetch-hold", partitions=2) as name:
        yield name


#: The hold in this test: far longer than the test takes, so no fetch can go for its expiry.
HOLD_MS = 60_000


def worker_consumer(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The aiokafka consumer Faust builds for the worker (fixes applied), not started."""
    settings = get_settings()
    held = settings.model_copy(
        update={"faust": settings.faust.model_copy(update={"fetch_hold_ms": HOLD_MS})}
    )
    monkeypatch.setattr(faust_fixes, "get_settings", lambda: held)
    app_consumer: Any = alpr.app.consumer
    thread = app_consumer._thread
    return thread._create_worker_consumer(alpr.app.transport)


@asynccontextmanager
async def started(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Any, AIOKafkaProducer]]:
    """The worker's consumer (see :func:`worker_consumer`) and a producer, both started."""
    consumer = worker_consumer(monkeypatch)
    await consumer.start()
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers)
    await producer.start()
    try:
        yield consumer, producer
    finally:
        await producer.stop()
        await consumer.stop()


async def waiting_records(fetcher: Any, tp: TopicPartition) -> None:
    """Until the fetcher holds records of ``tp`` not taken yet."""
    while tp not in fetcher._records:
        await asyncio.sleep(0.05)


async def test_records_waiting_to_be_taken_hold_the_next_fetch(
    settings: Settings, topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    busy, idle = TopicPartition(topic, 0), TopicPartition(topic, 1)
    async with started(settings, monkeypatch) as (consumer, producer):
        fetcher = consumer._fetcher
        assert fetcher._prefetch_backoff == HOLD_MS / 1000
        consumer.assign([busy, idle])
        await consumer.seek_to_beginning(busy, idle)
        await producer.send_and_wait(topic, b"read", partition=busy.partition)
        await asyncio.wait_for(waiting_records(fetcher, busy), timeout=30)
        # Longer than aiokafka's own hold (100 ms), after which it fetched the idle alone.
        await asyncio.sleep(0.5)

        assert not fetcher._in_flight  # no fetch of the idle partition alone
        assignment = consumer._subscription.subscription.assignment
        requests, _, hold_s, _, _ = fetcher._get_actions_per_node(assignment)
        assert requests == []
        assert hold_s > 0

        taken = await consumer.getmany(busy, timeout_ms=0)
        assert [r.value for r in taken[busy]] == [b"read"]
        requests, _, _, _, _ = fetcher._get_actions_per_node(assignment)
        fetched = {
            TopicPartition(name, partition[0])
            for _node, request in requests
            for name, partitions in request.topics
            for partition in partitions
        }
        assert fetched == {busy, idle}


async def test_a_partition_faust_pauses_holds_no_fetch_and_is_fetched_again_on_resume(
    settings: Settings, topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Faust pauses a table's changelog partitions once recovered and never takes their
    # records; the worker writes them itself. Their records must not hold the next fetch.
    reads, changelog = TopicPartition(topic, 0), TopicPartition(topic, 1)
    async with started(settings, monkeypatch) as (consumer, producer):
        fetcher = consumer._fetcher
        consumer.assign([reads, changelog])
        await consumer.seek_to_beginning(reads, changelog)
        await producer.send_and_wait(topic, b"state", partition=changelog.partition)
        await asyncio.wait_for(waiting_records(fetcher, changelog), timeout=30)

        faust_fixes.pause_in_fetcher(consumer, [TP(changelog.topic, changelog.partition)])
        assert changelog not in fetcher._records
        assert consumer.paused() == {changelog}
        await producer.send_and_wait(topic, b"read", partition=reads.partition)
        # With the changelog's record held (HOLD_MS), no fetch could bring this read.
        taken = await consumer.getmany(reads, timeout_ms=30_000)
        assert [r.value for r in taken[reads]] == [b"read"]

        faust_fixes.resume_in_fetcher(consumer, [TP(changelog.topic, changelog.partition)])
        again = await consumer.getmany(changelog, timeout_ms=30_000)
        assert [r.value for r in again[changelog]] == [b"state"]  # from where it was
