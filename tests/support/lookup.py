"""Plate reads for tests and the lookup benchmark, and loading them into both stores.

Reads repeat plates (so histories are long) and include look-alike siblings of plates (a B
read as 8, an O as 0...) and plates one character longer, so exact, prefix and fuzzy searches
all have something to find. Times are whole milliseconds, the precision Elasticsearch keeps.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from elasticsearch import AsyncElasticsearch

from stores.es_docs import index_for, read_document
from stores.es_writer import put_template
from stores.pg_writer import PgReadWriter
from stores.rows import read_row
from streams.plates import OCR_CONFUSIONS
from tests.support.stores import plate_read_datum

_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
_DIGIT_OF = OCR_CONFUSIONS
_LETTER_OF = {digit: letter for letter, digit in OCR_CONFUSIONS.items() if letter in "OIZSGB"}
VEHICLE_TYPES = ("car", "van", "truck", "motorcycle", "bus")
DIRECTIONS = ("approaching", "receding", "unknown")


def plate_pool(count: int, seed: int = 11) -> list[str]:
    """``count`` distinct plates: random ones, look-alike siblings and longer variants."""
    rnd = random.Random(seed)
    plates: list[str] = []
    seen: set[str] = set()
    while len(plates) < count:
        roll = rnd.random()
        if plates and roll < 0.15:
            plate = _lookalike(rnd, rnd.choice(plates))
        elif plates and roll < 0.2:
            plate = rnd.choice(plates)[:12] + rnd.choice(_LETTERS)
            plate = plate[:12]
        else:
            plate = (
                "".join(rnd.choice(_LETTERS) for _ in range(2))
                + f"{rnd.randrange(100):02d}"
                + "".join(rnd.choice(_LETTERS) for _ in range(3))
            )
        if plate not in seen:
            seen.add(plate)
            plates.append(plate)
    return plates


def _lookalike(rnd: random.Random, plate: str) -> str:
    spots = [i for i, c in enumerate(plate) if c in _DIGIT_OF or c in _LETTER_OF]
    if not spots:
        return plate
    i = rnd.choice(spots)
    c = plate[i]
    return plate[:i] + (_DIGIT_OF.get(c) or _LETTER_OF[c]) + plate[i + 1 :]


def reads(
    count: int, plates: Sequence[str], start: datetime, spread: timedelta, seed: int = 5,
    cameras: int = 12,
) -> Iterator[dict[str, Any]]:  # fmt: skip
    """``count`` reads spread evenly over ``spread`` from ``start``: a fifth of them by the
    first 1% of the plates (regulars, with long histories), the rest by any plate."""
    rnd = random.Random(seed)
    step_ms = max(1, int(spread.total_seconds() * 1000) // max(count, 1))
    regulars = max(1, len(plates) // 100)
    for n in range(count):
        drawn = rnd.randrange(regulars) if rnd.random() < 0.2 else rnd.randrange(len(plates))
        plate = plates[drawn]
        camera = rnd.randrange(cameras)
        yield plate_read_datum(
            event_id=str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
            camera_id=f"cam-{camera}",
            site_id=f"site-{camera % 3}",
            captured_at=start + timedelta(milliseconds=n * step_ms),
            plate_text=plate,
            plate_confidence=round(rnd.uniform(0.5, 1.0), 3),
            vehicle_type=rnd.choice(VEHICLE_TYPES),
            direction=rnd.choice(DIRECTIONS),
            camera={"known": True, "name": f"Gate {camera}", "zone": "A", "state": "online",
                    "location": {"lat": 51.0 + camera / 100, "lon": -0.1}},
            plate_crop_key=f"crops/{plate}/{n}.jpg",
        )  # fmt: skip


async def load_pg(dsn: str, batch: Sequence[dict[str, Any]]) -> int:
    """Store reads the way the projection does (COPY, then an idempotent insert)."""
    writer = PgReadWriter(dsn, partitions_ahead=1)
    try:
        return await writer.write([read_row(read) for read in batch])
    finally:
        await writer.close()


async def load_es(client: AsyncElasticsearch, prefix: str, batch: Sequence[dict[str, Any]]) -> int:
    """Index reads into their daily indices under the prefix's template and alias."""
    await put_template(client, prefix, shards=1, replicas=0)
    operations: list[dict[str, Any]] = []
    for read in batch:
        operations.append(
            {"create": {"_index": index_for(prefix, read["captured_at"]), "_id": read["event_id"]}}
        )
        operations.append(read_document(read))
    created = 0
    for start in range(0, len(operations), 10_000):
        response = await client.bulk(operations=operations[start : start + 10_000])
        created += sum(1 for item in response["items"] if item["create"]["status"] == 201)
    await client.indices.refresh(index=f"{prefix}-reads*")
    return created
