"""The body the projection agents share: batches stored in order, decode failures
dead-lettered once, and offsets held back for every batch that was not stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

import agents.projections_common as common
from stores.config import ProjectionSettings
from stores.retry import Abandoned
from stores.testing import encode_reads, plate_read_datum
from streams.codec import SchemaCache
from streams.failures import ProcessingError
from streams.testing import memory_schema_cache

TOPIC = "alpr.plates.detected"


class FakeStream:
    def __init__(self, batches: list[list[Any]]) -> None:
        self.batches = batches

    async def take_events(self, n: int, within: float) -> AsyncIterator[list[Any]]:
        for batch in self.batches:
            yield batch


def event(value: bytes | None, offset: int) -> Any:
    message = SimpleNamespace(value=value, tp=TP(TOPIC, 0), offset=offset, acked=False)
    return SimpleNamespace(message=message)


@pytest.fixture
def cache(monkeypatch: pytest.MonkeyPatch) -> SchemaCache:
    schema_cache = memory_schema_cache()
    monkeypatch.setattr(common, "default_schema_cache", lambda: schema_cache)
    return schema_cache


@pytest.fixture
def letters(
    monkeypatch: pytest.MonkeyPatch, cache: SchemaCache
) -> list[tuple[str, Any, ProcessingError]]:
    monkeypatch.setattr(common, "update_lag", lambda store, events: None)
    monkeypatch.setattr(common, "withhold_pending", lambda topic: 0)
    sent: list[tuple[str, Any, ProcessingError]] = []

    async def dead_letter(store: str, ev: Any, error: ProcessingError) -> None:
        sent.append((store, ev, error))

    monkeypatch.setattr(common, "dead_letter", dead_letter)
    return sent


def messages(cache: SchemaCache, count: int) -> list[bytes]:
    reads = [plate_read_datum() for _ in range(count)]
    return [value for _, value in encode_reads(cache, f"{TOPIC}-value", reads)]


SETTINGS = ProjectionSettings(retry_first_s=0.01, retry_max_s=0.01)


async def collect(stream: FakeStream, store: Any, own_failures: bool = True) -> list[int]:
    return [n async for n in common.run_projection("pg", stream, SETTINGS, store, own_failures)]


async def test_batches_are_stored_and_bad_messages_dead_lettered_once(
    letters: list[tuple[str, Any, ProcessingError]], cache: SchemaCache
) -> None:
    values = messages(cache, 3)
    first = [event(values[0], 0), event(b"\x01junk", 1)]
    second = [event(values[1], 2), event(values[2], 3)]
    stored: list[list[str]] = []

    async def store(reads: list[tuple[Any, dict[str, Any]]]) -> int:
        stored.append([read["event_id"] for _, read in reads])
        return len(reads)

    assert await collect(FakeStream([first, second]), store) == [1, 2]
    assert [len(batch) for batch in stored] == [1, 2]
    assert [(s, e.message.offset, err.reason.value) for s, e, err in letters] == [
        ("pg", 1, "wrong_magic")
    ]
    # Stored batches are acked by stream.take itself, not held back here.
    assert not any(e.message.acked for e in first + second)

    letters.clear()
    assert await collect(FakeStream([first]), store, own_failures=False) == [1]
    assert letters == []


async def test_an_abandoned_batch_is_held_back_and_the_next_goes_on(
    letters: list[tuple[str, Any, ProcessingError]], cache: SchemaCache
) -> None:
    values = messages(cache, 2)
    abandoned = [event(values[0], 0)]
    then = [event(values[1], 1)]
    calls = 0

    async def store(reads: list[tuple[Any, dict[str, Any]]]) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise Abandoned("stopping")
        return len(reads)

    assert await collect(FakeStream([abandoned, then]), store) == [1]
    assert abandoned[0].message.acked is True  # marked: the consumer cannot commit past it
    assert then[0].message.acked is False


async def test_a_bug_in_the_store_holds_the_batch_back_and_surfaces(
    letters: list[tuple[str, Any, ProcessingError]], cache: SchemaCache
) -> None:
    batch = [event(messages(cache, 1)[0], 0)]

    async def store(reads: list[tuple[Any, dict[str, Any]]]) -> int:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        await collect(FakeStream([batch]), store)
    assert batch[0].message.acked is True
