"""The rule feed's batch handler as a stage: a failed send evaluates the batch again from
the state before it (no alert lost for a read taken for a redelivery), a stop gives the
batch up with its state put back, the rule set is waited for once, and a partition's state
is restored from its changelog when it is assigned."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import TopicPartition

import agents.alerting.feed
import tables.local
from agents.alerting.feed import RulesLoaded
from agents.alerting.rule_book import RULE_BOOK
from streams.alert import alert_id
from streams.retry import Abandoned, Backoff
from tables.plate_state import encode_plate_key
from tables.rule_state import PlateRuleState, encode_state
from tests.agents.feed_harness import (
    ALERTS_TOPIC,
    CHANGELOG,
    FeedHarness,
    partition_of,
    plate_read,
    use_rules,
)

RATE = {"type": "rate", "name": "circling", "count": 2, "window": 60}


@pytest.fixture(autouse=True)
def clean_rules() -> Iterator[None]:
    RULE_BOOK.rules.clear()
    RULE_BOOK.ready.set()
    yield
    RULE_BOOK.rules.clear()


async def test_a_failed_send_evaluates_the_batch_again_from_the_state_before_it() -> None:
    feed = FeedHarness()
    use_rules(RATE)
    await feed.put(plate_read(1))
    before = feed.states.encoded["AB123CD"]
    feed.producer.sent.clear()
    feed.producer.fail_deliveries = 1  # the alert of the next read does not reach Kafka
    await feed.put(plate_read(2, seconds=10))
    # Tried again as if the first try had not happened: the read is not taken for a
    # redelivery, and its alert goes out.
    (alert,) = feed.alerts
    assert alert.alert_id == alert_id("circling", ["ev-1", "ev-2"])
    (_, _, state) = feed.changelog[-1]
    assert [s.event_id for s in state.sightings] == ["ev-1", "ev-2"]
    assert feed.states.encoded["AB123CD"] != before


async def test_a_failed_state_write_sends_the_alert_again_with_the_same_id() -> None:
    feed = FeedHarness()
    use_rules(RATE)
    await feed.put(plate_read(1))
    feed.producer.sent.clear()
    sends = feed.producer.send

    async def lose_the_first_state_write(topic: str, *args: Any, **kwargs: Any) -> Any:
        if topic == CHANGELOG and not getattr(lose_the_first_state_write, "done", False):
            lose_the_first_state_write.done = True  # type: ignore[attr-defined]
            feed.producer.fail_deliveries = 1
        return await sends(topic, *args, **kwargs)

    feed.producer.send = lose_the_first_state_write  # type: ignore[method-assign]
    await feed.put(plate_read(2, seconds=10))
    ids = [a.alert_id for a in feed.alerts]
    assert ids == [alert_id("circling", ["ev-1", "ev-2"])] * 2  # the notifier delivers one
    assert [s.topic for s in feed.producer.sent] == [ALERTS_TOPIC, ALERTS_TOPIC, CHANGELOG]


async def test_a_batch_is_given_up_with_its_state_put_back_when_the_consumer_stops() -> None:
    feed = FeedHarness(backoff=Backoff(0.01, 0.01, stopping=lambda: True))
    use_rules(RATE)
    feed.producer.fail_deliveries = 5
    with pytest.raises(Abandoned):
        await feed.put(plate_read(1), plate_read(2, plate="XY987ZW"))
    assert len(feed.states) == 0 and feed.states.unsent == []
    assert feed.producer.sent == []


async def test_until_the_rules_are_loaded_reads_are_evaluated_with_those_there_are() -> None:
    feed = FeedHarness(loaded=False)
    use_rules({"type": "watchlist", "name": "stolen", "plates": ["AB123CD"]})
    await feed.put(plate_read(1))
    assert [a.rule for a in feed.alerts] == ["stolen"]


async def test_a_read_without_a_key_is_dead_lettered() -> None:
    feed = FeedHarness()
    use_rules({"type": "watchlist", "name": "stolen", "plates": ["AB123CD"]})
    await feed.put((None, b"\x00\x00"))
    (letter,) = feed.dead_letters
    assert letter.key is None and letter.stage == "decode"


async def test_the_rule_set_is_waited_for_once_not_per_batch() -> None:
    waits: list[int] = []

    async def wait() -> None:
        waits.append(1)  # the rule topic stays away: the wait times out, nothing loads

    loaded = RulesLoaded(wait)
    assert [await loaded() for _ in range(3)] == [RULE_BOOK.ready.is_set()] * 3
    assert waits == [1]


async def test_an_assigned_partition_is_restored_in_full_and_others_are_let_go(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    feed = FeedHarness()
    use_rules(RATE)
    await feed.put(plate_read(1, plate="AB123CD"), plate_read(2, plate="XY987ZW"))
    mine, theirs = partition_of("AB123CD"), partition_of("XY987ZW")
    assert mine != theirs
    newer = PlateRuleState(partition=mine, watermark=99.0)
    read_back: list[tuple[str, dict[int, int | None]]] = []

    async def read_changelog(
        bootstrap: str, topic: str, starts: dict[int, int | None], apply: Any
    ) -> dict[int, int]:
        read_back.append((topic, dict(starts)))
        apply(mine, 0, encode_plate_key("AB123CD"), b"{}")  # overwritten below
        apply(mine, 1, encode_plate_key("AB123CD"), encode_state(newer))
        apply(mine, 2, encode_plate_key("GONE"), encode_state(newer))
        apply(mine, 3, encode_plate_key("GONE"), None)  # a tombstone
        apply(mine, 4, b"not json", b"{}")
        return {mine: 5}

    monkeypatch.setattr(agents.alerting.feed, "read_changelog", read_changelog)
    await feed.feed.restore("kafka:9092", [TopicPartition("test.detected", mine)])
    assert read_back == [(CHANGELOG, {mine: None})]
    assert set(feed.states) == {"AB123CD"}  # the other partition's plate went with it
    assert feed.states["AB123CD"].watermark == 99.0
    assert feed.states.partitions == {"AB123CD": mine} and feed.states.malformed == 1


async def test_expiry_walks_outside_the_batch_lock_and_keeps_a_plate_written_meanwhile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    feed = FeedHarness()
    use_rules(RATE)
    old = encode_state(PlateRuleState(partition=0, watermark=1.0, written_at=1.0))
    for n in range(tables.local.CHUNK * 2):
        feed.states.apply(0, n, encode_plate_key(f"Q{n:05d}"), old)
    original_sleep = asyncio.sleep
    locked: list[bool] = []

    async def sleep(delay: float) -> None:  # between two chunks of the walk: a batch
        locked.append(feed.feed.lock.locked())
        feed.states["Q00001"] = PlateRuleState(partition=0, watermark=1.0, written_at=10_000.0)
        await original_sleep(delay)

    monkeypatch.setattr(tables.local.asyncio, "sleep", sleep)
    assert await feed.feed.expire(10_000.0, {0}) == tables.local.CHUNK * 2 - 1
    assert locked and not any(locked)
    assert set(feed.states) == {"Q00001"}
