"""Counting a drill's events by id where they end: the detected topic, PostgreSQL,
Elasticsearch, and the dead-letter topic.

Each count is a ``Counter`` of ids, so an event missing from a store and an event written
twice both show. A store that does not answer (it may be the one a drill took down) counts
as holding nothing yet.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from elasticsearch import ApiError, AsyncElasticsearch, TransportError

from stores.es_docs import alias_name
from streams.codec import AvroSchema, SchemaCache, decode

READ_SCHEMA = AvroSchema.named("PlateRead")
LETTER_SCHEMA = AvroSchema.named("DeadLetter")
#: The stores counted, in the order of the drill's table.
STORES = ("detected", "postgres", "elasticsearch")


async def partitions_of(bootstrap: str, topic: str) -> list[TopicPartition]:
    """The partitions of ``topic`` (none if it does not exist)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return [TopicPartition(topic, p["partition"]) for p in described.get("partitions", [])]


async def topic_total(bootstrap: str, topic: str) -> int:
    """Records on ``topic`` (the sum of its partitions' end offsets)."""
    partitions = await partitions_of(bootstrap, topic)
    if not partitions:
        return 0
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


async def read_topic(bootstrap: str, topic: str, timeout_s: float = 60.0) -> list[Any]:
    """Every record of ``topic`` from the start to its end offsets now."""
    partitions = await partitions_of(bootstrap, topic)
    records: list[Any] = []
    if not partitions:
        return records
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        deadline = time.monotonic() + timeout_s
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic} was not read to its end in {timeout_s:.0f}s")
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for batch in batches.values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def detected_ids(bootstrap: str, topic: str, cache: SchemaCache) -> Counter[str]:
    """Event ids of the reads on the detected topic, with how often each is there."""
    records = await read_topic(bootstrap, topic)
    return Counter(str(decode(r.value, READ_SCHEMA, cache)["event_id"]) for r in records)


async def dead_letters(bootstrap: str, topic: str, cache: SchemaCache) -> list[dict[str, Any]]:
    """The dead letters on ``topic``, decoded."""
    return [decode(r.value, LETTER_SCHEMA, cache) for r in await read_topic(bootstrap, topic)]


def letter_id(letter: dict[str, Any]) -> str:
    """The id a dead letter is counted under: its original message's key."""
    key = letter.get("key")
    return key.decode(errors="replace") if key else str(letter.get("event_id") or "")


async def postgres_ids(dsn: str, ids: Sequence[str]) -> Counter[str]:
    """How many rows of ``plate_reads`` each of ``ids`` has (none while PostgreSQL is down)."""
    try:
        conn = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return Counter()
    try:
        rows = await conn.fetch(
            "SELECT event_id, count(*) FROM plate_reads WHERE event_id = any($1::text[]) "
            "GROUP BY event_id",
            list(ids),
        )
    except (OSError, asyncpg.PostgresError):
        return Counter()
    finally:
        await conn.close()
    return Counter({r[0]: int(r[1]) for r in rows})


async def elasticsearch_ids(url: str, prefix: str, ids: Sequence[str]) -> Counter[str]:
    """How many documents each of ``ids`` has behind the reads' alias (none while
    Elasticsearch is down)."""
    client = AsyncElasticsearch(url, max_retries=0, request_timeout=30)
    found: Counter[str] = Counter()
    alias = alias_name(prefix)
    try:
        await client.indices.refresh(index=alias, allow_no_indices=True, ignore_unavailable=True)
        for start in range(0, len(ids), 5000):
            chunk = list(ids[start : start + 5000])
            response = await client.search(
                index=alias, query={"ids": {"values": chunk}}, size=len(chunk), source=False,
                ignore_unavailable=True, allow_no_indices=True,
            )  # fmt: skip
            found.update(hit["_id"] for hit in response["hits"]["hits"])
    except (ApiError, TransportError, OSError):
        return Counter()
    finally:
        await client.close()
    return found
