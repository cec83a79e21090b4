"""The handler the projections share: a batch decoded in one go, messages that do not decode
dead-lettered once (with their topic, partition and offset), the rest stored, and a batch
the store gives up on left unhandled."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import ConsumerRecord

import agents.projections.common as common
from config.projections import ProjectionSettings
from streams.batch_consumer import Batch
from streams.codec import SchemaCache
from streams.failures import ProcessingError
from streams.retry import Abandoned, Backoff
from tests.support.stores import encode_reads, plate_read_datum
from tests.support.streams import memory_schema_cache

TOPIC = "alpr.plates.detected"
BACKOFF = Backoff(0.01, 0.01)


def record(value: bytes | None, offset: int) -> ConsumerRecord:
    return ConsumerRecord(TOPIC, 0, offset, 1_700_000_000_000, 0, b"k", value, None, 1,
                          len(value or b""), [("h", b"1")])  # fmt: skip


@pytest.fixture
def cache() -> SchemaCache:
    return memory_schema_cache()


@pytest.fixture
def letters(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any, ProcessingError]]:
    sent: list[tuple[str, Any, ProcessingError]] = []

    async def dead_letter(store: str, rec: Any, error: ProcessingError) -> None:
        sent.append((store, rec, error))

    monkeypatch.setattr(common, "dead_letter", dead_letter)
    return sent


def messages(cache: SchemaCache, count: int) -> list[bytes]:
    reads = [plate_read_datum() for _ in range(count)]
    return [value for _, value in encode_reads(cache, f"{TOPIC}-value", reads)]


async def test_a_batch_is_stored_and_bad_messages_dead_lettered_once(
    letters: list[tuple[str, Any, ProcessingError]], cache: SchemaCache
) -> None:
    values = messages(cache, 3)
    batch = Batch([record(values[0], 0), record(b"\x01junk", 1), record(values[1], 2),
                   record(values[2], 3)], generation=0)  # fmt: skip
    stored: list[list[int]] = []
    flushed = 0

    async def store(reads: list[common.Pair]) -> int:
        stored.append([rec.offset for rec, _ in reads])
        return len(reads)

    async def flush() -> None:
        nonlocal flushed
        flushed += 1

    projection = common.Projection("pg", store, True, BACKOFF, cache, flush)
    await projection.handle(batch)
    assert stored == [[0, 2, 3]]
    assert [(s, r.offset, err.reason.value) for s, r, err in letters] == [("pg", 1, "wrong_magic")]
    assert flushed == 1  # the dead letter is in Kafka before the batch counts as handled

    letters.clear()
    quiet = common.Projection("es", store, False, BACKOFF, cache, flush)
    await quiet.handle(batch)
    assert letters == [] and flushed == 1


async def test_a_batch_the_store_gives_up_on_is_not_handled(
    letters: list[tuple[str, Any, ProcessingError]], cache: SchemaCache
) -> None:
    batch = Batch([record(messages(cache, 1)[0], 7)], generation=0)

    async def store(reads: list[common.Pair]) -> int:
        raise Abandoned("stopping")

    with pytest.raises(Abandoned):
        await common.Projection("pg", store, True, BACKOFF, cache).handle(batch)


def test_a_record_is_dead_lettered_with_its_place_and_headers() -> None:
    message = common.RecordMessage.of(record(b"payload", 42))
    assert (message.topic, message.partition, message.offset) == (TOPIC, 0, 42)
    assert message.timestamp == 1_700_000_000.0 and message.headers == [("h", b"1")]


def test_the_consumer_follows_the_projection_settings() -> None:
    settings = ProjectionSettings(batch_size=123, batch_within_s=0.05, batches_in_flight=3)
    consumer = common.consumer_settings(settings)
    assert (consumer.max_records, consumer.fetch_wait_ms, consumer.max_in_flight) == (123, 50, 3)
