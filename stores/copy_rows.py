"""A PlateRead's Avro body straight into a row of PostgreSQL's binary ``COPY`` format.

The PostgreSQL projection spends most of its time turning bytes into Python objects and back:
fastavro builds a dict of the read, :func:`stores.rows.read_row` a tuple of it, and asyncpg
encodes the tuple again (checking every array element against three abstract base classes).
Both formats are length-prefixed binary with UTF-8 text, so this module copies each field
across instead: strings are sliced and given a 4-byte length, numbers change byte order,
timestamps their epoch, boxes and confidences become arrays. Only the camera and capture time
are kept as Python values (for the hourly counts and the daily partitions).

It reads exactly the project's PlateRead schema (``schemas/plate_read.avsc``): a message
written with another schema is decoded by fastavro, resolved to the project's schema and
encoded again first (:func:`transcode_message`). :data:`AVRO_FIELDS` names the fields in the
order this code reads them, and a unit test holds it to the schema.
"""

from __future__ import annotations

import io
import json
import struct
from typing import NamedTuple

import fastavro

from streams.codec import HEADER_SIZE, AvroSchema, SchemaCache, decode_message, schema_id_of
from streams.failures import ProcessingError, Reason, Stage

READ_SCHEMA = AvroSchema.named("PlateRead")

#: PlateRead's fields, nested ones dotted, in the order of its Avro body.
AVRO_FIELDS: tuple[str, ...] = (
    "event_id", "site_id", "camera_id", "captured_at", "plate_text", "plate_confidence",
    "char_confidences", "region", "plate_box", "vehicle_box", "vehicle_type", "direction",
    "track_id", "frames_agreed", "plate_crop_key", "vehicle_image_key", "model_versions",
    "edge_version", "location", "preview", "supersedes", "vehicle_colour", "received_at",
    "plate", "search_key", "camera.known", "camera.name", "camera.zone", "camera.state",
    "camera.location",
)  # fmt: skip

#: Columns of ``plate_reads`` in the order of a transcoded row (the Avro order; a read's
#: own location, else its camera's, comes last as lat and lon).
COPY_COLUMNS: tuple[str, ...] = (
    "event_id", "site_id", "camera_id", "captured_at", "plate_text", "plate_confidence",
    "char_confidences", "region", "plate_box", "vehicle_box", "vehicle_type", "direction",
    "track_id", "frames_agreed", "plate_crop_key", "vehicle_image_key", "model_versions",
    "edge_version", "vehicle_colour", "received_at", "plate", "search_key", "camera_known",
    "camera_name", "camera_zone", "lat", "lon",
)  # fmt: skip

#: The start and the end of a binary COPY stream (signature, flags, no header extension).
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
COPY_TRAILER = struct.pack(">h", -1)

_ROW_START = struct.pack(">h", len(COPY_COLUMNS))
_NULL = struct.pack(">i", -1)
_I32 = struct.Struct(">i").pack
_FIELD_I64 = struct.Struct(">iq").pack
_FIELD_I32 = struct.Struct(">ii").pack
#: An int4[] of 4 as a field: its length, ndim 1, no nulls, element type, 4 elements from
#: index 1, then (4, value) for each.
_BOX = struct.Struct(">14i").pack
_FIELD_F4 = struct.Struct(">if").pack
_FIELD_F8 = struct.Struct(">id").pack
_LE_F4 = struct.Struct("<f").unpack_from
_LE_F8 = struct.Struct("<d").unpack_from
_FLOAT4_OID, _INT4_OID = 700, 23
#: Milliseconds from the Unix epoch to PostgreSQL's (2000-01-01 UTC).
_PG_EPOCH_MS = 946_684_800_000
_TRUE_FIELD = _I32(1) + b"\x01"
_FALSE_FIELD = _I32(1) + b"\x00"


class CopyRow(NamedTuple):
    """One read as a binary COPY row of :data:`COPY_COLUMNS`, with what the writer needs."""

    data: bytes
    camera_id: str
    #: Capture time, milliseconds since the Unix epoch (UTC).
    captured_ms: int


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    """An Avro int or long (zig-zag varint) at ``pos``, and the position after it."""
    byte = buf[pos]
    pos += 1
    value = byte & 0x7F
    shift = 7
    while byte & 0x80:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
    return (value >> 1) ^ -(value & 1), pos


def _text(buf: bytes, pos: int) -> tuple[bytes, int]:
    """An Avro string as a COPY text field (length, UTF-8 bytes)."""
    byte = buf[pos]
    if byte < 0x80 and not byte & 1:  # lengths up to 63: one byte, the usual case
        size = byte >> 1
        pos += 1
    else:
        size, pos = _varint(buf, pos)
    end = pos + size
    if size < 0 or end > len(buf):
        raise IndexError("string runs past the end")
    return _I32(size) + buf[pos:end], end


def _optional_text(buf: bytes, pos: int) -> tuple[bytes, int]:
    """A ``["null", "string"]`` union as a COPY text field or NULL."""
    branch = buf[pos]
    if branch == 0:
        return _NULL, pos + 1
    if branch != 2:
        raise ValueError(f"union branch {branch} of a nullable string")
    return _text(buf, pos + 1)


def _box(buf: bytes, pos: int) -> tuple[bytes, int]:
    x, pos = _varint(buf, pos)
    y, pos = _varint(buf, pos)
    width, pos = _varint(buf, pos)
    height, pos = _varint(buf, pos)
    return _BOX(52, 1, 0, _INT4_OID, 4, 1, 4, x, 4, y, 4, width, 4, height), pos


def _float_array(buf: bytes, pos: int) -> tuple[bytes, int]:
    """An Avro array of floats as a COPY float4[] field."""
    values: list[float] = []
    while True:
        count, pos = _varint(buf, pos)
        if count == 0:
            break
        if count < 0:  # a block that gives its size in bytes as well
            count = -count
            _, pos = _varint(buf, pos)
        end = pos + 4 * count
        if end > len(buf):
            raise IndexError("array runs past the end")
        values.extend(struct.unpack_from(f"<{count}f", buf, pos))
        pos = end
    size = len(values)
    body = struct.pack(f">iiiii{'if' * size}", 1, 0, _FLOAT4_OID, size, 1,
                       *[part for value in values for part in (4, value)])  # fmt: skip
    return _I32(len(body)) + body, pos


#: model_versions maps as Avro bytes -> their jsonb field: the reads of one edge carry the
#: same map, so each distinct one is encoded once.
_JSONB_CACHE: dict[bytes, bytes] = {}


def _jsonb_map(buf: bytes, pos: int) -> tuple[bytes, int]:
    """An Avro map of strings as a COPY jsonb field (version 1, JSON text)."""
    end = _map_end(buf, pos)
    raw = buf[pos:end]
    field = _JSONB_CACHE.get(raw)
    if field is None:
        items: dict[str, str] = {}
        while True:
            count, pos = _varint(buf, pos)
            if count == 0:
                break
            if count < 0:
                count = -count
                _, pos = _varint(buf, pos)
            for _ in range(count):
                key, pos = _text(buf, pos)
                value, pos = _text(buf, pos)
                items[key[4:].decode()] = value[4:].decode()
        text = b"\x01" + json.dumps(dict(sorted(items.items())), separators=(",", ":")).encode()
        field = _I32(len(text)) + text
        if len(_JSONB_CACHE) < 1024:
            _JSONB_CACHE[raw] = field
    return field, end


def _map_end(buf: bytes, pos: int) -> int:
    """Where the Avro map of strings at ``pos`` ends (its strings skipped, not decoded)."""
    while True:
        count, pos = _varint(buf, pos)
        if count == 0:
            return pos
        if count < 0:  # the block gives its size in bytes: skip it whole
            size, pos = _varint(buf, pos)
            pos += size
            continue
        for _ in range(2 * count):
            size, pos = _varint(buf, pos)
            if size < 0:
                raise ValueError("negative string length")
            pos += size
        if pos > len(buf):
            raise IndexError("map runs past the end")


def _location(buf: bytes, pos: int) -> tuple[bytes | None, int]:
    """A ``["null", "GeoPoint"]`` union as the lat and lon fields, or None."""
    branch = buf[pos]
    if branch == 0:
        return None, pos + 1
    if branch != 2:
        raise ValueError(f"union branch {branch} of a location")
    lat = _LE_F8(buf, pos + 1)[0]
    lon = _LE_F8(buf, pos + 9)[0]
    return _FIELD_F8(8, lat) + _FIELD_F8(8, lon), pos + 17


def _timestamp(buf: bytes, pos: int) -> tuple[int, bytes, int]:
    millis, pos = _varint(buf, pos)
    return millis, _FIELD_I64(8, (millis - _PG_EPOCH_MS) * 1000), pos


def transcode_body(buf: bytes, pos: int = HEADER_SIZE) -> CopyRow | None:
    """The COPY row of the PlateRead body at ``pos``; None for an edge preview.

    Raises ``IndexError``, ``ValueError`` or ``struct.error`` when the body is not a whole
    PlateRead (the caller decodes it again with fastavro for the precise reason).
    """
    parts: list[bytes] = [_ROW_START]
    add = parts.append
    field, pos = _text(buf, pos)  # event_id
    add(field)
    field, pos = _text(buf, pos)  # site_id
    add(field)
    field, pos = _text(buf, pos)  # camera_id
    add(field)
    camera_id = field[4:].decode()
    captured_ms, field, pos = _timestamp(buf, pos)
    add(field)
    field, pos = _text(buf, pos)  # plate_text
    add(field)
    add(_FIELD_F4(4, _LE_F4(buf, pos)[0]))  # plate_confidence
    field, pos = _float_array(buf, pos + 4)  # char_confidences
    add(field)
    field, pos = _optional_text(buf, pos)  # region
    add(field)
    field, pos = _box(buf, pos)  # plate_box
    add(field)
    branch = buf[pos]  # vehicle_box
    if branch == 0:
        add(_NULL)
        pos += 1
    elif branch == 2:
        field, pos = _box(buf, pos + 1)
        add(field)
    else:
        raise ValueError(f"union branch {branch} of vehicle_box")
    field, pos = _optional_text(buf, pos)  # vehicle_type
    add(field)
    field, pos = _text(buf, pos)  # direction
    add(field)
    track_id, pos = _varint(buf, pos)
    add(_FIELD_I64(8, track_id))
    frames, pos = _varint(buf, pos)
    add(_FIELD_I32(4, frames))
    field, pos = _optional_text(buf, pos)  # plate_crop_key
    add(field)
    field, pos = _optional_text(buf, pos)  # vehicle_image_key
    add(field)
    field, pos = _jsonb_map(buf, pos)  # model_versions
    add(field)
    field, pos = _text(buf, pos)  # edge_version
    add(field)
    location, pos = _location(buf, pos)
    preview = buf[pos]
    if preview > 1:
        raise ValueError(f"boolean byte {preview}")
    _, pos = _optional_text(buf, pos + 1)  # supersedes: not stored
    field, pos = _optional_text(buf, pos)  # vehicle_colour
    add(field)
    _, field, pos = _timestamp(buf, pos)  # received_at
    add(field)
    field, pos = _text(buf, pos)  # plate
    add(field)
    field, pos = _text(buf, pos)  # search_key
    add(field)
    known = buf[pos]  # camera.known
    if known > 1:
        raise ValueError(f"boolean byte {known}")
    add(_TRUE_FIELD if known else _FALSE_FIELD)
    field, pos = _optional_text(buf, pos + 1)  # camera.name
    add(field)
    field, pos = _optional_text(buf, pos)  # camera.zone
    add(field)
    _, pos = _optional_text(buf, pos)  # camera.state: not stored
    camera_location, pos = _location(buf, pos)
    if pos != len(buf):
        raise ValueError(f"{len(buf) - pos} bytes left after the PlateRead")
    if preview:
        return None
    where = location or camera_location
    add(where if where is not None else _NULL + _NULL)
    return CopyRow(b"".join(parts), camera_id, captured_ms)


class ReadTranscoder:
    """Wire-format messages of ``alpr.plates.detected`` as COPY rows.

    A message of the project's PlateRead schema is transcoded directly; one of another
    writer schema is resolved by fastavro to the project's schema and encoded again first.
    Raises ``ProcessingError`` (stage decode, with the reason) for a message that is not a
    PlateRead, as :func:`streams.codec.decode_message` does.
    """

    def __init__(self, cache: SchemaCache) -> None:
        self.cache = cache
        #: Writer schema ids known to be the project's schema (True) or another (False).
        self._same: dict[int, bool] = {}

    def __call__(self, value: bytes | None) -> CopyRow | None:
        schema_id = schema_id_of(value) if value else None
        if value and schema_id is not None and self._is_project_schema(schema_id):
            try:
                return transcode_body(value)
            except (IndexError, ValueError, struct.error):
                pass  # decode_message names what is wrong with it
        read, _ = decode_message(value, READ_SCHEMA, self.cache)
        out = io.BytesIO()
        fastavro.schemaless_writer(out, READ_SCHEMA.parsed, read)
        try:
            return transcode_body(out.getvalue(), 0)
        except (IndexError, ValueError, struct.error) as exc:
            # fastavro decoded it, so this is a gap of this module's, not of the message.
            raise ProcessingError(
                Reason.MALFORMED_AVRO, Stage.DECODE, f"PlateRead does not transcode: {exc!r}"
            ) from None

    def _is_project_schema(self, schema_id: int) -> bool:
        same = self._same.get(schema_id)
        if same is None:
            if not self.cache.is_cached(schema_id):
                return False  # decode_message fetches it or says why it cannot
            same = self.cache.writer(schema_id).canonical == READ_SCHEMA.canonical
            self._same[schema_id] = same
        return same
