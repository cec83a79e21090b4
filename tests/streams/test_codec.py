"""The Confluent wire-format Avro codec: round trips, registry use, and bad-bytes reasons."""

from __future__ import annotations

import io
import json
import struct
from typing import Any

import fastavro
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.codec import (
    AvroCodec,
    AvroSchema,
    RecordExtension,
    SchemaCache,
    decode,
    encode,
    schema_id_of,
)
from streams.failures import ProcessingError, Reason, Stage
from streams.records import PlateEvent
from tests.support.streams import InMemoryRegistry, encode_plate_event, plate_event_datum

READER = AvroSchema.named("PlateEvent")


@pytest.fixture
def registry() -> InMemoryRegistry:
    return InMemoryRegistry()


@pytest.fixture
def cache(registry: InMemoryRegistry) -> SchemaCache:
    return SchemaCache(registry)  # type: ignore[arg-type]


def reason_of(data: bytes | None, cache: SchemaCache) -> Reason:
    with pytest.raises(ProcessingError) as caught:
        decode(data, READER, cache)
    assert caught.value.stage is Stage.DECODE
    return caught.value.reason


def test_round_trip_keeps_every_field(cache: SchemaCache) -> None:
    datum = plate_event_datum()
    data = encode(cache.id_for("raw-value", READER), READER, datum)
    decoded = decode(data, READER, cache)
    captured = datum.pop("captured_at")
    # timestamp-millis keeps whole milliseconds
    assert decoded.pop("captured_at") == captured.replace(
        microsecond=captured.microsecond // 1000 * 1000
    )
    assert decoded == {
        k: pytest.approx(v) if isinstance(v, float | list) else v for k, v in datum.items()
    }


def test_wire_format_header(cache: SchemaCache) -> None:
    data = encode_plate_event(cache)
    magic, schema_id = struct.unpack(">bI", data[:5])
    assert (magic, schema_id) == (0, 1)
    assert schema_id_of(data) == 1
    body = fastavro.schemaless_reader(io.BytesIO(data[5:]), READER.parsed, None)
    assert isinstance(body, dict) and body["site_id"] == "site-1"


def test_registers_once_per_subject_and_caches_ids(
    cache: SchemaCache, registry: InMemoryRegistry
) -> None:
    first = cache.id_for("a-value", READER)
    assert cache.id_for("a-value", READER) == first
    assert registry.subjects == {"a-value": [first]}
    assert registry.compatibility == {"a-value": "BACKWARD"}
    fresh = SchemaCache(registry)  # type: ignore[arg-type]
    messages = [encode_plate_event(cache) for _ in range(50)]
    for message in messages:
        decode(message, READER, fresh)
    assert registry.lookups == 1


def test_old_reader_reads_new_writer_and_new_reader_reads_old_writer(
    cache: SchemaCache,
) -> None:
    evolved = json.loads(READER.text)
    evolved["fields"].append(
        {"name": "lane", "type": ["null", "int"], "default": None, "doc": "Lane number."}
    )
    new = AvroSchema.from_text(json.dumps(evolved))
    new_bytes = encode(cache.id_for("s", new), new, {**plate_event_datum(), "lane": 3})
    old_view = decode(new_bytes, READER, cache)
    assert "lane" not in old_view
    old_bytes = encode(cache.id_for("s", READER), READER, plate_event_datum())
    assert decode(old_bytes, new, cache)["lane"] is None


def test_record_of_another_type_is_incompatible(cache: SchemaCache) -> None:
    camera = AvroSchema.named("CameraStatus")
    data = encode(
        cache.id_for("c", camera),
        camera,
        {"camera_id": "c", "site_id": "s", "state": "online", "reported_at": 0},
    )
    assert reason_of(data, cache) is Reason.INCOMPATIBLE_SCHEMA


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda good: b"", Reason.EMPTY_PAYLOAD),
        (lambda good: None, Reason.EMPTY_PAYLOAD),
        (lambda good: b"\x01" + good[1:], Reason.WRONG_MAGIC),
        (lambda good: b"\x00\x00\x01", Reason.TRUNCATED),
        (lambda good: good[: len(good) // 2], Reason.TRUNCATED),
        (lambda good: good[:6], Reason.TRUNCATED),
        (lambda good: good[:1] + struct.pack(">I", 9999) + good[5:], Reason.UNKNOWN_SCHEMA),
        (lambda good: good + b"\x00\x01", Reason.MALFORMED_AVRO),
        (lambda good: json.dumps({"plate_text": "AB12"}).encode(), Reason.JSON_PAYLOAD),
        (lambda good: b"{not json", Reason.WRONG_MAGIC),
    ],
    ids=[
        "empty",
        "none",
        "wrong-magic",
        "short-header",
        "half-body",
        "one-body-byte",
        "unknown-id",
        "trailing-bytes",
        "json",
        "brace-garbage",
    ],
)
def test_bad_bytes_have_their_reason(cache: SchemaCache, mangle: Any, reason: Reason) -> None:
    good = encode_plate_event(cache)
    assert reason_of(mangle(good), cache) is reason


def test_unknown_id_is_asked_once_within_its_ttl(
    cache: SchemaCache, registry: InMemoryRegistry
) -> None:
    data = b"\x00" + struct.pack(">I", 4242) + b"\x02"
    for _ in range(5):
        assert reason_of(data, cache) is Reason.UNKNOWN_SCHEMA
    assert registry.lookups == 1


@given(st.binary(max_size=300))
def test_any_bytes_decode_or_fail_with_a_reason(data: bytes) -> None:
    cache = SchemaCache(InMemoryRegistry())  # type: ignore[arg-type]
    cache.id_for("s", READER)
    try:
        decode(b"\x00\x00\x00\x00\x01" + data, READER, cache)
    except ProcessingError as error:
        assert error.reason in set(Reason)


def test_faust_codec_round_trips_records(cache: SchemaCache) -> None:
    codec = AvroCodec("PlateEvent", subject="alpr.plates.raw-value", schema_cache=cache)
    event = PlateEvent.from_data(plate_event_datum())
    data = event.dumps(serializer=codec)
    assert data[0] == 0
    back = PlateEvent.loads(data, serializer=codec)
    assert back.event_id == event.event_id
    assert back.plate_box == event.plate_box
    assert back.location == event.location
    assert back.captured_at.timestamp() == pytest.approx(event.captured_at.timestamp(), abs=1e-3)


def test_faust_codec_clone_keeps_its_binding(cache: SchemaCache) -> None:
    codec = AvroCodec("PlateEvent", subject="s-value", schema_cache=cache)
    clone = codec.clone()
    assert isinstance(clone, AvroCodec)
    assert (clone.subject, clone.schema, clone.cache) == ("s-value", codec.schema, cache)


def test_faust_codec_needs_a_subject() -> None:
    with pytest.raises(ValueError, match="subject"):
        AvroCodec("PlateEvent", subject="")


def test_every_proper_prefix_of_a_message_is_truncated(cache: SchemaCache) -> None:
    good = encode_plate_event(cache)
    reasons = {reason_of(good[:cut], cache) for cut in range(1, len(good))}
    assert reasons == {Reason.TRUNCATED}


def test_extension_body_is_the_base_body_then_the_additions(cache: SchemaCache) -> None:
    event, read = AvroSchema.named("PlateEvent"), AvroSchema.named("PlateRead")
    extension = RecordExtension(event, read)
    datum = plate_event_datum()
    additions = {
        "received_at": datum["captured_at"],
        "plate": "AB12CDE",
        "search_key": "A812C0E",
        "camera": {"known": True, "name": "Gate", "zone": None, "state": None, "location": None},
    }
    read_id = cache.id_for("r", read)
    passed_through = extension.encode(read_id, encode(1, event, datum)[5:], additions)
    assert passed_through == encode(read_id, read, {**datum, **additions})


def test_extension_needs_the_base_fields_first() -> None:
    with pytest.raises(ValueError, match="does not start with"):
        RecordExtension(AvroSchema.named("PlateRead"), AvroSchema.named("DeadLetter"))
