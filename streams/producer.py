"""The aiokafka producer of a batch service (router, rule feed): its own, beside Faust's.

Acknowledged by every in-sync replica and idempotent by default (``kafka.producer_acks``,
``kafka.producer_idempotence``), so a retry inside the producer adds no copy; no linger by
default (a batch service awaits its sends before committing, so waiting to fill requests
would only add to every message's latency; requests still batch themselves while one is in
flight).
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer

from config.settings import get_settings


class Producer(Protocol):
    """What a batch service needs of aiokafka's producer (a stand-in in unit tests)."""

    async def send(
        self, topic: str, value: bytes | None = None, key: bytes | None = None,
        partition: int | None = None, timestamp_ms: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[Any]: ...  # fmt: skip


def service_producer(
    client_id: str, linger_ms: int = 0, max_request_size: int = 1024 * 1024
) -> AIOKafkaProducer:
    """A producer for a batch service (not started)."""
    kafka = get_settings().kafka
    return AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers,
        client_id=client_id,
        **kafka.producer_options(),
        linger_ms=linger_ms,
        max_batch_size=1024 * 1024,
        max_request_size=max_request_size,
    )
