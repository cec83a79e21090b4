"""Bundles: several Kafka records carried as one message, for an internal topic whose
consumer pays a fixed cost per message (Faust's per-event machinery).

The rule feed bundles the reads of one batch that go to one partition of the alert agent's
topic; the agent opens the bundle and evaluates each read as if it had come alone. Each
record keeps its key, value, timestamp, headers and where it was read from (topic,
partition, offset), so a read that fails is dead-lettered as itself.

Wire format (big-endian): the magic ``b"\\xabRB1"``, the record count (u32), then per record
the origin partition (i32) and offset (i64), the timestamp in ms (i64, -1 for none), the
origin topic, key and value (each a u32 length, ``0xFFFFFFFF`` for none, and the bytes), the
header count (u16) and per header a name (u16 length, UTF-8) and a value (u32 length). The
magic cannot begin an Avro wire-format message (those begin with 0x00), so a consumer can
take both a bundle and a lone record.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import Protocol

from agents.deadletters.letters import RecordMessage

MAGIC = b"\xabRB1"
_NONE = 0xFFFFFFFF
_HEAD = struct.Struct(">I")
_RECORD = struct.Struct(">iqq")
_LEN = struct.Struct(">I")
_COUNT = struct.Struct(">H")
_NAME = struct.Struct(">H")


class BundleError(ValueError):
    """The bytes are not a well-formed bundle."""


class Bundled(Protocol):
    """What a record needs to be bundled (an aiokafka ``ConsumerRecord`` has it)."""

    topic: str
    partition: int
    offset: int
    timestamp: int | None
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


def is_bundle(data: bytes | None) -> bool:
    return data is not None and data[: len(MAGIC)] == MAGIC


def _field(out: list[bytes], data: bytes | None) -> None:
    if data is None:
        out.append(_LEN.pack(_NONE))
    else:
        out += (_LEN.pack(len(data)), data)


def encode_bundle(records: Iterable[Bundled]) -> bytes:
    """One message carrying ``records``."""
    out: list[bytes] = []
    count = 0
    for record in records:
        count += 1
        stamp = -1 if record.timestamp is None else record.timestamp
        out.append(_RECORD.pack(record.partition, record.offset, stamp))
        _field(out, record.topic.encode())
        _field(out, record.key)
        _field(out, record.value)
        headers = list(record.headers or ())
        out.append(_COUNT.pack(len(headers)))
        for name, value in headers:
            encoded = name.encode()
            out += (_NAME.pack(len(encoded)), encoded)
            _field(out, value)
    return b"".join([MAGIC, _HEAD.pack(count), *out])


def encoded_size(record: Bundled) -> int:
    """Bytes ``record`` takes in a bundle (to keep bundles under a message size)."""
    headers = sum(2 + len(n.encode()) + 4 + len(v or b"") for n, v in record.headers or ())
    return (
        _RECORD.size + 12 + len(record.topic) + len(record.key or b"")
        + len(record.value or b"") + 2 + headers
    )  # fmt: skip


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.at = 0

    def take(self, layout: struct.Struct) -> tuple[int, ...]:
        if self.at + layout.size > len(self.data):
            raise BundleError(f"bundle truncated at byte {self.at}")
        values = layout.unpack_from(self.data, self.at)
        self.at += layout.size
        return values

    def raw(self, size: int) -> bytes:
        if self.at + size > len(self.data):
            raise BundleError(f"bundle truncated at byte {self.at}")
        chunk = bytes(self.data[self.at : self.at + size])
        self.at += size
        return chunk

    def field(self) -> bytes | None:
        (size,) = self.take(_LEN)
        return None if size == _NONE else self.raw(size)


def decode_bundle(data: bytes) -> list[RecordMessage]:
    """The records of a bundle, as messages (timestamp in seconds)."""
    if not is_bundle(data):
        raise BundleError("not a bundle (no magic)")
    reader = _Reader(data)
    reader.at = len(MAGIC)
    (count,) = reader.take(_HEAD)
    records = []
    try:
        for _ in range(count):
            partition, offset, stamp = reader.take(_RECORD)
            topic = (reader.field() or b"").decode()
            key, value = reader.field(), reader.field()
            (header_count,) = reader.take(_COUNT)
            headers = []
            for _ in range(header_count):
                (size,) = reader.take(_NAME)
                name = reader.raw(size).decode()
                headers.append((name, reader.field() or b""))
            seconds = None if stamp < 0 else stamp / 1000.0
            records.append(RecordMessage(topic, partition, offset, key, value, seconds, headers))
    except UnicodeDecodeError as exc:
        raise BundleError(f"bundle holds a name that is not UTF-8: {exc}") from exc
    if reader.at != len(reader.data):
        raise BundleError(f"{len(reader.data) - reader.at} bytes after the last record")
    return records
