"""Reading a whole topic back in tests, so a lost or duplicated message shows."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer


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
