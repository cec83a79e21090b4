"""The batch consumer against the real Kafka: every message handed out, offsets committed only
after the handler, a failed batch read again, and two consumers of one group sharing the
partitions across a rebalance without losing a message."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiokafka import AIOKafkaProducer

from config.settings import Settings
from streams.batch_consumer import Batch, BatchConsumer, BatchConsumerSettings
from tests.integration.conftest import require_port
from tests.integration.kafka_reading import committed
from tests.support.streams import create_topics, delete_topics

PARTITIONS = 4
FAST = BatchConsumerSettings(max_records=500, fetch_wait_ms=50, keepalive_s=0.2,
                             revoke_wait_s=5, stop_wait_s=5)  # fmt: skip


class GiveUp(Exception):
    """The handler's 'abandoned' exception in these tests."""


@pytest.fixture
async def topic(settings: Settings, unique: str) -> AsyncIterator[str]:
    require_port(settings.kafka.bootstrap_servers, "Kafka")
    name = f"test.{unique}.batches"
    await create_topics(settings.kafka.bootstrap_servers, [name], partitions=PARTITIONS)
    yield name
    await delete_topics(settings.kafka.bootstrap_servers, [name])


async def produce_numbers(bootstrap: str, topic: str, start: int, count: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        for n in range(start, start + count):
            await producer.send(topic, key=str(n % 97).encode(), value=str(n).encode())
        await producer.flush()
    finally:
        await producer.stop()


async def until(
    what: str, check: Callable[[], Awaitable[bool] | bool], timeout: float = 90
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not reached within {timeout:.0f}s")
        await asyncio.sleep(0.2)


Handler = Callable[[Batch], Awaitable[None]]


def consumer(settings: Settings, topic: str, group: str, handler: Handler,
             name: str = "test") -> BatchConsumer:  # fmt: skip
    return BatchConsumer(name, settings.kafka.bootstrap_servers, [topic], group, handler,
                         FAST, abandoned=(GiveUp,))  # fmt: skip


async def test_every_message_is_handled_and_committed_only_after_its_handler(
    settings: Settings, topic: str, unique: str
) -> None:
    bootstrap = settings.kafka.bootstrap_servers
    group = f"test-batches-{unique}"
    await produce_numbers(bootstrap, topic, 0, 5000)
    seen: Counter[int] = Counter()
    release = asyncio.Event()
    calls = 0

    async def handler(batch: Batch) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            await release.wait()  # the first batch waits: nothing may be committed meanwhile
        seen.update(int(r.value) for r in batch.records)

    runner = consumer(settings, topic, group, handler)
    task = asyncio.create_task(runner.run())
    try:
        await until("the first batch handed out", lambda: calls >= 1)
        await asyncio.sleep(1.5)  # several keepalive polls with the partitions paused
        assert await committed(bootstrap, group, topic) == 0
        release.set()
        await until("every message handled", lambda: len(seen) == 5000)
        await until(
            "every offset committed",
            lambda: _equals(committed(bootstrap, group, topic), 5000),
            timeout=30,
        )
        assert set(seen) == set(range(5000)) and max(seen.values()) == 1
    finally:
        runner.stop_soon()
        await asyncio.wait_for(task, 30)


async def test_a_batch_given_up_is_read_again_and_a_stop_commits_nothing_unhandled(
    settings: Settings, topic: str, unique: str
) -> None:
    bootstrap = settings.kafka.bootstrap_servers
    group = f"test-batches-{unique}"
    await produce_numbers(bootstrap, topic, 0, 2000)
    seen: Counter[int] = Counter()
    failures = 0

    async def handler(batch: Batch) -> None:
        nonlocal failures
        if failures < 3:
            failures += 1
            raise GiveUp("store away")
        seen.update(int(r.value) for r in batch.records)

    runner = consumer(settings, topic, group, handler)
    task = asyncio.create_task(runner.run())
    try:
        await until("every message handled after the failures", lambda: len(seen) == 2000)
    finally:
        runner.stop_soon()
        await asyncio.wait_for(task, 30)
    assert set(seen) == set(range(2000))
    assert await committed(bootstrap, group, topic) == 2000

    # A handler stuck in an outage when the consumer stops: nothing of it is committed.
    await produce_numbers(bootstrap, topic, 2000, 500)
    stuck = asyncio.Event()

    async def outage(batch: Batch) -> None:
        stuck.set()
        while not runner.should_abandon():
            await asyncio.sleep(0.05)
        raise GiveUp("stopping")

    runner = consumer(settings, topic, group, outage)
    task = asyncio.create_task(runner.run())
    await until("the stuck batch", stuck.is_set)
    runner.stop_soon()
    await asyncio.wait_for(task, 30)
    assert await committed(bootstrap, group, topic) == 2000


async def test_two_consumers_of_one_group_share_the_work_and_lose_nothing_on_rebalance(
    settings: Settings, topic: str, unique: str
) -> None:
    bootstrap = settings.kafka.bootstrap_servers
    group = f"test-batches-{unique}"
    total = 20_000
    seen: Counter[int] = Counter()
    by: Counter[str] = Counter()

    def handler_of(name: str) -> Handler:
        async def handler(batch: Batch) -> None:
            await asyncio.sleep(0.05)  # a store's write
            seen.update(int(r.value) for r in batch.records)
            by[name] += len(batch)

        return handler

    await produce_numbers(bootstrap, topic, 0, total // 2)
    first = consumer(settings, topic, group, handler_of("a"), "a")
    tasks = [asyncio.create_task(first.run())]
    second = consumer(settings, topic, group, handler_of("b"), "b")
    try:
        await until("the first batches", lambda: len(seen) > 1000)
        # The second joins while the first has batches in flight: a rebalance mid-stream.
        tasks.append(asyncio.create_task(second.run()))
        await until("both consumers assigned", lambda: second.assignment() != set())
        await produce_numbers(bootstrap, topic, total // 2, total - total // 2)
        await until("every message handled", lambda: len(seen) == total, timeout=120)
        await until(
            "every offset committed",
            lambda: _equals(committed(bootstrap, group, topic), total),
            timeout=60,
        )
    finally:
        first.stop_soon()
        second.stop_soon()
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
    assert set(seen) == set(range(total))
    assert by["a"] > 0 and by["b"] > 0, by


async def _equals(value: Awaitable[int], expected: int) -> bool:
    return await value == expected
