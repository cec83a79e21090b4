"""Consumer lag from what the broker holds (issue 17, finding 2), against the real Kafka.

A batch consumer whose handler waits (a store down) has handed out every message, so its own
view of its lag is 0; the committed lag, the log end minus the group's committed offset, is
every message still waiting, and that is what ``status()`` (``/health``) and the
``alpr_consumer_lag`` gauge must say, per group and partition. Before the fix ``/health``
showed 0 during a store outage while thousands of messages waited.
"""

from __future__ import annotations

import asyncio

from prometheus_client import REGISTRY

from config.settings import Settings
from streams.batch_consumer import Batch, BatchConsumer, BatchConsumerSettings
from streams.lag import GroupLag
from tests.integration.test_batch_consumer import produce_numbers, topic, until

__all__ = ["topic"]  # the fixture

MESSAGES = 400
SETTINGS = BatchConsumerSettings(max_records=5000, fetch_wait_ms=50, keepalive_s=0.2,
                                 stop_wait_s=2, lag_interval_s=0.3)  # fmt: skip


def gauge(group: str, topic: str) -> float:
    total = 0.0
    for partition in range(8):
        labels = {"group": group, "topic": topic, "partition": str(partition)}
        total += REGISTRY.get_sample_value("alpr_consumer_lag", labels) or 0.0
    return total


async def test_lag_is_the_committed_lag_while_the_handler_waits_for_a_store(
    settings: Settings, topic: str, unique: str
) -> None:
    bootstrap = settings.kafka.bootstrap_servers
    group = f"test-lag-{unique}"
    await produce_numbers(bootstrap, topic, 0, MESSAGES)
    store_back = asyncio.Event()
    handed: list[int] = []

    async def handle(batch: Batch) -> None:
        handed.append(len(batch))
        await store_back.wait()  # the store is down: the batch waits, nothing is committed

    consumer = BatchConsumer("lag-test", bootstrap, [topic], group, handle, SETTINGS)
    running = asyncio.create_task(consumer.run())
    try:
        await until("every message handed out", lambda: sum(handed) == MESSAGES)
        await until("the committed lag measured", lambda: consumer.status()["lag"] == MESSAGES)
        status = consumer.status()
        assert status["handed_out_lag"] == 0  # the figure /health showed before
        assert gauge(group, topic) == MESSAGES

        store_back.set()
        await until("the lag back to 0", lambda: consumer.status()["lag"] == 0)
        assert gauge(group, topic) == 0
    finally:
        consumer.stop_soon()
        store_back.set()
        await asyncio.wait_for(running, timeout=30)


async def test_the_lag_of_a_group_without_any_member_is_measured_too(
    settings: Settings, topic: str, unique: str
) -> None:
    """Nobody consumes (the only worker died): the lag is still every message waiting."""
    bootstrap = settings.kafka.bootstrap_servers
    await produce_numbers(bootstrap, topic, 0, 50)
    lag = GroupLag(bootstrap, f"test-lag-nobody-{unique}", [topic])
    await lag.start()
    try:
        partitions = await lag.measure()
    finally:
        await lag.stop()
    assert sum(p.lag for p in partitions) == 50 and len(partitions) >= 1
    assert all(p.committed is None for p in partitions)
