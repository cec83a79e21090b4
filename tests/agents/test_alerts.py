"""The alert agents through ``agent.test_context()`` with memory tables: alerts from reads,
state across reads, redeliveries, camera-keyed rates, timers and dead letters."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from pydantic import TypeAdapter

import agents.alerting.alerts
import tables.local
from agents.alerting.alerts import (
    check_timed_rules,
    delete_outside_stream,
    evaluate_camera_rules,
    evaluate_plate_rules,
    write_outside_stream,
)
from agents.alerting.bundles import encode_bundle
from agents.alerting.rule_book import RULE_BOOK, apply_rule_message
from agents.alerting.topics import alerts, camera_ticks
from config.settings import get_settings
from rules.evaluate import Sighting
from rules.model import AnyRule, Rule
from rules.ruleset import encode_rule
from streams.alert import Alert, alert_id
from streams.codec import AvroCodec
from streams.records import Box, CameraInfo, PlateRead
from tables.rule_state import (
    CameraTick,
    PlateRuleState,
    StateTable,
    camera_states,
    decode_state,
    encode_state,
    plate_states,
    rule_state_by_camera,
    rule_state_by_plate,
)
from tests.support.settings import use_sections
from tests.support.streams import memory_schema_cache

RULE: TypeAdapter[AnyRule] = TypeAdapter(Rule)
T0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


class Outbox:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []
        self.ticks: list[CameraTick] = []
        self.dead_letters: list[Any] = []

    async def alert(self, key: Any = None, value: Any = None, **_: Any) -> None:
        assert key == value.alert_id
        self.alerts.append(value)

    async def tick(self, key: Any = None, value: Any = None, **_: Any) -> None:
        assert key == value.camera_id
        self.ticks.append(value)

    async def dead_letter(self, letter: Any) -> None:
        self.dead_letters.append(letter)


@pytest.fixture
def out(monkeypatch: pytest.MonkeyPatch) -> Outbox:
    box = Outbox()
    monkeypatch.setattr(alerts, "send", box.alert)
    monkeypatch.setattr(camera_ticks, "send", box.tick)
    monkeypatch.setattr(agents.alerting.alerts, "send_dead_letter", box.dead_letter)
    return box


@pytest.fixture(autouse=True)
def clean_state() -> Iterator[None]:
    for table in (rule_state_by_plate, rule_state_by_camera):
        table.data.clear()
    RULE_BOOK.rules.clear()
    RULE_BOOK.ready.set()
    yield
    for table in (rule_state_by_plate, rule_state_by_camera):
        table.data.clear()
    RULE_BOOK.rules.clear()


def use_rules(*rules: dict[str, Any]) -> None:
    """Apply rules as the rule topic would deliver them."""
    for fields in rules:
        rule = RULE.validate_python(fields)
        apply_rule_message(rule.name, encode_rule(rule))


def plate_read(
    n: int, plate: str = "AB123CD", seconds: float = 0, camera: str = "cam-1"
) -> PlateRead:
    return PlateRead(
        event_id=f"ev-{n}", site_id="site-1", camera_id=camera,
        captured_at=T0 + timedelta(seconds=seconds), received_at=T0, plate_text=plate,
        plate=plate, search_key=plate, plate_confidence=0.9,
        plate_box=Box(x=0, y=0, width=10, height=5), track_id=n, frames_agreed=3,
        edge_version="test", camera=CameraInfo(known=True), plate_crop_key=f"crops/{n}.jpg",
    )  # fmt: skip


#: The registry of these tests: the agent decodes reads through it.
CACHE = memory_schema_cache()
READS = AvroCodec("PlateRead", subject="test.detected-value", schema_cache=CACHE)


@pytest.fixture(autouse=True)
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agents.alerting.alerts, "default_schema_cache", lambda: CACHE)


async def put_reads(*reads: PlateRead | tuple[str, bytes]) -> None:
    """Reads as the router writes them: keyed by plate, Avro in the wire format (or given
    as a plate and raw bytes)."""
    async with evaluate_plate_rules.test_context() as agent:
        for read in reads:
            key, value = read if isinstance(read, tuple) else (read.plate, READS.dumps(read))
            await agent.put(value, key=key)


WATCH = {"type": "watchlist", "name": "stolen", "plates": ["AB123CD"], "severity": "critical",
         "actions": [{"channel": "webhook", "url": "http://127.0.0.1:9/hook"}]}  # fmt: skip


async def test_watchlist_hit_becomes_an_alert_with_its_actions(out: Outbox) -> None:
    use_rules(WATCH)
    await put_reads(plate_read(1), plate_read(2, plate="ZZ999ZZ"))
    (alert,) = out.alerts
    assert alert.alert_id == alert_id("stolen", ["ev-1"])
    assert (alert.rule, alert.severity, alert.plate, alert.camera_id) == (
        "stolen", "critical", "AB123CD", "cam-1"
    )  # fmt: skip
    assert alert.crop_key == "crops/1.jpg"
    assert alert.actions == [{"channel": "webhook", "url": "http://127.0.0.1:9/hook",
                              "secret_env": None}]  # fmt: skip


async def test_rate_counts_across_reads_through_the_table(out: Outbox) -> None:
    use_rules({"type": "rate", "name": "circling", "count": 3, "window": 60})
    await put_reads(plate_read(1, seconds=0), plate_read(2, seconds=20))
    assert out.alerts == []
    assert len(plate_states["AB123CD"].sightings) == 2
    await put_reads(plate_read(3, seconds=40))
    (alert,) = out.alerts
    assert alert.event_ids == ["ev-1", "ev-2", "ev-3"] and alert.details["count"] == "3"


class WorkerProducer:
    """The worker's started producer, as Faust's ``Producer.send`` is called: records sends."""

    def __init__(self) -> None:
        self._producer = object()  # started
        self.sent: list[tuple[str, bytes | None, bytes | None, int | None]] = []

    async def send(
        self, topic: str, key: bytes | None, value: bytes | None, partition: int | None,
        timestamp: float | None, headers: Any,
    ) -> asyncio.Future[Any]:  # fmt: skip
        self.sent.append((topic, key, value, partition))
        return asyncio.get_running_loop().create_future()


async def test_state_writes_reach_the_producer_as_fausts_own_changelog_records(
    out: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    table: Any = rule_state_by_plate
    # What Faust's own path (the producer's buffer) makes of a write of this plate.
    own = table.send_changelog(2, "AB123CD", b"{}", value_serializer="raw").message
    producer = WorkerProducer()
    monkeypatch.setattr(table.app, "_producer", producer)
    use_rules({"type": "rate", "name": "circling", "count": 3, "window": 60})
    await put_reads(plate_read(1, seconds=0), plate_read(2, seconds=20))
    assert plate_states.unsent == []  # handed over, each before its event was acknowledged
    written = rule_state_by_plate.data["AB123CD"]
    assert [(t, k, p) for t, k, _, p in producer.sent] == [
        (own.channel.get_topic_name(), own.key, 0), (own.channel.get_topic_name(), own.key, 0)
    ]  # fmt: skip
    assert producer.sent[-1][2] == written and len(decode_state(written).sightings) == 2


async def test_state_seeded_in_the_table_is_used(out: Outbox) -> None:
    use_rules({"type": "sequence", "name": "seq", "steps": ["a", "b"], "within": 60})
    await put_reads(plate_read(1, camera="a"))
    seeded = rule_state_by_plate.data["AB123CD"]
    rule_state_by_plate.data.clear()
    rule_state_by_plate.data["AB123CD"] = seeded  # as restored from the changelog
    await put_reads(plate_read(2, seconds=30, camera="b"))
    assert [a.event_ids for a in out.alerts] == [["ev-1", "ev-2"]]


async def test_redelivered_read_raises_the_same_alert_id_or_nothing(out: Outbox) -> None:
    use_rules(WATCH)  # stateless: the same id again, which the notifier delivers once
    await put_reads(plate_read(1), plate_read(1))
    assert [a.alert_id for a in out.alerts] == [alert_id("stolen", ["ev-1"])] * 2
    assert rule_state_by_plate.data == {}  # no state needed, none written
    out.alerts.clear()
    use_rules({**WATCH, "cooldown": 60})  # stateful: the redelivery is recognised
    await put_reads(plate_read(2), plate_read(2))
    assert len(out.alerts) == 1


async def test_disabled_and_removed_rules_do_not_fire(out: Outbox) -> None:
    use_rules({**WATCH, "enabled": False})
    await put_reads(plate_read(1))
    use_rules(WATCH)
    apply_rule_message("stolen", None)
    await put_reads(plate_read(2))
    assert out.alerts == []


async def test_camera_rules_get_ticks_keyed_by_camera(out: Outbox) -> None:
    use_rules({"type": "rate", "name": "busy", "per": "camera", "count": 2, "window": 60})
    await put_reads(plate_read(1, "AA1"), plate_read(2, "BB2", seconds=5))
    assert [t.camera_id for t in out.ticks] == ["cam-1", "cam-1"]
    async with evaluate_camera_rules.test_context() as agent:
        for tick in out.ticks:
            await agent.put(tick, key=tick.camera_id)
    (alert,) = out.alerts
    assert (alert.subject, alert.event_ids) == ("cam-1", ["ev-1", "ev-2"])


async def test_a_read_that_breaks_the_engine_is_dead_lettered(
    out: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_rules(WATCH)

    async def broken(alert: Any = None, **_: Any) -> None:
        raise RuntimeError("broker gone")

    monkeypatch.setattr(alerts, "send", broken)
    await put_reads(plate_read(1))
    (letter,) = out.dead_letters
    assert letter.event_id == "ev-1" and "broker gone" in letter.message


DWELL = {"type": "dwell", "name": "stay", "entry_cameras": ["in"], "exit_cameras": ["out"],
         "within": 3600}  # fmt: skip


async def test_timer_raises_overdue_dwell_once(
    out: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_rules(DWELL)
    await put_reads(plate_read(1, camera="in"))
    written: list[tuple[str, PlateRuleState]] = []

    def write(table: Any, key: str, value: PlateRuleState) -> None:
        table.table.data[key] = encode_state(value)  # locally: no changelog in this test
        written.append((key, value))

    monkeypatch.setattr(agents.alerting.alerts, "write_outside_stream", write)
    later = (T0 + timedelta(hours=2)).timestamp()
    assert await check_timed_rules((T0 + timedelta(minutes=59)).timestamp()) == []
    await check_timed_rules(later)
    await check_timed_rules(later + 60)
    (alert,) = out.alerts
    assert (alert.rule, alert.plate, alert.event_ids) == ("stay", "AB123CD", ["ev-1"])
    assert [key for key, _ in written] == ["AB123CD"]


async def test_timer_walks_a_large_table_in_chunks_and_reads_each_entry_as_it_is_now(
    out: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_rules(DWELL)
    await put_reads(plate_read(1, camera="in"))
    entered = rule_state_by_plate.data["AB123CD"]
    quiet = encode_state(PlateRuleState(partition=0, watermark=T0.timestamp()))  # nothing due
    rule_state_by_plate.data.update({f"Q{n:05d}": quiet for n in range(tables.local.CHUNK * 3)})
    exited = encode_state(PlateRuleState(partition=0, watermark=T0.timestamp() + 10))  # left
    monkeypatch.setattr(agents.alerting.alerts, "write_outside_stream", lambda *_args: None)
    turns = 0

    async def meanwhile() -> None:  # the agent, between two chunks: the plate left
        nonlocal turns
        turns += 1
        rule_state_by_plate.data["AB123CD"] = exited
        rule_state_by_plate.data.pop("Q00000", None)  # and one plate's state went

    rule_state_by_plate.data.pop("AB123CD")  # walked last, after the agent's write
    rule_state_by_plate.data["AB123CD"] = entered
    original_sleep = asyncio.sleep

    async def sleep(delay: float) -> None:
        await meanwhile()
        await original_sleep(delay)

    monkeypatch.setattr(tables.local.asyncio, "sleep", sleep)
    assert await check_timed_rules((T0 + timedelta(hours=2)).timestamp()) == []
    assert turns == 3 and out.alerts == []  # the stale entry would have fired


async def test_timer_leaves_the_tables_alone_without_time_fired_rules(out: Outbox) -> None:
    use_rules(WATCH, {"type": "rate", "name": "circling", "count": 3, "window": 60})

    class Untouchable(dict[str, Any]):
        def walked(self, *_args: Any) -> Any:
            raise AssertionError("walked a table no timer rule needs")

        keys = items = values = __iter__ = walked  # type: ignore[assignment]

    plates: Any = rule_state_by_plate
    cameras: Any = rule_state_by_camera
    original = plates._data, cameras._data
    try:
        plates._data, cameras._data = Untouchable(), Untouchable()
        assert await check_timed_rules(T0.timestamp()) == []
    finally:
        plates._data, cameras._data = original


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
    delete_outside_stream(StateTable(table), "k", 5)
    assert "k" not in table.data and sent[-1] == (5, "k", None, {"value_serializer": "raw"})


def test_states_are_kept_as_bytes_the_collector_does_not_track() -> None:
    table: Any = type("T", (dict,), {})()
    table.data = table
    states = StateTable(table)
    history = PlateRuleState(partition=1, watermark=5.0).history()
    history.add(Sighting("ev-1", "cam-1", "site-1", 5.0))
    states["AB123CD"] = PlateRuleState.of(history, 1)
    assert isinstance(table["AB123CD"], bytes) and not gc.is_tracked(table["AB123CD"])
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


async def test_reads_out_of_order_and_late_are_windowed_by_capture_time(
    out: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = get_settings().rules.model_copy(update={"lateness_s": 120.0})
    use_sections(monkeypatch, agents.alerting.alerts, rules=settings)
    use_rules({"type": "rate", "name": "circling", "count": 3, "window": 60})
    await put_reads(plate_read(1, seconds=1000), plate_read(2, seconds=1030))
    await put_reads(plate_read(3, seconds=1500))  # the plate's event time moves to 1500
    # 1040 would complete 1000..1040, but it is 460 s late: beyond the 120 s bound
    await put_reads(plate_read(4, seconds=1040))
    assert out.alerts == []
    # out of order but inside the bound: they complete the window of their capture times
    await put_reads(plate_read(5, seconds=1470), plate_read(6, seconds=1480))
    (alert,) = out.alerts
    assert alert.event_ids == ["ev-5", "ev-6", "ev-3"]
    assert alert.triggered_at == T0 + timedelta(seconds=1500)


async def test_a_plate_on_no_watch_list_is_not_decoded(out: Outbox) -> None:
    use_rules(WATCH, {**WATCH, "name": "fuzzy", "plates": ["XY99ZZZ"], "match": "fuzzy"})
    await put_reads(("ZZ999ZZ", b"not avro at all"), ("XY99ZZ2", b"\x00\x00"))
    assert out.alerts == []
    (letter,) = out.dead_letters  # the fuzzy match of XY99ZZ2 had to decode it
    assert letter.reason == "truncated" and letter.stage == "decode"


async def test_any_other_rule_needs_every_read_decoded(out: Outbox) -> None:
    use_rules({"type": "threshold", "name": "blur", "field": "plate_confidence",
               "op": "<", "value": 0.95})  # fmt: skip
    await put_reads(("ZZ999ZZ", b"{}"), plate_read(1, plate="QQ111QQ"))
    assert [a.plate for a in out.alerts] == ["QQ111QQ"]
    (letter,) = out.dead_letters
    assert letter.reason == "json_payload"


def final_of(preview: PlateRead, n: int) -> PlateRead:
    """The track's final read, which supersedes its edge preview."""
    return preview.derive(event_id=f"ev-{n}", preview=False, supersedes=preview.event_id)


async def test_a_preview_alerts_early_and_its_final_read_adds_no_second_alert(
    out: Outbox,
) -> None:
    use_rules(WATCH)  # stateless: the final read raises the preview's alert id again
    preview = plate_read(1).derive(preview=True)
    await put_reads(preview, final_of(preview, 2))
    assert {a.alert_id for a in out.alerts} == {alert_id("stolen", ["ev-1"])}


async def test_a_preview_and_its_final_read_count_as_one_pass(out: Outbox) -> None:
    use_rules({"type": "rate", "name": "circling", "count": 2, "window": 60})
    preview = plate_read(1).derive(preview=True)
    await put_reads(preview, final_of(preview, 2))
    assert out.alerts == []  # one vehicle pass, not two reads
    await put_reads(plate_read(3, seconds=30))
    (alert,) = out.alerts
    assert alert.event_ids == ["ev-1", "ev-3"]


async def test_plate_state_past_every_rule_is_expired_by_its_partitions_owner(
    out: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_rules({"type": "rate", "name": "circling", "count": 3, "window": 60, "cooldown": 30})
    await put_reads(plate_read(1, plate="AB123CD"), plate_read(2, plate="XY987ZW"))
    mine = plate_states["AB123CD"]
    written = mine.written_at
    assert written > 0  # the write time is kept with the state
    # Another partition's plate, and one written before write times were kept.
    rule_state_by_plate.data["OTHER"] = encode_state(mine.derive(partition=mine.partition + 1))
    rule_state_by_plate.data["LEGACY"] = encode_state(
        mine.derive(written_at=0.0, watermark=written - 1000)
    )
    tombstones: list[tuple[Any, ...]] = []
    monkeypatch.setattr(
        rule_state_by_plate,
        "send_changelog",
        lambda partition, key, value, **_kw: tombstones.append((partition, key, value)),
    )
    keep = 60 + 300 + 30  # window, lateness bound, cooldown
    owned = {mine.partition, plate_states["XY987ZW"].partition}
    assert await agents.alerting.alerts.expire_rule_state(written + keep - 1, owned) == 1  # LEGACY
    assert await agents.alerting.alerts.expire_rule_state(written + keep + 1, owned) == 2
    assert set(rule_state_by_plate.data) == {"OTHER"}  # its owner expires it
    assert sorted(key for _, key, _ in tombstones) == ["AB123CD", "LEGACY", "XY987ZW"]
    assert all(value is None for _, _, value in tombstones)


def bundle(*reads: PlateRead | tuple[str, bytes]) -> tuple[str, bytes]:
    """Reads as the rule feed forwards them: one bundle, as read from the detected topic."""
    records = []
    for offset, read in enumerate(reads):
        key, value = read if isinstance(read, tuple) else (read.plate, READS.dumps(read))
        records.append(ConsumerRecord(
            "test.detected", 1, 100 + offset, 1_700_000_000_000, 0, key.encode(), value,
            None, len(key), len(value), [],
        ))  # fmt: skip
    return "", encode_bundle(records)


async def test_bundled_reads_are_evaluated_one_by_one_in_order(out: Outbox) -> None:
    use_rules(WATCH, {"type": "rate", "name": "circling", "count": 3, "window": 60})
    await put_reads(
        bundle(plate_read(1, seconds=0), plate_read(2, plate="ZZ999ZZ")),
        bundle(plate_read(3, seconds=20), plate_read(4, seconds=40)),
    )
    assert [(a.rule, a.event_ids) for a in out.alerts] == [
        ("stolen", ["ev-1"]), ("stolen", ["ev-3"]), ("stolen", ["ev-4"]),
        ("circling", ["ev-1", "ev-3", "ev-4"]),
    ]  # fmt: skip
    assert len(plate_states["AB123CD"].sightings) == 3


async def test_a_bad_read_in_a_bundle_is_dead_lettered_alone_as_itself(out: Outbox) -> None:
    use_rules({"type": "threshold", "name": "blur", "field": "plate_confidence",
               "op": "<", "value": 0.95})  # fmt: skip
    await put_reads(bundle(plate_read(1), ("ZZ999ZZ", b"{}"), plate_read(2, plate="QQ111QQ")))
    assert [a.plate for a in out.alerts] == ["AB123CD", "QQ111QQ"]
    (letter,) = out.dead_letters
    assert (letter.reason, letter.topic, letter.partition, letter.offset, letter.key) == (
        "json_payload", "test.detected", 1, 101, b"ZZ999ZZ"
    )  # fmt: skip
    assert letter.payload == b"{}"


async def test_a_damaged_bundle_is_dead_lettered(out: Outbox) -> None:
    use_rules(WATCH)
    _, data = bundle(plate_read(1))
    await put_reads(("", data[:-5]), plate_read(2))
    (letter,) = out.dead_letters
    assert letter.reason == "internal_error" and "truncated" in letter.message
    assert [a.event_ids for a in out.alerts] == [["ev-2"]]  # the stream goes on
