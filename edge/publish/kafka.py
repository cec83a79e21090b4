"""Avro events to Kafka through the schema registry, from the spool, in order."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaProducer
from opentelemetry.context import Context

from edge.publish.sender import SpoolSender, Unsendable
from edge.publish.spool import Item, Spool
from streams import tracing
from streams.codec import AvroSchema, SchemaCache, encode, value_subject
from streams.registry import SchemaRegistryClient
from streams.retry import Backoff

logger = logging.getLogger(__name__)


def _traced(item: Item) -> dict[str, Any] | None:
    """The span attributes of a spooled plate event; None for other records (untraced)."""
    if json.loads(item.meta)["record"] != "PlateEvent":
        return None
    datum = json.loads(item.value)
    return {"alpr.event_id": datum["event_id"], "alpr.camera": datum["camera_id"]}


def spooled_trace(item: Item) -> Context | None:
    """The trace the item was spooled in (its frame's), or None: its publish starts one."""
    traceparent = json.loads(item.meta).get("traceparent")
    if traceparent is None:
        return None
    return tracing.extract([(tracing.TRACEPARENT, traceparent.encode())])


class EventPublisher(SpoolSender):
    """Spools Avro datums and sends them keyed as given (``<topic>-value`` subjects)."""

    name = "events"

    def __init__(
        self,
        spool: Spool,
        bootstrap_servers: str,
        registry_url: str,
        batch: int = 100,
        backoff: Backoff | None = None,
        request_timeout_ms: int = 10_000,
    ) -> None:
        super().__init__(spool, batch, backoff)
        self.bootstrap_servers = bootstrap_servers
        self.request_timeout_ms = request_timeout_ms
        self.schemas = SchemaCache(SchemaRegistryClient(registry_url))
        self._producer: AIOKafkaProducer | None = None

    def enqueue(
        self,
        topic: str,
        key: str,
        record: str,
        datum: Mapping[str, Any],
        evictable: bool = False,
    ) -> int:
        """Write the datum of ``record`` (e.g. PlateEvent) to the spool; its sequence number.
        ``evictable`` items (superseded kinds) make room for others when the spool is full;
        ``SpoolFull`` when it is full all the same. Spooled within a trace (an edge frame's,
        ``edge.frame_trace``), the item keeps its context: its publish continues that trace."""
        fields = {"topic": topic, "record": record}
        traceparent = tracing.current_traceparent()
        if traceparent is not None:
            fields["traceparent"] = traceparent
        meta = json.dumps(fields)
        value = json.dumps(datum, separators=(",", ":")).encode()
        return self.spool.put(key, value, meta, evictable=evictable)

    async def send(self, items: list[Item]) -> None:
        # A connected producer whose broker goes away keeps the batch and retries it until
        # the broker is back. Giving up on it then (a new producer sending the items again)
        # would duplicate the batch once the old producer delivers it after all: so wait
        # on, saying so, and give up only when the worker stops.
        task = asyncio.ensure_future(self._send(items))
        timeout_s = 2 * self.request_timeout_ms / 1000
        while True:
            done, _ = await asyncio.wait({task}, timeout=timeout_s)
            if done:
                return task.result()
            self.stats.up = False
            self.stats.failures += 1
            self.stats.last_error = f"batch not acknowledged within {timeout_s:g} s"
            logger.warning("%s: broker not acknowledging; items stay spooled", self.name)
            if self.stopping.is_set():
                task.cancel()
                raise ConnectionError("stopping with a batch not acknowledged")

    async def _send(self, items: list[Item]) -> None:
        messages = [await self._encode(item) for item in items]
        producer = await self._connected()
        # Each plate event's publish span continues the trace of the frame that made it, or
        # starts one (``streams.tracing``); the spans end once Kafka has the events.
        with tracing.publish_spans("edge publish", items, _traced, spooled_trace) as headers:
            # Idempotent producer: one partition per key keeps the send order; wait for all.
            pending = [
                await producer.send(topic, value=value, key=item.key.encode(), headers=carried)
                for item, (topic, value), carried in zip(items, messages, headers, strict=True)
            ]
            await asyncio.gather(*pending)

    async def _encode(self, item: Item) -> tuple[str, bytes]:
        meta = json.loads(item.meta)
        topic, record = meta["topic"], meta["record"]
        schema = AvroSchema.named(record)
        # The registry client blocks; it is called once per subject and cached.
        schema_id = await asyncio.to_thread(self.schemas.id_for, value_subject(topic), schema)
        try:
            return topic, encode(schema_id, schema, json.loads(item.value))
        except (ValueError, TypeError, KeyError) as exc:
            raise Unsendable(f"does not encode as {record}: {exc}", item) from None

    async def _connected(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap_servers,
                acks="all",
                enable_idempotence=True,
                request_timeout_ms=self.request_timeout_ms,
                linger_ms=5,
            )
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def reset(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                await asyncio.wait_for(producer.stop(), 5.0)
            except Exception as exc:  # a broken connection may not close cleanly
                logger.debug("%s: closing after a failure: %s", self.name, exc)
