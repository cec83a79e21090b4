"""Bundles of records: what goes in comes out, field by field; damage is named."""

from __future__ import annotations

import pytest
from aiokafka import ConsumerRecord

from agents.alerting.bundles import (
    MAGIC,
    BundleError,
    decode_bundle,
    encode_bundle,
    encoded_size,
    is_bundle,
)


def record(offset: int, key: bytes | None, value: bytes | None, headers=None, stamp=None):  # type: ignore[no-untyped-def]
    return ConsumerRecord(
        "alpr.plates.detected", offset % 3, offset, stamp, 0, key, value, None,
        len(key or b""), len(value or b""), headers or [],
    )  # fmt: skip


def test_records_come_out_as_they_went_in() -> None:
    records = [
        record(7, b"AB12CDE", b"\x00\x00\x00\x00\x01avro", [("x-try", b"2")], 1_700_000_000_123),
        record(8, None, None),  # no key, no value, no timestamp
        record(2**40, "PLÄTE".encode(), b"\xab" * 1000, [("ü", b""), ("b", b"\x00\xff")], 0),
    ]
    data = encode_bundle(records)
    assert is_bundle(data) and data.startswith(MAGIC)
    out = decode_bundle(data)
    assert [(m.topic, m.partition, m.offset, m.key, m.value, list(m.headers)) for m in out] == [
        (r.topic, r.partition, r.offset, r.key, r.value, list(r.headers)) for r in records
    ]
    assert [m.timestamp for m in out] == [1_700_000_000.123, None, 0.0]
    assert sum(encoded_size(r) for r in records) + len(MAGIC) + 4 == len(data)


def test_an_avro_read_is_not_a_bundle() -> None:
    assert not is_bundle(b"\x00\x00\x00\x00\x01body") and not is_bundle(None)
    assert decode_bundle(encode_bundle([])) == []


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\x00avro", "no magic"),
        (MAGIC + b"\x00\x00", "truncated"),
        (encode_bundle([record(1, b"K", b"V")])[:-3], "truncated"),
        (encode_bundle([record(1, b"K", b"V")]) + b"junk", "4 bytes after the last record"),
    ],
)
def test_damage_is_named(data: bytes, words: str) -> None:
    with pytest.raises(BundleError, match=words):
        decode_bundle(data)
