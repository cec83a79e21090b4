"""Test helpers for code that speaks the event contract: an in-memory schema registry and
ready-made valid events. Used by the project's tests; handy for any producer's tests too.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from streams.codec import AvroSchema, SchemaCache, encode
from streams.registry import RegistryError


class InMemoryRegistry:
    """Stands in for ``SchemaRegistryClient``: ids from 1, no compatibility checks."""

    def __init__(self) -> None:
        self.schemas: dict[int, str] = {}
        self.subjects: dict[str, list[int]] = {}
        self.compatibility: dict[str, str] = {}
        self.lookups = 0

    def set_compatibility(self, subject: str, level: str) -> None:
        self.compatibility[subject] = level

    def register(self, subject: str, schema: str) -> int:
        known = {text: schema_id for schema_id, text in self.schemas.items()}
        schema_id = known.get(schema) or len(self.schemas) + 1
        self.schemas[schema_id] = schema
        versions = self.subjects.setdefault(subject, [])
        if schema_id not in versions:
            versions.append(schema_id)
        return schema_id

    def schema_by_id(self, schema_id: int) -> str:
        self.lookups += 1
        try:
            return self.schemas[schema_id]
        except KeyError:
            raise RegistryError(f"schema {schema_id} not found", status=404) from None


def memory_schema_cache() -> SchemaCache:
    """A ``SchemaCache`` on a fresh ``InMemoryRegistry``."""
    return SchemaCache(InMemoryRegistry())  # type: ignore[arg-type]


def plate_event_datum(**overrides: Any) -> dict[str, Any]:
    """A valid PlateEvent as a dict (fastavro datum), captured now, with ``overrides``."""
    datum: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "site_id": "site-1",
        "camera_id": "cam-1",
        "captured_at": datetime.now(UTC),
        "plate_text": "AB12 CDE",
        "plate_confidence": 0.93,
        "char_confidences": [0.9, 0.95, 0.97, 0.9, 0.92, 0.91, 0.94],
        "region": "GB",
        "plate_box": {"x": 410, "y": 300, "width": 120, "height": 32},
        "vehicle_box": {"x": 300, "y": 120, "width": 420, "height": 330},
        "vehicle_type": "car",
        "direction": "approaching",
        "track_id": 17,
        "frames_agreed": 4,
        "plate_crop_key": "crops/site-1/cam-1/plate.jpg",
        "vehicle_image_key": "crops/site-1/cam-1/vehicle.jpg",
        "model_versions": {"detector": "yolov8n", "ocr": "ppocr-rec"},
        "edge_version": "0.1.0",
        "location": {"lat": 51.5, "lon": -0.12},
        "preview": False,
        "supersedes": None,
        "vehicle_colour": "blue",
    }
    datum.update(overrides)
    return datum


def encode_plate_event(
    cache: SchemaCache, subject: str = "alpr.plates.raw-value", **overrides: Any
) -> bytes:
    """A PlateEvent in the wire format, its schema registered in ``cache``'s registry."""
    schema = AvroSchema.named("PlateEvent")
    return encode(cache.id_for(subject, schema), schema, plate_event_datum(**overrides))


async def create_topics(
    bootstrap_servers: str,
    names: list[str],
    partitions: int,
    configs: dict[str, dict[str, str]] | None = None,
) -> None:
    """Create topics (for tests against a real broker); existing ones are left alone."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        new = [NewTopic(n, partitions, 1, topic_configs=(configs or {}).get(n, {})) for n in names]
        try:
            await admin.create_topics(new)
        except TopicAlreadyExistsError:
            pass
    finally:
        await admin.close()


async def delete_topics(bootstrap_servers: str, names: list[str]) -> None:
    """Delete topics, ignoring those that do not exist."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [n for n in names if n in existing]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


@asynccontextmanager
async def scratch_topic(bootstrap_servers: str, name: str, partitions: int) -> AsyncIterator[str]:
    """A topic made for one test and deleted after it."""
    await create_topics(bootstrap_servers, [name], partitions=partitions)
    try:
        yield name
    finally:
        await delete_topics(bootstrap_servers, [name])
