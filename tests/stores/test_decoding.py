"""Decoding a batch of detected-topic values: reads, and messages that are not reads."""

from __future__ import annotations

from typing import Any

from stores.decoding import decode_batch, decode_reads, shaped_reads
from streams.retry import Backoff
from tests.support.stores import encode_reads, plate_read_datum
from tests.support.streams import memory_schema_cache


async def test_reads_decode_and_failures_keep_their_position_and_reason() -> None:
    cache = memory_schema_cache()
    reads = [plate_read_datum(), plate_read_datum()]
    (_, first), (_, second) = encode_reads(cache, "detected-value", reads)
    values = [first, b"\x01junk", None, second[:9], second]
    decoded = await decode_reads(values, cache, Backoff())
    assert [p for p, _ in decoded.reads] == [0, 4]
    assert [r["event_id"] for _, r in decoded.reads] == [r["event_id"] for r in reads]
    assert [(p, e.reason.value) for p, e in decoded.failed] == [
        (1, "wrong_magic"),
        (2, "empty_payload"),
        (3, "truncated"),
    ]


async def test_edge_previews_are_counted_and_not_stored() -> None:
    cache = memory_schema_cache()
    preview = {**plate_read_datum(), "preview": True}
    final = {**plate_read_datum(), "supersedes": preview["event_id"]}
    values = [value for _, value in encode_reads(cache, "detected-value", [preview, final])]
    decoded = await decode_reads(values, cache, Backoff())
    assert [r["event_id"] for _, r in decoded.reads] == [final["event_id"]]
    assert decoded.previews == 1 and decoded.failed == []


async def test_each_read_is_shaped_as_decoded_and_one_that_does_not_shape_is_named() -> None:
    cache = memory_schema_cache()
    reads = [plate_read_datum(camera_id="cam-1"), plate_read_datum(camera_id="cam-2")]
    values = [value for _, value in encode_reads(cache, "detected-value", reads)]

    def camera_one_only(read: dict[str, Any]) -> str:
        if read["camera_id"] != "cam-1":
            raise KeyError("cam-1")
        return str(read["event_id"])

    decoded = await decode_batch(values, cache, Backoff(), shaped_reads(cache, camera_one_only))
    assert decoded.reads == [(0, reads[0]["event_id"])]
    assert [(p, repr(e)) for p, e in decoded.unshaped] == [(1, "KeyError('cam-1')")]
    assert decoded.failed == []
