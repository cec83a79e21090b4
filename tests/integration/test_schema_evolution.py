"""Schema evolution on the real registry and broker: BACKWARD is enforced, an optional field
is added and old readers and new writers interoperate, and a breaking change is refused."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from config.settings import Settings
from streams.codec import AvroSchema, SchemaCache, decode, encode
from streams.registry import IncompatibleSchemaError, SchemaRegistryClient
from tests.integration.conftest import require_port
from tests.support.stores import plate_read_datum
from tests.support.streams import create_topics, delete_topics, plate_event_datum

V1 = AvroSchema.named("PlateEvent")


def evolved(extra_field: dict[str, Any]) -> AvroSchema:
    schema = json.loads(V1.text)
    schema["fields"].append(extra_field)
    return AvroSchema.from_text(json.dumps(schema))


V2 = evolved({"name": "lane", "type": ["null", "int"], "default": None, "doc": "Lane number."})
BREAKING = evolved({"name": "lane", "type": "int", "doc": "Lane number, now required."})


@pytest.fixture
def registry(settings: Settings) -> SchemaRegistryClient:
    require_port(settings.schema_registry.url, "schema registry")
    return SchemaRegistryClient(settings.schema_registry.url)


@pytest.fixture
async def topic(
    settings: Settings, unique: str, registry: SchemaRegistryClient
) -> AsyncIterator[str]:
    require_port(settings.kafka.bootstrap_servers, "Kafka")
    name = f"test.schema-evolution.{unique}"
    await create_topics(settings.kafka.bootstrap_servers, [name], partitions=1)
    yield name
    await delete_topics(settings.kafka.bootstrap_servers, [name])
    registry.delete_subject(f"{name}-value", permanent=True)


async def round_trip(bootstrap: str, topic: str, messages: list[bytes]) -> list[bytes]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for message in messages:
            await producer.send_and_wait(topic, message)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        got: list[bytes] = []
        while len(got) < len(messages):
            batch = await consumer.getmany(timeout_ms=10_000)
            assert batch, f"only {len(got)} of {len(messages)} messages came back"
            got += [record.value for records in batch.values() for record in records]
        return got
    finally:
        await consumer.stop()


async def test_optional_field_interoperates_and_breaking_change_is_refused(
    settings: Settings, registry: SchemaRegistryClient, topic: str
) -> None:
    subject = f"{topic}-value"
    writer_cache = SchemaCache(registry)
    v1_id = writer_cache.id_for(subject, V1)
    assert registry.compatibility(subject) == "BACKWARD"

    assert registry.is_compatible(subject, V2.text)
    v2_id = writer_cache.id_for(subject, V2)
    assert v2_id != v1_id
    assert registry.versions(subject) == [1, 2]

    old_event = plate_event_datum()
    new_event = {**plate_event_datum(), "lane": 2}
    messages = [encode(v1_id, V1, old_event), encode(v2_id, V2, new_event)]
    received = await round_trip(settings.kafka.bootstrap_servers, topic, messages)

    # Fresh caches: each reader fetches the writer schemas by id from the registry.
    old_reader, new_reader = SchemaCache(registry), SchemaCache(registry)
    as_v1 = [decode(m, V1, old_reader) for m in received]
    assert [e["event_id"] for e in as_v1] == [old_event["event_id"], new_event["event_id"]]
    assert all("lane" not in e for e in as_v1)
    as_v2 = [decode(m, V2, new_reader) for m in received]
    assert [e["lane"] for e in as_v2] == [None, 2]

    assert not registry.is_compatible(subject, BREAKING.text)
    with pytest.raises(IncompatibleSchemaError):
        registry.register(subject, BREAKING.text)
    assert registry.versions(subject) == [1, 2]


def without(name: str, field: str) -> AvroSchema:
    """The project's schema ``name`` as it was before ``field`` was added."""
    schema = json.loads(AvroSchema.named(name).text)
    schema["fields"] = [f for f in schema["fields"] if f["name"] != field]
    return AvroSchema.from_text(json.dumps(schema))


@pytest.mark.parametrize("name", ["PlateEvent", "PlateRead"])
async def test_the_vehicle_colour_is_a_compatible_addition(
    settings: Settings, registry: SchemaRegistryClient, topic: str, name: str
) -> None:
    # Subjects registered before the field (every deployed topic) accept the schema with it,
    # and events of old edges and new ones are read by old and new readers alike.
    subject = f"{topic}-value"
    old, new = without(name, "vehicle_colour"), AvroSchema.named(name)
    cache = SchemaCache(registry)
    old_id = cache.id_for(subject, old)
    assert registry.is_compatible(subject, new.text)
    new_id = cache.id_for(subject, new)
    assert registry.versions(subject) == [1, 2]

    base = plate_read_datum() if name == "PlateRead" else plate_event_datum()
    old_datum = {k: v for k, v in base.items() if k != "vehicle_colour"}
    new_datum = {**base, "vehicle_colour": "white"}
    messages = [encode(old_id, old, old_datum), encode(new_id, new, new_datum)]
    received = await round_trip(settings.kafka.bootstrap_servers, topic, messages)
    as_new = [decode(m, new, SchemaCache(registry)) for m in received]
    assert [e["vehicle_colour"] for e in as_new] == [None, "white"]
    as_old = [decode(m, old, SchemaCache(registry)) for m in received]
    assert all("vehicle_colour" not in e for e in as_old)
    assert [e["event_id"] for e in as_old] == [base["event_id"]] * 2
