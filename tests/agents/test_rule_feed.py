"""The rule feed's batch handler: only the reads a rule needs go on, unchanged; all of them
until the rule set is loaded; a failed send sends the batch again."""

from __future__ import annotations

import pytest
from aiokafka import ConsumerRecord

from agents.rule_feed import RuleFeed, RulesLoaded
from agents.rules_sync import RULE_BOOK
from stores.retry import Abandoned, Backoff
from streams.batch_consumer import Batch
from tests.agents.memory_producer import MemoryProducer

WATCHED = {"AB12CDE", "XY99ZZZ"}
FEED = "alerts.reads"


def record(offset: int, key: bytes | None, headers: list[tuple[str, bytes]] | None = None) -> (
    ConsumerRecord
):  # fmt: skip
    value = b"\x00read-" + str(offset).encode()
    stamp = 1_700_000_000_000 + offset
    return ConsumerRecord(
        "alpr.plates.detected", offset % 2, offset, stamp, 0, key, value, None,
        len(key or b""), len(value), headers or [],
    )  # fmt: skip


def feed(producer: MemoryProducer, loaded: bool = True, backoff: Backoff | None = None) -> RuleFeed:
    async def ready() -> bool:
        return loaded

    return RuleFeed(
        producer, FEED, lambda plate: plate in WATCHED, ready, backoff or Backoff(0.01, 0.01)
    )


async def test_only_reads_a_rule_needs_go_on_unchanged() -> None:
    producer = MemoryProducer()
    batch = [
        record(0, b"QQ11QQQ"),
        record(1, b"AB12CDE", headers=[("h", b"v")]),
        record(2, b"ZZ00AAA"),
        record(3, b"XY99ZZZ"),
    ]
    await feed(producer).handle(Batch(batch, generation=0))
    assert [(s.topic, s.key, s.value, s.timestamp_ms) for s in producer.sent] == [
        (FEED, r.key, r.value, r.timestamp) for r in (batch[1], batch[3])
    ]
    assert producer.sent[0].headers == [("h", b"v")] and producer.sent[1].headers is None


async def test_every_read_goes_on_until_the_rules_are_loaded() -> None:
    producer = MemoryProducer()
    batch = [record(i, f"PL{i}".encode()) for i in range(5)]
    await feed(producer, loaded=False).handle(Batch(batch, generation=0))
    assert [s.key for s in producer.sent] == [r.key for r in batch]


async def test_a_read_without_a_key_goes_on_for_the_agent_to_dead_letter() -> None:
    producer = MemoryProducer()
    await feed(producer).handle(Batch([record(0, None)], generation=0))
    assert [s.key for s in producer.sent] == [None]


async def test_a_failed_send_sends_the_batch_again() -> None:
    producer = MemoryProducer()
    producer.fail_deliveries = 1
    batch = [record(1, b"AB12CDE"), record(3, b"XY99ZZZ")]
    await feed(producer).handle(Batch(batch, generation=0))
    # The first attempt delivered the second read; the retry delivers both.
    assert [s.key for s in producer.sent] == [b"XY99ZZZ", b"AB12CDE", b"XY99ZZZ"]


async def test_a_batch_is_given_up_when_the_consumer_stops() -> None:
    producer = MemoryProducer()
    producer.fail_deliveries = 5
    stopping = Backoff(0.01, 0.01, stopping=lambda: True)
    with pytest.raises(Abandoned):
        await feed(producer, backoff=stopping).handle(Batch([record(1, b"AB12CDE")], generation=0))
    assert producer.sent == []


async def test_the_rule_set_is_waited_for_once_not_per_batch() -> None:
    waits: list[int] = []

    async def wait() -> None:
        waits.append(1)  # the rule topic stays away: the wait times out, nothing loads

    loaded = RulesLoaded(wait)
    assert [await loaded() for _ in range(3)] == [RULE_BOOK.ready.is_set()] * 3
    assert waits == [1]
