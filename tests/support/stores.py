"""Helpers for tests and benchmarks of the projections: reads in the wire format, a scratch
database and index prefix, and counting what the stores hold.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from aiokafka import AIOKafkaProducer
from elasticsearch import AsyncElasticsearch

from stores.migrations import migrate
from streams.codec import AvroSchema, SchemaCache, encode
from streams.plates import normalise_plate, search_key
from tests.support.streams import plate_event_datum

READ_SCHEMA = AvroSchema.named("PlateRead")


def plate_read_datum(**overrides: Any) -> dict[str, Any]:
    """A valid PlateRead as a fastavro datum, with ``overrides``."""
    datum = plate_event_datum()
    datum.update(
        received_at=datetime.now(UTC),
        camera={"known": True, "name": "North gate", "zone": "A", "state": "online",
                "location": None},
    )  # fmt: skip
    datum.update(overrides)
    datum.setdefault("plate", normalise_plate(datum["plate_text"]))
    datum.setdefault("search_key", search_key(datum["plate"]))
    return datum


def read_workload(
    count: int, start: datetime, spread: timedelta, cameras: int = 20, seed: int = 7
) -> list[dict[str, Any]]:
    """``count`` reads of varied plates and cameras, captured over ``spread`` from ``start``."""
    import random

    rnd = random.Random(seed)
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    step = spread / max(count, 1)
    reads = []
    for n in range(count):
        plate = "".join(rnd.choice(letters) for _ in range(2)) + f"{rnd.randrange(100):02d}"
        plate += "".join(rnd.choice(letters) for _ in range(3))
        reads.append(
            plate_read_datum(
                event_id=str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
                camera_id=f"cam-{rnd.randrange(cameras)}",
                captured_at=start + step * n,
                plate_text=plate,
                plate_confidence=round(rnd.uniform(0.5, 1.0), 3),
            )
        )
    return reads


def encode_reads(
    cache: SchemaCache, subject: str, reads: Sequence[dict[str, Any]]
) -> list[tuple[bytes, bytes]]:
    """(key, value) messages of ``reads`` as the router sends them: keyed by plate."""
    schema_id = cache.id_for(subject, READ_SCHEMA)
    return [(r["plate"].encode(), encode(schema_id, READ_SCHEMA, r)) for r in reads]


async def produce(bootstrap: str, topic: str, messages: Sequence[tuple[bytes, bytes]]) -> None:
    """Send ``messages`` and wait until the broker has every one of them."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, acks="all")
    await producer.start()
    try:
        pending = []
        for key, value in messages:
            pending.append(await producer.send(topic, value=value, key=key))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def create_database(dsn: str, database: str) -> str:
    """Create a scratch database beside ``dsn``'s; return its DSN."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()
    return with_database(dsn, database)


async def drop_database(dsn: str, database: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await conn.close()


@asynccontextmanager
async def migrated_database(dsn: str, database: str) -> AsyncIterator[str]:
    """A scratch database beside ``dsn``'s with every migration applied; its DSN. Dropped
    on exit."""
    scratch = await create_database(dsn, database)
    try:
        conn = await asyncpg.connect(scratch)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        yield scratch
    finally:
        await drop_database(dsn, database)


async def pg_event_ids(dsn: str, table: str = "plate_reads") -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return [r[0] for r in await conn.fetch(f"SELECT event_id FROM {table}")]
    finally:
        await conn.close()


async def pg_scalar(dsn: str, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def es_count(client: AsyncElasticsearch, target: str) -> int:
    await client.indices.refresh(index=target, ignore_unavailable=True, allow_no_indices=True)
    response = await client.count(index=target, ignore_unavailable=True, allow_no_indices=True)
    return int(response["count"])


async def es_event_ids(client: AsyncElasticsearch, target: str) -> list[str]:
    """Every ``_id`` under ``target``, paging with search_after on the event id."""
    await client.indices.refresh(index=target, ignore_unavailable=True, allow_no_indices=True)
    ids: list[str] = []
    after: list[Any] | None = None
    while True:
        kwargs: dict[str, Any] = {"search_after": after} if after else {}
        response = await client.search(
            index=target, size=10_000, sort=[{"event_id": "asc"}], source=False,
            query={"match_all": {}}, ignore_unavailable=True, allow_no_indices=True, **kwargs,
        )  # fmt: skip
        hits = response["hits"]["hits"]
        if not hits:
            return ids
        ids.extend(hit["_id"] for hit in hits)
        after = hits[-1]["sort"]
