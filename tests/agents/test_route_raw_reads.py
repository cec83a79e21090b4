"""The router agent through ``agent.test_context()``: routing, validation, dedupe, enrichment
and dead letters, with memory tables and an in-memory schema registry."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import agents.router
from agents.deadletters import HEADER_ATTEMPTS, HEADER_FIRST_FAILED
from agents.router import route_raw_reads
from agents.router_config import RouterSettings
from streams.codec import AvroSchema, SchemaCache, decode, encode
from streams.records import CameraStatus, DeadLetter, GeoPoint, PlateRead
from streams.testing import encode_plate_event, plate_event_datum
from tables.cameras import cameras_by_id
from tables.dedupe import SeenEvent, event_ids_seen

pytestmark = pytest.mark.usefixtures("router_settings")

READ = AvroSchema.named("PlateRead")


async def route(*messages: bytes | None, headers: Any = None) -> None:
    """Put each message (keyed like the edge does) and wait until it is routed."""
    async with route_raw_reads.test_context() as agent:
        for offset, payload in enumerate(messages):
            await agent.put(payload, key=f"key-{offset}".encode(), headers=headers)


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
    schema_cache: SchemaCache, sent: Any
) -> None:
    event_id = str(uuid.uuid4())
    before = time.time()
    await route(encode_plate_event(schema_cache, event_id=event_id, plate_text="ab-12 cde"))
    read = only_read(sent, schema_cache)
    assert (read.event_id, read.plate, read.search_key) == (event_id, "AB12CDE", "A812C0E")
    assert read.site_id == "site-1" and read.model_versions["ocr"] == "ppocr-rec"
    assert read.plate_text == "ab-12 cde"
    assert read.plate_box.width == 120 and read.vehicle_box is not None
    assert read.received_at.timestamp() >= before - 1
    assert read.camera.known is False
    assert event_ids_seen.data[event_id].seen_at >= before - 1


async def test_seen_entry_is_logged_on_the_event_partition(
    schema_cache: SchemaCache, sent: Any, changelog_sends: list[tuple[Any, ...]]
) -> None:
    event_id = str(uuid.uuid4())
    async with route_raw_reads.test_context() as agent:
        await agent.put(encode_plate_event(schema_cache, event_id=event_id), key=b"k", partition=3)
    ((partition, key, entry),) = changelog_sends
    assert (partition, key, entry.partition) == (3, event_id, 3)
    assert event_ids_seen.data[event_id] == entry


async def test_camera_metadata_comes_from_the_table(schema_cache: SchemaCache, sent: Any) -> None:
    cameras_by_id.data["cam-1"] = CameraStatus(
        camera_id="cam-1",
        site_id="site-1",
        state="online",
        reported_at=datetime.now(UTC),
        name="North gate",
        zone="in",
        location=GeoPoint(lat=1.5, lon=2.5),
    )
    await route(encode_plate_event(schema_cache, location=None))
    read = only_read(sent, schema_cache)
    camera = read.camera
    assert (camera.known, camera.name, camera.state) == (True, "North gate", "online")
    assert camera.location == GeoPoint(lat=1.5, lon=2.5)
    assert read.location is None


async def test_event_of_another_schema_version_is_routed(
    schema_cache: SchemaCache, sent: Any
) -> None:
    newer = json.loads(AvroSchema.named("PlateEvent").text)
    newer["fields"].append({"name": "lane", "type": "int", "default": 0, "doc": "Lane."})
    schema = AvroSchema.from_text(json.dumps(newer))
    datum = {**plate_event_datum(), "lane": 2}
    await route(encode(schema_cache.id_for("raw-value", schema), schema, datum))
    read = only_read(sent, schema_cache)
    assert (read.event_id, read.plate, read.track_id) == (datum["event_id"], "AB12CDE", 17)


async def test_camera_metadata_falls_back_to_configuration(
    schema_cache: SchemaCache, sent: Any
) -> None:
    await route(encode_plate_event(schema_cache, camera_id="cam-config"))
    camera = only_read(sent, schema_cache).camera
    assert (camera.known, camera.name, camera.zone) == (True, "Configured gate", "in")


async def test_unknown_camera_can_be_dead_lettered(
    schema_cache: SchemaCache, sent: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    strict = RouterSettings(unknown_camera="dead_letter")  # type: ignore[call-arg]
    monkeypatch.setattr(agents.router, "get_router_settings", lambda: strict)
    await route(encode_plate_event(schema_cache, camera_id="cam-nowhere"))
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
    schema_cache: SchemaCache, sent: Any, overrides: dict[str, Any], reason: str
) -> None:
    payload = encode_plate_event(schema_cache, **overrides)
    await route(payload)
    letter = only_dead_letter(sent)
    assert (letter.reason, letter.stage) == (reason, "validate")
    assert letter.payload == payload
    assert letter.event_id == overrides.get("event_id", letter.event_id)
    assert event_ids_seen.data == {}


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
    schema_cache: SchemaCache, sent: Any, payload: bytes, reason: str
) -> None:
    await route(payload)
    letter = only_dead_letter(sent)
    assert (letter.reason, letter.stage) == (reason, "decode")
    assert letter.payload == payload
    assert (letter.topic, letter.partition, letter.offset) == ("alpr.plates.raw", 0, 0)
    assert letter.key == b"key-0"
    assert letter.timestamp is not None
    assert letter.attempts == 1
    assert letter.first_failed_at == letter.failed_at
    assert letter.message


async def test_truncated_avro_body_is_truncated(schema_cache: SchemaCache, sent: Any) -> None:
    payload = encode_plate_event(schema_cache)
    await route(payload[: len(payload) - 20])
    assert only_dead_letter(sent).reason == "truncated"


async def test_replayed_failure_continues_its_history(schema_cache: SchemaCache, sent: Any) -> None:
    first = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    history = [
        (HEADER_FIRST_FAILED, str(int(first.timestamp() * 1000)).encode()),
        (HEADER_ATTEMPTS, b"2"),
    ]
    await route(b"\x01nope", headers=history)
    letter = only_dead_letter(sent)
    assert letter.attempts == 3
    assert letter.first_failed_at == first
    assert letter.failed_at > first


async def test_duplicates_add_no_second_read(schema_cache: SchemaCache, sent: Any) -> None:
    payload = encode_plate_event(schema_cache)
    await route(payload, payload, payload)
    assert len(sent.reads) == 1
    assert sent.reasons == ["duplicate", "duplicate"]
    assert {letter.stage for _, letter in sent.dead_letters} == {"dedupe"}


async def test_event_seen_within_ttl_is_a_duplicate(schema_cache: SchemaCache, sent: Any) -> None:
    event_id = str(uuid.uuid4())
    event_ids_seen.data[event_id] = SeenEvent(seen_at=time.time() - 60, partition=0)
    await route(encode_plate_event(schema_cache, event_id=event_id))
    assert only_dead_letter(sent).reason == "duplicate"


async def test_a_message_kafka_delivers_again_is_skipped_without_a_dead_letter(
    schema_cache: SchemaCache, sent: Any
) -> None:
    payload = encode_plate_event(schema_cache)
    async with route_raw_reads.test_context() as agent:
        await agent.put(payload, key=b"cam-1", partition=0)
        agent.sent_offset -= 1  # the same partition and offset again: a redelivery
        await agent.put(payload, key=b"cam-1", partition=0)
        await agent.put(payload, key=b"cam-1", partition=0)  # the edge sent it twice
    assert len(sent.reads) == 1
    assert sent.reasons == ["duplicate"]


async def test_event_seen_before_the_ttl_is_routed_again(
    schema_cache: SchemaCache, sent: Any, router_settings: RouterSettings
) -> None:
    event_id = str(uuid.uuid4())
    stale = time.time() - router_settings.dedupe_ttl_s - 1
    event_ids_seen.data[event_id] = SeenEvent(seen_at=stale, partition=0)
    await route(encode_plate_event(schema_cache, event_id=event_id))
    assert only_read(sent, schema_cache).event_id == event_id
    assert event_ids_seen.data[event_id].seen_at > stale


async def test_failed_send_is_dead_lettered_and_not_marked_seen(
    schema_cache: SchemaCache, sent: Any
) -> None:
    sent.fail_reads_with = RuntimeError("broker said no")
    payload = encode_plate_event(schema_cache)
    await route(payload)
    letter = only_dead_letter(sent)
    assert (letter.reason, letter.stage) == ("internal_error", "emit")
    assert "broker said no" in letter.message
    assert event_ids_seen.data == {}


async def test_a_bug_costs_one_dead_letter_not_the_worker(
    schema_cache: SchemaCache, sent: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agents.routing

    real = agents.routing.validate_event
    calls = iter([RuntimeError("boom"), None])

    def flaky(*args: Any) -> str:
        error = next(calls)
        if error is not None:
            raise error
        return real(*args)

    monkeypatch.setattr(agents.routing, "validate_event", flaky)
    await route(encode_plate_event(schema_cache), encode_plate_event(schema_cache))
    assert sent.reasons == ["internal_error"]
    assert len(sent.reads) == 1


async def test_bad_good_and_duplicate_events_in_a_burst(
    schema_cache: SchemaCache, sent: Any
) -> None:
    good = [encode_plate_event(schema_cache) for _ in range(5)]
    batch = [good[0], b"\x05", good[1], good[0], b"", *good[2:]]
    async with route_raw_reads.test_context() as agent, asyncio.timeout(10):
        for offset, payload in enumerate(batch):
            await agent.put(payload, key=b"k", partition=offset % 2, wait=False)
        while len(sent.reads) + len(sent.dead_letters) < len(batch):
            await asyncio.sleep(0.01)
    assert len(reads_of(sent, schema_cache)) == 5
    assert sorted(sent.reasons) == ["duplicate", "empty_payload", "wrong_magic"]
    assert {letter.partition for _, letter in sent.dead_letters} == {0, 1}
