"""The alerting rules as the worker runs them: the plate-keyed rules through the rule feed's
batch handler (memory producer and plate state), the camera-keyed rules through the camera
agent's ``test_context()`` and its memory table: alerts from reads, state across reads,
redeliveries, timers, expiry and dead letters."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

import agents.alerting.alerts
import tables.local
from agents.alerting.alerts import (
    check_timed_rules,
    evaluate_camera_rules,
    write_outside_stream,
)
from agents.alerting.rule_book import RULE_BOOK, apply_rule_message
from agents.alerting.topics import alerts
from config.settings import get_settings
from rules.evaluate import Sighting
from streams.alert import Alert, alert_id
from streams.records import PlateRead
from tables.plate_state import PlateStates
from tables.rule_state import (
    CameraTick,
    PlateRuleState,
    StateTable,
    camera_states,
    encode_state,
    rule_state_by_camera,
)
from tests.agents.feed_harness import (
    ALERTS_TOPIC,
    CHANGELOG,
    T0,
    TICKS_TOPIC,
    FeedHarness,
    partition_of,
    plate_read,
    use_rules,
)


@pytest.fixture(autouse=True)
def clean_state() -> Iterator[None]:
    rule_state_by_camera.data.clear()
    RULE_BOOK.rules.clear()
    RULE_BOOK.ready.set()
    yield
    rule_state_by_camera.data.clear()
    RULE_BOOK.rules.clear()


@pytest.fixture
def feed() -> FeedHarness:
    return FeedHarness()


WATCH = {"type": "watchlist", "name": "stolen", "plates": ["AB123CD"], "severity": "critical",
         "actions": [{"channel": "webhook", "url": "http://127.0.0.1:9/hook"}]}  # fmt: skip


async def test_watchlist_hit_becomes_an_alert_with_its_actions(feed: FeedHarness) -> None:
    use_rules(WATCH)
    await feed.put(plate_read(1), plate_read(2, plate="ZZ999ZZ"))
    (alert,) = feed.alerts
    assert alert.alert_id == alert_id("stolen", ["ev-1"])
    (sent,) = feed.sent_to(ALERTS_TOPIC)
    assert sent.key == alert.alert_id.encode()  # keyed by its id, for the notifier
    assert (alert.rule, alert.severity, alert.plate, alert.camera_id) == (
        "stolen", "critical", "AB123CD", "cam-1"
    )  # fmt: skip
    assert alert.crop_key == "crops/1.jpg"
    assert alert.actions == [{"channel": "webhook", "url": "http://127.0.0.1:9/hook",
                              "secret_env": None}]  # fmt: skip


async def test_rate_counts_across_reads_through_the_plate_state(feed: FeedHarness) -> None:
    use_rules({"type": "rate", "name": "circling", "count": 3, "window": 60})
    await feed.put(plate_read(1, seconds=0), plate_read(2, seconds=20))
    assert feed.alerts == []
    assert len(feed.states["AB123CD"].sightings) == 2
    await feed.put(plate_read(3, seconds=40))
    (alert,) = feed.alerts
    assert alert.event_ids == ["ev-1", "ev-2", "ev-3"] and alert.details["count"] == "3"


async def test_state_writes_go_to_the_plates_changelog_partition_after_the_alerts(
    feed: FeedHarness,
) -> None:
    use_rules(WATCH, {"type": "rate", "name": "circling", "count": 2, "window": 60})
    await feed.put(plate_read(1, seconds=0), plate_read(2, seconds=20))
    topics = [s.topic for s in feed.producer.sent]
    # Every alert is in Kafka before the state that remembers it: a crash in between
    # raises it again (same id), never loses it.
    assert topics == [ALERTS_TOPIC] * 3 + [CHANGELOG] * 2
    (first, second) = feed.changelog
    plate_partition = partition_of("AB123CD")
    assert [first[:2], second[:2]] == [(plate_partition, "AB123CD")] * 2
    assert feed.sent_to(CHANGELOG)[0].key == b'"AB123CD"'  # as Faust's table wrote its keys
    assert [s.event_id for s in second[2].sightings] == ["ev-1", "ev-2"]
    assert feed.states.unsent == []


async def test_state_restored_from_the_changelog_is_used(feed: FeedHarness) -> None:
    use_rules({"type": "sequence", "name": "seq", "steps": ["a", "b"], "within": 60})
    await feed.put(plate_read(1, camera="a"))
    (record,) = feed.sent_to(CHANGELOG)
    restored = FeedHarness()  # another worker, given the partition
    restored.states.apply(record.partition or 0, 0, record.key, record.value)
    await restored.put(plate_read(2, seconds=30, camera="b"))
    assert [a.event_ids for a in restored.alerts] == [["ev-1", "ev-2"]]


async def test_redelivered_read_raises_the_same_alert_id_or_nothing(feed: FeedHarness) -> None:
    use_rules(WATCH)  # stateless: the same id again, which the notifier delivers once
    await feed.put(plate_read(1), plate_read(1))
    assert [a.alert_id for a in feed.alerts] == [alert_id("stolen", ["ev-1"])] * 2
    assert len(feed.states) == 0 and feed.changelog == []  # no state needed, none written
    feed.producer.sent.clear()
    use_rules({**WATCH, "cooldown": 60})  # stateful: the redelivery is recognised
    await feed.put(plate_read(2), plate_read(2))
    assert len(feed.alerts) == 1


async def test_disabled_and_removed_rules_do_not_fire(feed: FeedHarness) -> None:
    use_rules({**WATCH, "enabled": False})
    await feed.put(plate_read(1))
    use_rules(WATCH)
    apply_rule_message("stolen", None)
    await feed.put(plate_read(2))
    assert feed.alerts == []


class Outbox:
    """What the camera agent sends through its Faust topics."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []
        self.dead_letters: list[Any] = []

    async def alert(self, key: Any = None, value: Any = None, **_: Any) -> None:
        assert key == value.alert_id
        self.alerts.append(value)

    async def dead_letter(self, letter: Any) -> None:
        self.dead_letters.append(letter)


@pytest.fixture
def out(monkeypatch: pytest.MonkeyPatch) -> Outbox:
    box = Outbox()
    monkeypatch.setattr(alerts, "send", box.alert)
    monkeypatch.setattr(agents.alerting.alerts, "send_dead_letter", box.dead_letter)
    return box


async def test_camera_rules_get_ticks_keyed_by_camera(feed: FeedHarness, out: Outbox) -> None:
    use_rules({"type": "rate", "name": "busy", "per": "camera", "count": 2, "window": 60})
    await feed.put(plate_read(1, "AA1"), plate_read(2, "BB2", seconds=5))
    assert [s.key for s in feed.sent_to(TICKS_TOPIC)] == [b"cam-1", b"cam-1"]
    assert feed.alerts == []  # the camera agent's to raise
    async with evaluate_camera_rules.test_context() as agent:
        for tick in feed.ticks:
            await agent.put(tick, key=tick.camera_id)
    (alert,) = out.alerts
    assert (alert.subject, alert.event_ids) == ("cam-1", ["ev-1", "ev-2"])


async def test_without_camera_rules_no_ticks_are_sent(feed: FeedHarness) -> None:
    use_rules({"type": "rate", "name": "circling", "count": 3, "window": 60})
    await feed.put(plate_read(1), plate_read(2, "BB2"))
    assert feed.ticks == []


async def test_a_read_that_breaks_the_engine_is_dead_lettered() -> None:
    def broken(alert: Alert) -> bytes:
        raise RuntimeError("cannot encode")

    feed = FeedHarness(encode_alert=broken)
    use_rules(WATCH)
    await feed.put(plate_read(1), plate_read(2, plate="ZZ999ZZ"))
    (letter,) = feed.dead_letters
    assert letter.event_id == "ev-1" and "cannot encode" in letter.message
    assert letter.reason == "internal_error"


DWELL = {"type": "dwell", "name": "stay", "entry_cameras": ["in"], "exit_cameras": ["out"],
         "within": 3600}  # fmt: skip


async def test_timer_raises_overdue_dwell_once(feed: FeedHarness) -> None:
    use_rules(DWELL)
    await feed.put(plate_read(1, camera="in"))
    feed.producer.sent.clear()
    later = (T0 + timedelta(hours=2)).timestamp()
    assert await feed.feed.on_timer((T0 + timedelta(minutes=59)).timestamp()) == []
    await feed.feed.on_timer(later)
    await feed.feed.on_timer(later + 60)
    (alert,) = feed.alerts
    assert (alert.rule, alert.plate, alert.event_ids) == ("stay", "AB123CD", ["ev-1"])
    # the alert, then the state that remembers it, on the plate's partition
    assert [(p, plate) for p, plate, _ in feed.changelog] == [(partition_of("AB123CD"), "AB123CD")]
    assert [s.topic for s in feed.producer.sent] == [ALERTS_TOPIC, CHANGELOG]


async def test_timer_walks_a_large_state_in_chunks_and_reads_each_entry_as_it_is_now(
    feed: FeedHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_rules(DWELL)
    await feed.put(plate_read(1, camera="in"))
    data = feed.states.encoded
    entered = data["AB123CD"]
    quiet = encode_state(PlateRuleState(partition=0, watermark=T0.timestamp()))  # nothing due
    for n in range(tables.local.CHUNK * 3):
        feed.states.apply(0, 0, f'"Q{n:05d}"'.encode(), quiet)
    exited = encode_state(PlateRuleState(partition=0, watermark=T0.timestamp() + 10))  # left
    turns = 0

    async def meanwhile() -> None:  # a write between two chunks: the plate left
        nonlocal turns
        turns += 1
        data["AB123CD"] = exited
        data.pop("Q00000", None)  # and one plate's state went

    data.pop("AB123CD")  # walked last
    data["AB123CD"] = entered
    original_sleep = asyncio.sleep

    async def sleep(delay: float) -> None:
        await meanwhile()
        await original_sleep(delay)

    monkeypatch.setattr(tables.local.asyncio, "sleep", sleep)
    assert await feed.feed.on_timer((T0 + timedelta(hours=2)).timestamp()) == []
    assert turns == 3 and feed.alerts == []  # the stale entry would have fired


async def test_timers_leave_the_state_alone_without_time_fired_rules(feed: FeedHarness) -> None:
    use_rules(WATCH, {"type": "rate", "name": "circling", "count": 3, "window": 60})

    class Untouchable(dict[str, Any]):
        def walked(self, *_args: Any) -> Any:
            raise AssertionError("walked a state no timer rule needs")

        keys = items = values = __iter__ = walked  # type: ignore[assignment]

    cameras: Any = rule_state_by_camera
    original = cameras._data
    feed.states.encoded = Untouchable()
    try:
        cameras._data = Untouchable()
        assert await feed.feed.on_timer(T0.timestamp()) == []
        assert await check_timed_rules(T0.timestamp()) == []
    finally:
        cameras._data = original


async def test_write_outside_stream_names_the_partition() -> None:
    sent: list[tuple[Any, ...]] = []

    class Table(dict[str, Any]):
        data: dict[str, Any] = {}

        def send_changelog(self, *args: Any, **kwargs: Any) -> None:
            sent.append((*args, kwargs))

    table = Table()
    state = PlateRuleState(partition=5, watermark=0.0)
    write_outside_stream(StateTable(table), "k", state)
    encoded = encode_state(state)
    assert table.data["k"] == encoded
    assert sent == [(5, "k", encoded, {"value_serializer": "raw"})]


def test_states_are_kept_as_bytes_the_collector_does_not_track() -> None:
    table: Any = type("T", (dict,), {})()
    table.data = table
    history = PlateRuleState(partition=1, watermark=5.0).history()
    history.add(Sighting("ev-1", "cam-1", "site-1", 5.0))
    plates = PlateStates()
    for states, data in ((StateTable(table), table), (plates, plates.encoded)):
        states["AB123CD"] = PlateRuleState.of(history, 1)
        assert isinstance(data["AB123CD"], bytes) and not gc.is_tracked(data["AB123CD"])
        assert [s.event_id for s in states["AB123CD"].sightings] == ["ev-1"]
        assert list(states) == ["AB123CD"] and len(states) == 1 and "QQ" not in states


async def test_timer_raises_silence_for_a_quiet_camera_once(
    out: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        agents.alerting.alerts,
        "write_outside_stream",
        lambda table, key, value: table.table.data.update({key: encode_state(value)}),
    )
    use_rules({"type": "silence", "name": "quiet", "cameras": ["gate"], "after": 600})
    last = T0.timestamp()
    camera_states.table.data["gate"] = encode_state(PlateRuleState(partition=0, watermark=last))
    camera_states.table.data["other"] = encode_state(
        PlateRuleState(partition=0, watermark=last - 9999)
    )
    assert await check_timed_rules(last + 599) == []
    (alert,) = await check_timed_rules(last + 600)
    assert (alert.rule, alert.subject) == ("quiet", "gate")
    assert await check_timed_rules(last + 1200) == []


async def test_reads_out_of_order_and_late_are_windowed_by_capture_time() -> None:
    feed = FeedHarness(get_settings().rules.model_copy(update={"lateness_s": 120.0}))
    use_rules({"type": "rate", "name": "circling", "count": 3, "window": 60})
    await feed.put(plate_read(1, seconds=1000), plate_read(2, seconds=1030))
    await feed.put(plate_read(3, seconds=1500))  # the plate's event time moves to 1500
    # 1040 would complete 1000..1040, but it is 460 s late: beyond the 120 s bound
    await feed.put(plate_read(4, seconds=1040))
    assert feed.alerts == []
    # out of order but inside the bound: they complete the window of their capture times
    await feed.put(plate_read(5, seconds=1470), plate_read(6, seconds=1480))
    (alert,) = feed.alerts
    assert alert.event_ids == ["ev-5", "ev-6", "ev-3"]
    assert alert.triggered_at == T0 + timedelta(seconds=1500)


async def test_a_plate_on_no_watch_list_is_not_decoded(feed: FeedHarness) -> None:
    use_rules(WATCH, {**WATCH, "name": "fuzzy", "plates": ["XY99ZZZ"], "match": "fuzzy"})
    await feed.put(("ZZ999ZZ", b"not avro at all"), ("XY99ZZ2", b"\x00\x00"))
    assert feed.alerts == []
    (letter,) = feed.dead_letters  # the fuzzy match of XY99ZZ2 had to decode it
    assert letter.reason == "truncated" and letter.stage == "decode"


async def test_any_other_rule_needs_every_read_decoded(feed: FeedHarness) -> None:
    use_rules({"type": "threshold", "name": "blur", "field": "plate_confidence",
               "op": "<", "value": 0.95})  # fmt: skip
    await feed.put(("ZZ999ZZ", b"{}"), plate_read(1, plate="QQ111QQ"))
    assert [a.plate for a in feed.alerts] == ["QQ111QQ"]
    (letter,) = feed.dead_letters
    assert letter.reason == "json_payload"


def final_of(preview: PlateRead, n: int) -> PlateRead:
    """The track's final read, which supersedes its edge preview."""
    return preview.derive(event_id=f"ev-{n}", preview=False, supersedes=preview.event_id)


async def test_a_preview_alerts_early_and_its_final_read_adds_no_second_alert(
    feed: FeedHarness,
) -> None:
    use_rules(WATCH)  # stateless: the final read raises the preview's alert id again
    preview = plate_read(1).derive(preview=True)
    await feed.put(preview, final_of(preview, 2))
    assert {a.alert_id for a in feed.alerts} == {alert_id("stolen", ["ev-1"])}


async def test_a_preview_and_its_final_read_count_as_one_pass(feed: FeedHarness) -> None:
    use_rules({"type": "rate", "name": "circling", "count": 2, "window": 60})
    preview = plate_read(1).derive(preview=True)
    await feed.put(preview, final_of(preview, 2))
    assert feed.alerts == []  # one vehicle pass, not two reads
    await feed.put(plate_read(3, seconds=30))
    (alert,) = feed.alerts
    assert alert.event_ids == ["ev-1", "ev-3"]


async def test_plate_state_past_every_rule_is_expired_by_its_partitions_owner(
    feed: FeedHarness,
) -> None:
    use_rules({"type": "rate", "name": "circling", "count": 3, "window": 60, "cooldown": 30})
    await feed.put(plate_read(1, plate="AB123CD"), plate_read(2, plate="XY987ZW"))
    mine = feed.states["AB123CD"]
    written = mine.written_at
    assert written > 0  # the write time is kept with the state
    owned = {mine.partition, feed.states["XY987ZW"].partition}
    other = next(p for p in range(8) if p not in owned)
    # Another partition's plate, and one written before write times were kept.
    feed.states.apply(other, 0, b'"OTHER"', encode_state(mine.derive(partition=other)))
    legacy = mine.derive(written_at=0.0, watermark=written - 1000)
    feed.states.apply(mine.partition, 0, b'"LEGACY"', encode_state(legacy))
    feed.producer.sent.clear()
    keep = 60 + 300 + 30  # window, lateness bound, cooldown
    assert await feed.feed.expire(written + keep - 1, owned) == 1  # LEGACY
    assert await feed.feed.expire(written + keep + 1, owned) == 2
    assert set(feed.states) == {"OTHER"}  # its owner expires it
    assert sorted(plate for _, plate, _ in feed.changelog) == ["AB123CD", "LEGACY", "XY987ZW"]
    assert all(state is None for _, _, state in feed.changelog)  # tombstones


async def test_the_reads_of_a_batch_are_evaluated_one_by_one_in_order(feed: FeedHarness) -> None:
    use_rules(WATCH, {"type": "rate", "name": "circling", "count": 3, "window": 60})
    await feed.put(plate_read(1, seconds=0), plate_read(2, plate="ZZ999ZZ"))
    await feed.put(plate_read(3, seconds=20), plate_read(4, seconds=40))
    assert [(a.rule, a.event_ids) for a in feed.alerts] == [
        ("stolen", ["ev-1"]), ("stolen", ["ev-3"]), ("stolen", ["ev-4"]),
        ("circling", ["ev-1", "ev-3", "ev-4"]),
    ]  # fmt: skip
    assert len(feed.states["AB123CD"].sightings) == 3


async def test_a_bad_read_in_a_batch_is_dead_lettered_alone_as_itself(feed: FeedHarness) -> None:
    use_rules({"type": "threshold", "name": "blur", "field": "plate_confidence",
               "op": "<", "value": 0.95})  # fmt: skip
    await feed.put(plate_read(1), ("ZZ999ZZ", b"{}"), plate_read(2, plate="QQ111QQ"))
    assert [a.plate for a in feed.alerts] == ["AB123CD", "QQ111QQ"]
    (letter,) = feed.dead_letters
    assert (letter.reason, letter.topic, letter.partition, letter.offset, letter.key) == (
        "json_payload", "test.detected", partition_of("ZZ999ZZ"), 0, b"ZZ999ZZ"
    )  # fmt: skip
    assert letter.payload == b"{}"


def test_a_camera_tick_survives_its_json_encoding() -> None:
    tick = CameraTick("cam-1", "site-1", "ev-1", 5.0)
    assert CameraTick.loads(tick.dumps(serializer="json")) == tick
