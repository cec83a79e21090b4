"""Reads transcoded straight from Avro into binary COPY rows (``stores.copy_rows``) are stored
in the real PostgreSQL exactly as the same reads decoded by fastavro and encoded by asyncpg.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiokafka import ConsumerRecord

from agents.projections.pg import PostgresProjection
from config.settings import Settings
from stores.copy_rows import READ_SCHEMA, ReadTranscoder
from stores.pg_writer import PgReadWriter
from stores.rows import read_row
from streams.codec import decode
from streams.failures import ProcessingError
from streams.retry import Backoff
from tests.integration.conftest import require_port
from tests.support.stores import encode_reads, migrated_database, plate_read_datum
from tests.support.streams import memory_schema_cache

pytestmark = pytest.mark.integration

BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def dsn(settings: Settings, unique: str) -> AsyncIterator[str]:
    require_port(settings.postgres.dsn.split("@")[-1].split("/")[0], "PostgreSQL")
    async with migrated_database(settings.postgres.dsn, f"alpr_test_{unique}") as scratch:
        yield scratch


def varied_reads() -> list[dict[str, Any]]:
    """Reads that touch every branch: nulls and values of each optional field, multi-byte
    text and lengths, both locations, empty and long arrays, extreme numbers."""
    long_text = "Ünïcødé gate 🚗 " * 8  # over 63 bytes: a multi-byte Avro length
    return [
        plate_read_datum(captured_at=BASE, location=None, vehicle_box=None),
        plate_read_datum(
            captured_at=BASE + timedelta(hours=30, milliseconds=7),
            region="GB-ENG", vehicle_type="van", plate_crop_key="crops/a.jpg",
            vehicle_image_key="vehicles/a.jpg", char_confidences=[0.5] * 40,
            vehicle_box={"x": 0, "y": -5, "width": 1920, "height": 1080},
            location={"lat": -89.999999, "lon": 179.123456789},
            model_versions={"z": "1", "a": "é", "m": "x" * 100},
            track_id=2**62, frames_agreed=0, edge_version=long_text, site_id=long_text,
            camera={"known": False, "name": None, "zone": None, "state": None,
                    "location": {"lat": 1.0, "lon": 2.0}},
        ),
        plate_read_datum(
            captured_at=datetime(1999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
            location=None, char_confidences=[], model_versions={}, direction="left",
            camera={"known": True, "name": long_text, "zone": "Z", "state": "online",
                    "location": {"lat": 51.0, "lon": -0.5}},
        ),
        plate_read_datum(captured_at=BASE, supersedes="an-earlier-preview", plate_confidence=1.0),
    ]  # fmt: skip


async def stored(dsn: str) -> tuple[dict[str, dict[str, Any]], list[tuple[Any, ...]]]:
    """Every stored row by event id, and the hourly rollup."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT * FROM plate_reads")
        hourly = await conn.fetch("SELECT * FROM plate_reads_hourly ORDER BY 1, 2")
    finally:
        await conn.close()
    return {row["event_id"]: dict(row) for row in rows}, [tuple(h) for h in hourly]


async def test_a_transcoded_row_equals_the_row_asyncpg_encodes(dsn: str, unique: str) -> None:
    cache = memory_schema_cache()
    reads = varied_reads()
    messages = [value for _, value in encode_reads(cache, f"d{unique}-value", reads)]
    transcode = ReadTranscoder(cache)
    writer = PgReadWriter(dsn)
    try:
        # The old path: fastavro decodes each message, read_row makes a tuple, asyncpg encodes.
        decoded = [decode(m, READ_SCHEMA, cache) for m in messages]
        assert await writer.write([read_row(r) for r in decoded]) == len(reads)
        by_asyncpg, hourly = await stored(dsn)
        rows = [transcode(m) for m in messages]
        # The same reads again under other ids, by the transcoded path.
        renamed = [row._replace(data=row.data.replace(r["event_id"].encode(),
                                                      r["event_id"][::-1].encode()))
                   for row, r in zip(rows, reads, strict=True) if row is not None]  # fmt: skip
        assert await writer.write_copy_rows(renamed) == len(reads)
    finally:
        await writer.close()
    both, hourly_after = await stored(dsn)
    assert len(both) == 2 * len(reads)
    for event_id, row in by_asyncpg.items():
        twin = both[event_id[::-1]]
        assert {**twin, "event_id": event_id} == row
    # The rollup counted the transcoded reads as well: every count doubled.
    assert hourly_after == [(camera, hour, 2 * n) for camera, hour, n in hourly]


async def test_a_row_postgresql_refuses_is_dead_lettered_alone(dsn: str, unique: str) -> None:
    # A NUL character is valid Avro text but PostgreSQL text cannot hold it.
    reads = [plate_read_datum() for _ in range(9)]
    reads[5]["camera"] = {**reads[5]["camera"], "name": "gate\x00north"}
    cache = memory_schema_cache()
    transcode = ReadTranscoder(cache)
    records = [
        ConsumerRecord(f"t{unique}", 0, offset, 0, 0, None, value, None, 0, 0, [])
        for offset, (_, value) in enumerate(encode_reads(cache, f"d{unique}-value", reads))
    ]
    letters: list[tuple[int, str]] = []

    async def dead_letter(record: ConsumerRecord, error: ProcessingError) -> None:
        letters.append((record.offset, error.message))

    writer = PgReadWriter(dsn)
    try:
        projection = PostgresProjection(writer, Backoff(), dead_letter)
        rows = [(r, transcode(r.value)) for r in records]
        assert await projection.store(rows) == len(reads) - 1
    finally:
        await writer.close()
    assert [offset for offset, _ in letters] == [5]
    assert "PostgreSQL write refused the read" in letters[0][1]
    stored_rows, _ = await stored(dsn)
    assert set(stored_rows) == {r["event_id"] for i, r in enumerate(reads) if i != 5}
