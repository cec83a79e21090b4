"""The seek at the end of a recovery (``ops.faust_fixes``), against the real broker: the
partitions without a committed offset are marked for a reset to the earliest (or latest)
offset and the seek returns while a fetch to that broker is still in flight; aiokafka's
``seek_to_beginning`` waited for that fetch to end (the fetch wait, 1.5 s in the worker).
Nothing is taken from them before the reset, which comes once the fetch has ended.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from config.settings import Settings
from ops import faust_fixes
from tests.integration.conftest import require_port
from tests.support.streams import scratch_topic

#: The fetch wait here: far longer than the test takes, so the fetch in flight stays so.
FETCH_WAIT_MS = 10_000


@pytest.fixture
async def topic(settings: Settings, unique: str) -> AsyncIterator[str]:
    require_port(settings.kafka.bootstrap_servers, "Kafka")
    bootstrap = settings.kafka.bootstrap_servers
    async with scratch_topic(bootstrap, f"test.{unique}.seek", partitions=2) as name:
        yield name


async def fetch_in_flight(consumer: AIOKafkaConsumer) -> set[asyncio.Task[bool]]:
    """Until the consumer has a fetch in flight; its pending tasks."""
    fetcher = consumer._fetcher
    while not fetcher._in_flight:
        await asyncio.sleep(0.05)
    return set(fetcher._pending_tasks)


@pytest.mark.parametrize(("reset", "expected"), [("earliest", [0, 0]), ("latest", [2, 0])])
async def test_partitions_without_a_commit_are_sought_while_a_fetch_is_in_flight(
    settings: Settings, topic: str, unique: str, reset: str, expected: list[int]
) -> None:
    first, second = TopicPartition(topic, 0), TopicPartition(topic, 1)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers)
    await producer.start()
    try:
        for value in (b"a", b"b"):
            await producer.send_and_wait(topic, value, partition=first.partition)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        group_id=f"test.{unique}.seek",
        enable_auto_commit=False,
        fetch_max_wait_ms=FETCH_WAIT_MS,
        request_timeout_ms=FETCH_WAIT_MS + 10_000,
    )
    await consumer.start()
    try:
        consumer.assign([first, second])
        # Away from where the seek must go, with a fetch waiting for records there.
        if reset == "earliest":
            await consumer.seek_to_end(first, second)
        else:
            await consumer.seek_to_beginning(first, second)
            assert [r.value for r in (await consumer.getmany(first, timeout_ms=10_000))[first]]
        waiting = await fetch_in_flight(consumer)

        committed = await faust_fixes._seek_every_partition(consumer, reset)

        assert committed == {first: None, second: None}
        # The seek did not wait for the fetch in flight to end; the partitions wait for
        # their reset meanwhile, with no position to fetch or hand records from.
        assert waiting and not any(task.done() for task in waiting)
        assignment = consumer._subscription.subscription.assignment
        assert all(assignment.state_value(tp).awaiting_reset for tp in (first, second))
        assert await consumer.getmany(timeout_ms=0) == {}
        assert [await consumer.position(tp) for tp in (first, second)] == expected
        assert all(task.done() for task in waiting)
    finally:
        await consumer.stop()
