"""Reading a whole topic back in tests, so a lost or duplicated message shows."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient


async def consume_topic(bootstrap: str, topic: str, expected: int, polls: int = 60) -> list[Any]:
    """Every message of ``topic`` from the start, polling until ``expected`` came (at most
    ``polls`` half-second polls), then once more so a duplicate would show up."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    messages: list[Any] = []
    try:
        for _ in range(polls):
            batch = await consumer.getmany(timeout_ms=500)
            messages += [m for part in batch.values() for m in part]
            if len(messages) >= expected:
                batch = await consumer.getmany(timeout_ms=1500)
                messages += [m for part in batch.values() for m in part]
                break
    finally:
        await consumer.stop()
    return messages


async def committed(bootstrap: str, group: str, topic: str) -> int:
    """Messages of ``topic`` the consumer group ``group`` has committed, over all partitions
    (0 for a group that has committed nothing)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return sum(max(meta.offset, 0) for tp, meta in offsets.items() if tp.topic == topic)
