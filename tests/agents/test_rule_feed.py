"""The rule feed's batch handler: only the reads a rule needs go on, unchanged; all of them
until the rule set is loaded; a failed send sends the batch again."""

from __future__ import annotations

import dataclasses

import pytest
from aiokafka import ConsumerRecord
from aiokafka.partitioner import DefaultPartitioner

import agents.alerting.feed
from agents.alerting.bundles import decode_bundle
from agents.alerting.feed import RuleFeed, RulesLoaded
from agents.alerting.rule_book import RULE_BOOK
from agents.deadletters.letters import RecordMessage
from streams.batch_consumer import Batch
from streams.retry import Abandoned, Backoff
from tests.agents.memory_producer import MemoryProducer

WATCHED = {"AB12CDE", "XY99ZZZ", "CD34EFG"}
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


PARTITIONS = 4


def feed(producer: MemoryProducer, loaded: bool = True, backoff: Backoff | None = None) -> RuleFeed:
    async def ready() -> bool:
        return loaded

    return RuleFeed(
        producer, FEED, PARTITIONS, lambda plate: plate in WATCHED, ready,
        backoff or Backoff(0.01, 0.01),
    )  # fmt: skip


def forwarded(producer: MemoryProducer) -> list[tuple[int | None, RecordMessage]]:
    """Each forwarded read with the partition of the bundle that carried it."""
    assert all(s.topic == FEED and s.key is None for s in producer.sent)
    return [(s.partition, m) for s in producer.sent for m in decode_bundle(s.value or b"")]


def keyed_partition(key: bytes) -> int:
    """Where aiokafka's producer sends a keyed record among PARTITIONS."""
    return int(DefaultPartitioner()(key, list(range(PARTITIONS)), list(range(PARTITIONS))))


async def test_only_reads_a_rule_needs_go_on_unchanged() -> None:
    producer = MemoryProducer()
    batch = [
        record(0, b"QQ11QQQ"),
        record(1, b"AB12CDE", headers=[("h", b"v")]),
        record(2, b"ZZ00AAA"),
        record(3, b"XY99ZZZ"),
    ]
    await feed(producer).handle(Batch(batch, generation=0))
    out = sorted(forwarded(producer), key=lambda pair: pair[1].offset)
    assert [(m.topic, m.partition, m.offset, m.key, m.value, m.timestamp, list(m.headers))
            for _, m in out] == [
        (r.topic, r.partition, r.offset, r.key, r.value, r.timestamp / 1000, list(r.headers))
        for r in (batch[1], batch[3])
    ]  # fmt: skip
    # Each read goes to the partition its key would have chosen: the plate's state stays put.
    assert [p for p, _ in out] == [keyed_partition(b"AB12CDE"), keyed_partition(b"XY99ZZZ")]


async def test_reads_of_one_partition_share_bundles_in_order_and_within_bounds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(agents.alerting.feed, "BUNDLE_MAX_READS", 3)
    producer = MemoryProducer()
    batch = [record(i, f"PL{i % 5}".encode()) for i in range(40)]
    await feed(producer, loaded=False).handle(Batch(batch, generation=0))
    out = forwarded(producer)
    assert sorted(m.offset for _, m in out) == list(range(40))  # each read once
    for partition in range(PARTITIONS):  # in batch order within a partition
        offsets = [m.offset for p, m in out if p == partition]
        assert offsets == sorted(offsets)
        assert {keyed_partition(m.key or b"") for p, m in out if p == partition} <= {partition}
    sizes = [len(decode_bundle(s.value or b"")) for s in producer.sent]
    assert max(sizes) == 3 and len(producer.sent) < 40


async def test_a_large_read_closes_its_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agents.alerting.feed, "BUNDLE_MAX_BYTES", 300)
    producer = MemoryProducer()
    small, big = record(1, b"AB12CDE"), record(2, b"AB12CDE")
    big = dataclasses.replace(big, value=b"\x00" + b"x" * 400)
    await feed(producer).handle(Batch([small, big, record(3, b"AB12CDE")], generation=0))
    assert [[m.offset for m in decode_bundle(s.value or b"")] for s in producer.sent] == [
        [1], [2], [3]
    ]  # fmt: skip


async def test_every_read_goes_on_until_the_rules_are_loaded() -> None:
    producer = MemoryProducer()
    batch = [record(i, f"PL{i}".encode()) for i in range(5)]
    await feed(producer, loaded=False).handle(Batch(batch, generation=0))
    assert sorted(m.offset for _, m in forwarded(producer)) == [r.offset for r in batch]


async def test_a_read_without_a_key_goes_on_for_the_agent_to_dead_letter() -> None:
    producer = MemoryProducer()
    await feed(producer).handle(Batch([record(0, None)], generation=0))
    assert [(p, m.key) for p, m in forwarded(producer)] == [(0, None)]


async def test_a_failed_send_sends_the_batch_again() -> None:
    producer = MemoryProducer()
    producer.fail_deliveries = 1
    batch = [record(1, b"AB12CDE"), record(3, b"CD34EFG")]
    assert keyed_partition(b"AB12CDE") != keyed_partition(b"CD34EFG")  # two bundles
    await feed(producer).handle(Batch(batch, generation=0))
    # The first attempt delivered the second bundle; the retry delivers both.
    assert [m.key for _, m in forwarded(producer)] == [b"CD34EFG", b"AB12CDE", b"CD34EFG"]


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
