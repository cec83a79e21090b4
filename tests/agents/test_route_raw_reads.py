"""The router's batch handler (``agents.router.service.BatchRouter``): routing, validation,
dedupe, enrichment, dead letters and retries, with an in-memory producer, memory tables and an
in-memory schema registry. The real broker is tested in tests/integration/test_router.py."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import ConsumerRecord

from agents.deadletters.letters import HEADER_ATTEMPTS, HEADER_FIRST_FAILED
from agents.router.service import SWEEP_CHUNK, BatchRouter
from config.router import RouterSettings
from streams.batch_consumer import Batch
from streams.codec import AvroSchema, SchemaCache, decode, encode
from streams.records import CameraStatus, DeadLetter, GeoPoint, PlateRead
from streams.retry import Abandoned, Backoff
from tables.cameras import cameras_by_id
from tables.dedupe import (
    DiskSeenEvents,
    MemorySeenEvents,
    SeenEvent,
    SeenEvents,
    decode_entry,
    decode_key,
)
from tests.agents.memory_producer import MemoryProducer, Sent
from tests.support.streams import encode_plate_event, plate_event_datum

pytestmark = pytest.mark.usefixtures("router_settings")

READ = AvroSchema.named("PlateRead")
RAW, DETECTED, CHANGELOG = "alpr.plates.raw", "alpr.plates.detected", "seen-changelog"


class RouterOutput:
    """Where the router's sends land: reads in ``sent.reads`` (keyed by plate), the
    dedupe changelog in ``changelog`` as (partition, event id, entry or None)."""

    def __init__(self, sent: Any) -> None:
        self.sent = sent
        self.changelog: list[tuple[int, str, SeenEvent | None]] = []

    async def __call__(self, out: Sent) -> None:
        if out.topic == DETECTED:
            await self.sent.send_read(key=(out.key or b"").decode(), value=out.value)
            return
        assert out.topic == CHANGELOG and out.partition is not None
        entry = None if out.value is None else decode_entry(out.value)
        self.changelog.append((out.partition, decode_key(out.key or b""), entry))


class Harness:
    """One BatchRouter over memory; ``route`` hands it messages as one batch."""

    def __init__(
        self,
        settings: RouterSettings,
        cache: SchemaCache,
        sent: Any,
        seen: SeenEvents | None = None,
    ) -> None:
        self.output = RouterOutput(sent)
        self.producer = MemoryProducer(self.output)
        self.seen = seen if seen is not None else MemorySeenEvents()
        self.next_offset: Counter[int] = Counter()

        async def dead_letter(letter: DeadLetter) -> None:
            await sent.send_dead_letter(key=letter.id, value=letter)

        self.router = BatchRouter(
            settings, cache, self.producer, self.seen, Backoff(0.01, 0.01),
            DETECTED, CHANGELOG, send_dead_letter=dead_letter,
        )  # fmt: skip

    def record(
        self, payload: bytes | None, key: bytes = b"key", partition: int = 0,
        headers: Any = None, offset: int | None = None,
    ) -> ConsumerRecord:  # fmt: skip
        if offset is None:
            offset = self.next_offset[partition]
            self.next_offset[partition] += 1
        return ConsumerRecord(
            RAW, partition, offset, int(time.time() * 1000), 0, key, payload, None,
            len(key), len(payload or b""), list(headers or ()),
        )  # fmt: skip

    async def route(self, *records: ConsumerRecord) -> None:
        await self.router.handle(Batch(list(records), generation=0))


@pytest.fixture(params=["memory", "disk"])
def harness(
    request: pytest.FixtureRequest,
    router_settings: RouterSettings,
    schema_cache: SchemaCache,
    sent: Any,
    tmp_path: Path,
) -> Iterator[Harness]:
    """A router over each dedupe backend."""
    seen: SeenEvents = (
        MemorySeenEvents()
        if request.param == "memory"
        else DiskSeenEvents(tmp_path / "seen.sqlite3", CHANGELOG)
    )
    yield Harness(router_settings, schema_cache, sent, seen)
    seen.close()


async def route(harness: Harness, *messages: bytes | None, headers: Any = None) -> None:
    """Route the messages (keyed like the edge does) as one batch."""
    await harness.route(
        *(harness.record(p, key=f"key-{i}".encode(), headers=headers)
          for i, p in enumerate(messages))
    )  # fmt: skip


def reads_of(sent: Any, cache: SchemaCache) -> list[PlateRead]:
    """The reads sent, decoded from the bytes that went out; each keyed by its plate."""
    reads = [PlateRead.from_data(decode(value, READ, cache)) for _, value in sent.reads]
    assert [key for key, _ in sent.reads] == [read.plate for read in reads]
    return reads


def only_read(sent: Any, cache: SchemaCache) -> PlateRead:
    assert sent.dead_letters == []
    (read,) = reads_of(sent, cache)
    return read


def only_dead_letter(sent: Any) -> DeadLetter:
    assert sent.reads == []
    assert len(sent.dead_letters) == 1
    key, letter = sent.dead_letters[0]
    assert key == letter.id
    return letter


async def test_valid_event_becomes_a_read_keyed_by_plate(
    harness: Harness, schema_cache: SchemaCache, sent: Any
) -> None:
    event_id = str(uuid.uuid4())
    before = time.time()
    await route(
        harness, encode_plate_event(schema_cache, event_id=event_id, plate_text="ab-12 cde")
    )
    read = only_read(sent, schema_cache)
    assert (read.event_id, read.plate, read.search_key) == (event_id, "AB12CDE", "A812C0E")
    assert read.site_id == "site-1" and read.model_versions["ocr"] == "ppocr-rec"
    assert read.plate_text == "ab-12 cde"
    assert read.plate_box.width == 120 and read.vehicle_box is not None
    assert read.received_at.timestamp() >= before - 1
    assert read.camera.known is False
    assert harness.seen[event_id].seen_at >= before - 1


async def test_seen_entry_is_logged_on_the_event_partition(
    harness: Harness, schema_cache: SchemaCache, sent: Any
) -> None:
    event_id = str(uuid.uuid4())
    payload = encode_plate_event(schema_cache, event_id=event_id)
    await harness.route(harness.record(payload, partition=3))
    ((partition, key, entry),) = harness.output.changelog
    assert entry is not None
    assert (partition, key, entry.partition, entry.offset) == (3, event_id, 3, 0)
    assert harness.seen[event_id] == entry
    assert harness.seen.positions == {3: 1}


async def test_camera_metadata_comes_from_the_table(
    harness: Harness, schema_cache: SchemaCache, sent: Any
) -> None:
    cameras_by_id.data["cam-1"] = CameraStatus(
        camera_id="cam-1",
        site_id="site-1",
        state="online",
        reported_at=datetime.now(UTC),
        name="North gate",
        zone="in",
        location=GeoPoint(lat=1.5, lon=2.5),
    )
    await route(harness, encode_plate_event(schema_cache, location=None))
    read = only_read(sent, schema_cache)
    camera = read.camera
    assert (camera.known, camera.name, camera.state) == (True, "North gate", "online")
    assert camera.location == GeoPoint(lat=1.5, lon=2.5)
    assert read.location is None


async def test_event_of_another_schema_version_is_routed(
    harness: Harness, schema_cache: SchemaCache, sent: Any
) -> None:
    newer = json.loads(AvroSchema.named("PlateEvent").text)
    newer["fields"].append({"name": "lane", "type": "int", "default": 0, "doc": "Lane."})
    schema = AvroSchema.from_text(json.dumps(newer))
    datum = {**plate_event_datum(), "lane": 2}
    await route(harness, encode(schema_cache.id_for("raw-value", schema), schema, datum))
    read = only_read(sent, schema_cache)
    assert (read.event_id, read.plate, read.track_id) == (datum["event_id"], "AB12CDE", 17)


async def test_the_vehicle_colour_is_carried_and_an_older_edge_reads_as_none(
    harness: Harness, schema_cache: SchemaCache, sent: Any
) -> None:
    await route(harness, encode_plate_event(schema_cache, vehicle_colour="red"))
    assert only_read(sent, schema_cache).vehicle_colour == "red"
    sent.reads.clear()
    older = json.loads(AvroSchema.named("PlateEvent").text)
    older["fields"] = [f for f in older["fields"] if f["name"] != "vehicle_colour"]
    schema = AvroSchema.from_text(json.dumps(older))
    datum = plate_event_datum()
    del datum["vehicle_colour"]
    await route(harness, encode(schema_cache.id_for("raw-value", schema), schema, datum))
    read = only_read(sent, schema_cache)
    assert (read.event_id, read.vehicle_colour) == (datum["event_id"], None)


async def test_camera_metadata_falls_back_to_configuration(
    harness: Harness, schema_cache: SchemaCache, sent: Any
) -> None:
    await route(harness, encode_plate_event(schema_cache, camera_id="cam-config"))
    camera = only_read(sent, schema_cache).camera
    assert (camera.known, camera.name, camera.zone) == (True, "Configured gate", "in")


async def test_unknown_camera_can_be_dead_lettered(
    harness: Harness, schema_cache: SchemaCache, sent: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    strict = RouterSettings(unknown_camera="dead_letter")  # type: ignore[call-arg]
    harness = Harness(strict, schema_cache, sent)
    await route(harness, encode_plate_event(schema_cache, camera_id="cam-nowhere"))
    letter = only_dead_letter(sent)
    assert (letter.reason, letter.stage) == ("unknown_camera", "enrich")


def _ago(seconds: float) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"plate_text": ""}, "empty_plate"),
        ({"plate_text": " - "}, "empty_plate"),
        ({"plate_text": "AB$12"}, "invalid_plate"),
        ({"plate_text": "X"}, "invalid_plate"),
        ({"plate_confidence": 1.7}, "out_of_range"),
        ({"plate_confidence": float("nan")}, "out_of_range"),
        ({"char_confidences": [0.5, -0.1]}, "out_of_range"),
        ({"plate_box": {"x": 1, "y": 1, "width": 0, "height": 9}}, "out_of_range"),
        ({"location": {"lat": 91.0, "lon": 0.0}}, "out_of_range"),
        ({"frames_agreed": 0}, "out_of_range"),
        ({"event_id": "not-a-uuid"}, "invalid_field"),
        ({"camera_id": " "}, "invalid_field"),
        ({"captured_at": _ago(8 * 24 * 3600)}, "clock_skew"),
        ({"captured_at": _ago(-3600)}, "clock_skew"),
    ],
)
async def test_invalid_events_are_dead_lettered_with_their_reason(
    harness: Harness, schema_cache: SchemaCache, sent: Any, overrides: dict[str, Any], reason: str
) -> None:
    payload = encode_plate_event(schema_cache, **overrides)
    await route(harness, payload)
    letter = only_dead_letter(sent)
    assert (letter.reason, letter.stage) == (reason, "validate")
    assert letter.payload == payload
    assert letter.event_id == overrides.get("event_id", letter.event_id)
    assert len(harness.seen) == 0


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "empty_payload"),
        (b'{"plate_text": "AB12"}', "json_payload"),
        (b"\x07garbage", "wrong_magic"),
        (b"\x00\x00\x00", "truncated"),
        (b"\x00\x00\x00\x30\x39\x02", "unknown_schema"),
        (b"\x00" * (2 * 1024 * 1024), "oversized"),
    ],
    ids=["empty", "json", "magic", "short", "unknown-id", "2MB"],
)
async def test_undecodable_messages_keep_their_bytes_and_origin(
    harness: Harness, schema_cache: SchemaCache, sent: Any, payload: bytes, reason: str
) -> None:
    await route(harness, payload)
    letter = only_dead_letter(sent)
    assert (letter.reason, letter.stage) == (reason, "decode")
    assert letter.payload == payload
    assert (letter.topic, letter.partition, letter.offset) == ("alpr.plates.raw", 0, 0)
    assert letter.key == b"key-0"
    assert letter.timestamp is not None
    assert letter.attempts == 1
    assert letter.first_failed_at == letter.failed_at
    assert letter.message


async def test_truncated_avro_body_is_truncated(
    harness: Harness, schema_cache: SchemaCache, sent: Any
) -> None:
    payload = encode_plate_event(schema_cache)
    await route(harness, payload[: len(payload) - 20])
    assert only_dead_letter(sent).reason == "truncated"


async def test_replayed_failure_continues_its_history(
    harness: Harness, schema_cache: SchemaCache, sent: Any
) -> None:
    first = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    history = [
        (HEADER_FIRST_FAILED, str(int(first.timestamp() * 1000)).encode()),
        (HEADER_ATTEMPTS, b"2"),
    ]
    await route(harness, b"\x01nope", headers=history)
    letter = only_dead_letter(sent)
    assert letter.attempts == 3
    assert letter.first_failed_at == first
    assert letter.failed_at > first


async def test_duplicates_add_no_second_read(
    harness: Harness, schema_cache: SchemaCache, sent: Any
) -> None:
    payload = encode_plate_event(schema_cache)
    await route(harness, payload, payload, payload)
    assert len(sent.reads) == 1
    assert sent.reasons == ["duplicate", "duplicate"]
    assert {letter.stage for _, letter in sent.dead_letters} == {"dedupe"}


async def test_event_seen_within_ttl_is_a_duplicate(
    harness: Harness, schema_cache: SchemaCache, sent: Any
) -> None:
    event_id = str(uuid.uuid4())
    harness.seen.written({event_id: SeenEvent(seen_at=time.time() - 60, partition=0)}, {})
    await route(harness, encode_plate_event(schema_cache, event_id=event_id))
    assert only_dead_letter(sent).reason == "duplicate"


async def test_a_message_kafka_delivers_again_is_skipped_without_a_dead_letter(
    harness: Harness, schema_cache: SchemaCache, sent: Any
) -> None:
    payload = encode_plate_event(schema_cache)
    await harness.route(harness.record(payload, key=b"cam-1", offset=7))
    # The same partition and offset again (a redelivery), then the edge sending it twice.
    await harness.route(
        harness.record(payload, key=b"cam-1", offset=7),
        harness.record(payload, key=b"cam-1", offset=8),
    )
    assert len(sent.reads) == 1
    assert sent.reasons == ["duplicate"]


async def test_a_failed_delivery_sends_the_whole_batch_again_and_marks_after(
    harness: Harness, schema_cache: SchemaCache, sent: Any
) -> None:
    payloads = [encode_plate_event(schema_cache) for _ in range(3)]
    harness.producer.fail_deliveries = 2  # the first batch's first two reads do not arrive
    await harness.route(*(harness.record(p) for p in payloads))
    reads = reads_of(sent, schema_cache)
    # The one read that arrived the first time goes again: at least once, never lost.
    assert Counter(r.event_id for r in reads) == Counter(
        {**{r.event_id: 1 for r in reads}, reads[0].event_id: 2}
    )
    assert len({r.event_id for r in reads}) == 3
    assert sent.dead_letters == []
    assert len(harness.seen) == 3
    assert [key for _, key, _ in harness.output.changelog] == [r.event_id for r in reads[1:]]


async def test_a_batch_is_given_up_when_the_consumer_stops(
    router_settings: RouterSettings, schema_cache: SchemaCache, sent: Any
) -> None:
    harness = Harness(router_settings, schema_cache, sent)
    harness.router.backoff = Backoff(0.01, 0.01, stopping=lambda: True)
    harness.producer.fail_deliveries = 1
    with pytest.raises(Abandoned):
        await harness.route(harness.record(encode_plate_event(schema_cache)))
    assert len(harness.seen) == 0 and harness.output.changelog == []


async def test_expired_entries_are_swept_with_tombstones_for_owned_partitions(
    harness: Harness,
) -> None:
    harness.seen.written(
        {
            "old-a": SeenEvent(seen_at=100.0, partition=2),
            "old-b": SeenEvent(seen_at=500.0, partition=5),
            "new": SeenEvent(seen_at=950.0, partition=2),
        },
        {},
    )
    removed = await harness.router.sweep(now=1000.0, ttl_s=100.0, owned=[2])
    assert removed == 2
    assert set(harness.seen) == {"new"}
    assert harness.output.changelog == [(2, "old-a", None)]  # old-b's owner tombstones it


async def test_a_large_sweep_goes_in_chunks_and_removes_every_expired_entry(
    harness: Harness,
) -> None:
    count = SWEEP_CHUNK * 2 + 7
    harness.seen.written({f"old-{n}": SeenEvent(100.0, n % 2) for n in range(count)}, {})
    harness.seen.written({"new": SeenEvent(950.0, 0)}, {})
    turns = 0

    async def count_turns() -> None:  # runs whenever the sweep gives the loop back
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    counter = asyncio.create_task(count_turns())
    removed = await harness.router.sweep(now=1000.0, ttl_s=100.0, owned=[0, 1])
    counter.cancel()
    assert removed == count and set(harness.seen) == {"new"}
    assert len(harness.output.changelog) == count
    assert turns >= 3  # the loop ran between the chunks


async def test_event_seen_before_the_ttl_is_routed_again(
    harness: Harness, schema_cache: SchemaCache, sent: Any, router_settings: RouterSettings
) -> None:
    event_id = str(uuid.uuid4())
    stale = time.time() - router_settings.dedupe_ttl_s - 1
    harness.seen.written({event_id: SeenEvent(seen_at=stale, partition=0)}, {})
    await route(harness, encode_plate_event(schema_cache, event_id=event_id))
    assert only_read(sent, schema_cache).event_id == event_id
    assert harness.seen[event_id].seen_at > stale


async def test_failed_send_is_dead_lettered_and_not_marked_seen(
    harness: Harness, schema_cache: SchemaCache, sent: Any
) -> None:
    sent.fail_reads_with = RuntimeError("broker said no")
    payload = encode_plate_event(schema_cache)
    await route(harness, payload)
    letter = only_dead_letter(sent)
    assert (letter.reason, letter.stage) == ("internal_error", "emit")
    assert "broker said no" in letter.message
    assert len(harness.seen) == 0


async def test_a_bug_costs_one_dead_letter_not_the_worker(
    harness: Harness, schema_cache: SchemaCache, sent: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agents.router.routing

    real = agents.router.routing.validate_event
    calls = iter([RuntimeError("boom"), None])

    def flaky(*args: Any) -> str:
        error = next(calls)
        if error is not None:
            raise error
        return real(*args)

    monkeypatch.setattr(agents.router.routing, "validate_event", flaky)
    await route(harness, encode_plate_event(schema_cache), encode_plate_event(schema_cache))
    assert sent.reasons == ["internal_error"]
    assert len(sent.reads) == 1


async def test_bad_good_and_duplicate_events_in_one_batch(
    harness: Harness, schema_cache: SchemaCache, sent: Any
) -> None:
    good = [encode_plate_event(schema_cache) for _ in range(5)]
    batch = [good[0], b"\x05", good[1], good[0], b"", *good[2:]]
    await harness.route(*(harness.record(p, partition=i % 2) for i, p in enumerate(batch)))
    assert len(reads_of(sent, schema_cache)) == 5
    assert sorted(sent.reasons) == ["duplicate", "empty_payload", "wrong_magic"]
    assert {letter.partition for _, letter in sent.dead_letters} == {0, 1}
    assert len(harness.output.changelog) == 5
