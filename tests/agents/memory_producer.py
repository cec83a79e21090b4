"""An in-memory stand-in for the aiokafka producer of the batch services (router, rule
feed), for their unit tests; the real broker is tested in tests/integration."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiokafka.errors import KafkaTimeoutError


@dataclass(frozen=True)
class Written:
    """What a delivered send resolves to (aiokafka's RecordMetadata, in part)."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class Sent:
    topic: str
    key: bytes | None
    value: bytes | None
    partition: int | None
    timestamp_ms: int | None
    headers: list[tuple[str, bytes]] | None


class MemoryProducer:
    """Records each delivered send (and hands it to ``on_send``); ``fail_deliveries`` makes
    that many next deliveries fail as a broker that does not answer would."""

    def __init__(self, on_send: Callable[[Sent], Awaitable[None]] | None = None) -> None:
        self.on_send = on_send
        self.sent: list[Sent] = []
        self.fail_deliveries = 0
        self.offsets: Counter[tuple[str, int]] = Counter()

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[Written]:
        future: asyncio.Future[Written] = asyncio.get_running_loop().create_future()
        if self.fail_deliveries:
            self.fail_deliveries -= 1
            future.set_exception(KafkaTimeoutError("no broker"))
            return future
        sent = Sent(topic, key, value, partition, timestamp_ms, headers)
        self.sent.append(sent)
        if self.on_send is not None:
            await self.on_send(sent)
        place = (topic, partition or 0)
        future.set_result(Written(topic, place[1], self.offsets[place]))
        self.offsets[place] += 1
        return future
