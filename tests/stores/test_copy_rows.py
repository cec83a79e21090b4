"""Transcoding PlateRead messages into binary COPY rows without a database: the schema it
reads, previews, other writer schemas, and messages that are not PlateReads.
(tests/integration/test_projections_copy.py checks the rows against PostgreSQL itself.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from stores.copy_rows import AVRO_FIELDS, COPY_COLUMNS, READ_SCHEMA, CopyRow, ReadTranscoder
from stores.pg_writer import hourly_counts, hourly_counts_of_copy_rows
from stores.rows import COLUMNS, read_row
from streams.codec import AvroSchema, encode
from streams.failures import ProcessingError
from tests.support.stores import encode_reads, plate_read_datum
from tests.support.streams import memory_schema_cache

SUBJECT = "detected-value"


def flattened(fields: list[dict[str, Any]], prefix: str = "") -> list[str]:
    names = []
    for item in fields:
        kind = item["type"]
        if isinstance(kind, dict) and kind.get("type") == "record" and item["name"] == "camera":
            names += flattened(kind["fields"], f"{item['name']}.")
        else:
            names.append(prefix + item["name"])
    return names


def test_the_transcoder_reads_the_fields_of_the_project_schema_in_order() -> None:
    # A field added to schemas/plate_read.avsc must be added to stores/copy_rows.py too.
    assert flattened(json.loads(READ_SCHEMA.text)["fields"]) == list(AVRO_FIELDS)
    assert sorted(COPY_COLUMNS) == sorted(COLUMNS)


def transcode_all(reads: list[dict[str, Any]]) -> list[CopyRow | None]:
    cache = memory_schema_cache()
    transcode = ReadTranscoder(cache)
    return [transcode(value) for _, value in encode_reads(cache, SUBJECT, reads)]


def test_a_row_keeps_the_camera_and_capture_time_and_previews_are_none() -> None:
    captured = datetime(2026, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)
    final, preview = transcode_all(
        [plate_read_datum(camera_id="cam-9", captured_at=captured),
         plate_read_datum(preview=True)]
    )  # fmt: skip
    assert preview is None
    assert final is not None
    assert final.camera_id == "cam-9"
    assert final.captured_ms == int(captured.timestamp() * 1000)
    assert final.data[:2] == len(COPY_COLUMNS).to_bytes(2, "big")


def test_hourly_counts_of_copy_rows_match_those_of_tuples() -> None:
    start = datetime(2026, 1, 1, 23, 30, tzinfo=UTC)
    reads = [plate_read_datum(camera_id=f"c{n % 3}", captured_at=start + timedelta(minutes=7 * n))
             for n in range(40)]  # fmt: skip
    rows = [row for row in transcode_all(reads) if row is not None]
    assert hourly_counts_of_copy_rows(rows) == hourly_counts([read_row(r) for r in reads])


def test_a_message_of_another_writer_schema_is_resolved_first() -> None:
    cache = memory_schema_cache()
    older = json.loads(READ_SCHEMA.text)
    older["fields"] = [f for f in older["fields"] if f["name"] not in ("preview", "supersedes")]
    writer = AvroSchema.from_text(json.dumps(older))
    read = plate_read_datum()
    old_message = encode(cache.id_for("old-value", writer), writer, read)
    (_, new_message), *_ = encode_reads(cache, SUBJECT, [read])
    transcode = ReadTranscoder(cache)
    assert transcode(old_message) == transcode(new_message)


def copy_field(row: CopyRow, column: str) -> bytes | None:
    """One field of a binary COPY row by column name (None for SQL NULL)."""
    pos = 2
    for name in COPY_COLUMNS:
        size = int.from_bytes(row.data[pos : pos + 4], "big", signed=True)
        pos += 4
        value = None if size < 0 else row.data[pos : pos + size]
        pos += max(size, 0)
        if name == column:
            return value
    raise KeyError(column)


def test_the_vehicle_colour_is_copied_and_an_older_writer_gives_null() -> None:
    cache = memory_schema_cache()
    older = json.loads(READ_SCHEMA.text)
    older["fields"] = [f for f in older["fields"] if f["name"] != "vehicle_colour"]
    writer = AvroSchema.from_text(json.dumps(older))
    read = plate_read_datum(vehicle_colour="red")
    old_read = {k: v for k, v in read.items() if k != "vehicle_colour"}
    old_row = ReadTranscoder(cache)(encode(cache.id_for("old-value", writer), writer, old_read))
    (new_row,) = transcode_all([read])
    assert new_row is not None and old_row is not None
    assert copy_field(new_row, "vehicle_colour") == b"red"
    assert copy_field(old_row, "vehicle_colour") is None
    assert copy_field(new_row, "edge_version") == copy_field(old_row, "edge_version") == b"0.1.0"


@pytest.mark.parametrize(
    ("value", "reason"),
    [(None, "empty_payload"), (b"\x01junk", "wrong_magic"), (b'{"plate": 1}', "json_payload")],
)
def test_a_message_that_is_no_read_fails_as_decoding_does(value: bytes | None, reason: str) -> None:
    with pytest.raises(ProcessingError) as failure:
        ReadTranscoder(memory_schema_cache())(value)
    assert failure.value.reason.value == reason


def test_a_cut_or_padded_body_fails_with_the_reason_fastavro_gives() -> None:
    cache = memory_schema_cache()
    (_, message), *_ = encode_reads(cache, SUBJECT, [plate_read_datum()])
    transcode = ReadTranscoder(cache)
    for broken, reason in [(message[:30], "truncated"), (message + b"\x00", "malformed_avro")]:
        with pytest.raises(ProcessingError) as failure:
            transcode(broken)
        assert failure.value.reason.value == reason
