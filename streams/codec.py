"""Avro in the Confluent wire format: magic byte 0, 4-byte big-endian schema id, Avro body.

Writers register their schema under the topic's subject on first use and cache the id;
readers fetch a writer schema by id once and cache it, and resolve it against their own
reader schema, so old readers and new writers interoperate under BACKWARD compatibility.
``AvroCodec`` plugs this into Faust: a topic declares ``value_serializer=AvroCodec(...)``.
"""

from __future__ import annotations

import asyncio
import io
import json
import struct
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import fastavro
from fastavro.schema import to_parsing_canonical_form
from faust.serializers.codecs import Codec
from faust.types import ModelT

from schemas import load_schema
from streams.failures import ProcessingError, Reason, Stage, Unavailable
from streams.registry import (
    Compatibility,
    IncompatibleSchemaError,
    RegistryError,
    SchemaRegistryClient,
)
from streams.retry import Backoff, retry_blocking

MAGIC = 0
_HEADER = struct.Struct(">bI")
HEADER_SIZE = _HEADER.size

#: The component name of the schema registry in outages (``streams.outages``).
REGISTRY = "registry"

#: How long an id the registry said does not exist is remembered before asking again.
MISSING_ID_TTL_S = 30.0

#: Pauses and attempts of a registration that failed for the registry's sake (no answer,
#: HTTP 5xx): about 6 s, to ride over a restart of the registry or of its store (it answers
#: 500 while PostgreSQL recovers). Bounded, as the codec may call it on the event loop; the
#: async callers (:meth:`SchemaCache.require_id`) wait a longer outage out themselves.
REGISTER_RETRY = Backoff(0.2, 2.0)
REGISTER_ATTEMPTS = 6


@dataclass(frozen=True)
class AvroSchema:
    """A parsed Avro schema with its JSON text (as registered) and parsing canonical form."""

    name: str
    text: str
    parsed: Any
    canonical: str

    @classmethod
    def from_text(cls, text: str) -> AvroSchema:
        parsed: Any = fastavro.parse_schema(json.loads(text))
        name = parsed["name"] if isinstance(parsed, dict) else str(parsed)
        return cls(name, text, parsed, to_parsing_canonical_form(parsed))

    @classmethod
    def named(cls, record: str) -> AvroSchema:
        """The project's schema of ``record`` (``schemas/<record>.avsc``)."""
        return _project_schema(record)


@cache
def _project_schema(record: str) -> AvroSchema:
    return AvroSchema.from_text(json.dumps(load_schema(record), separators=(",", ":")))


class SchemaCache:
    """Schema ids by subject and writer schemas by id, filled from one registry on demand.

    Before registering the first schema of a subject it sets the subject's compatibility
    rule (BACKWARD by default: consumers on the new schema read everything already written),
    so the registry refuses a version that would break readers.
    """

    def __init__(
        self,
        registry: SchemaRegistryClient,
        compatibility: Compatibility = "BACKWARD",
        retry: Backoff = REGISTER_RETRY,
        attempts: int = REGISTER_ATTEMPTS,
    ) -> None:
        if attempts < 1:
            raise ValueError(f"attempts must be >= 1, got {attempts!r}")
        self.registry = registry
        self.compatibility = compatibility
        self.retry = retry
        self.attempts = attempts
        self._ids: dict[tuple[str, str], int] = {}
        self._writers: dict[int, AvroSchema] = {}
        self._missing: dict[int, float] = {}

    def id_for(self, subject: str, schema: AvroSchema) -> int:
        """The id of ``schema`` under ``subject``, registering it on first use.

        A registry that does not answer or fails (HTTP 5xx) is asked again a few times
        (:data:`REGISTER_ATTEMPTS`) before the ``RegistryError`` is raised; a 4xx is raised
        at once (``IncompatibleSchemaError`` for a refused schema). Called on the event
        loop (a Faust codec), it asks once: a pause there would stall every agent and the
        consumers' heartbeats, and the async callers wait with backoff themselves.
        """
        key = (subject, schema.canonical)
        schema_id = self._ids.get(key)
        if schema_id is None:
            schema_id = retry_blocking(
                f"registering {subject}",
                lambda: self._register(subject, schema),
                lambda exc: isinstance(exc, RegistryError) and exc.transient,
                self.retry,
                1 if _on_event_loop() else self.attempts,
            )
            self._ids[key] = schema_id
            self._writers.setdefault(schema_id, schema)
        return schema_id

    def _register(self, subject: str, schema: AvroSchema) -> int:
        self.registry.set_compatibility(subject, self.compatibility)
        return self.registry.register(subject, schema.text)

    def writer(self, schema_id: int) -> AvroSchema:
        """The writer schema of ``schema_id``; a ``ProcessingError`` when it is not to be had."""
        schema = self._writers.get(schema_id)
        if schema is not None:
            return schema
        missing_since = self._missing.get(schema_id)
        if missing_since is not None and time.monotonic() - missing_since < MISSING_ID_TTL_S:
            raise _unknown_schema(schema_id)
        try:
            schema = AvroSchema.from_text(self.registry.schema_by_id(schema_id))
        except RegistryError as exc:
            if exc.not_found:
                self._missing[schema_id] = time.monotonic()
                raise _unknown_schema(schema_id) from None
            raise ProcessingError(
                Reason.REGISTRY_UNAVAILABLE, Stage.DECODE, f"schema {schema_id}: {exc}"
            ) from None
        self._writers[schema_id] = schema
        self._missing.pop(schema_id, None)
        return schema

    def is_cached(self, schema_id: int) -> bool:
        return schema_id in self._writers

    async def prefetch(self, schema_ids: Iterable[int]) -> None:
        """Fetch the writer schemas not cached yet, off the event loop, so that decoding a
        batch never blocks the loop on the registry; failures are left to ``decode``."""
        try:
            await self.fetch_writers(schema_ids)
        except Unavailable:
            pass  # decode() raises it again for each message that carries the id

    async def fetch_writers(self, schema_ids: Iterable[int]) -> None:
        """Fetch the writer schemas not cached yet, off the event loop; ``Unavailable`` when
        the registry cannot be reached (ids it does not know are left to ``decode``)."""
        for schema_id in set(schema_ids) - self._writers.keys():
            try:
                await asyncio.to_thread(self.writer, schema_id)
            except ProcessingError as exc:
                if exc.reason is Reason.REGISTRY_UNAVAILABLE:
                    raise Unavailable(REGISTRY, exc.message) from None

    async def require_id(self, subject: str, schema: AvroSchema) -> int:
        """:meth:`id_for` off the event loop; ``Unavailable`` while the registry cannot be
        reached or refuses the schema (nothing written under ``subject`` can go out then)."""
        schema_id = self._ids.get((subject, schema.canonical))
        if schema_id is not None:
            return schema_id
        try:
            return await asyncio.to_thread(self.id_for, subject, schema)
        except RegistryError as exc:
            raise Unavailable(REGISTRY, f"{subject}: {exc}") from None


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _unknown_schema(schema_id: int) -> ProcessingError:
    return ProcessingError(
        Reason.UNKNOWN_SCHEMA, Stage.DECODE, f"schema id {schema_id} is not in the registry"
    )


def encode(schema_id: int, schema: AvroSchema, datum: Mapping[str, Any]) -> bytes:
    """One message in the wire format."""
    out = io.BytesIO()
    out.write(_HEADER.pack(MAGIC, schema_id))
    fastavro.schemaless_writer(out, schema.parsed, datum)
    return out.getvalue()


def schema_id_of(data: bytes) -> int | None:
    """The schema id in a wire-format header, or None when ``data`` has no valid header."""
    if len(data) < HEADER_SIZE or data[0] != MAGIC:
        return None
    return int(_HEADER.unpack_from(data)[1])


def decode(data: bytes | None, reader: AvroSchema, cache: SchemaCache) -> dict[str, Any]:
    """Decode one wire-format message into a dict shaped by ``reader`` (see ``decode_message``)."""
    return decode_message(data, reader, cache)[0]


def decode_message(
    data: bytes | None, reader: AvroSchema, cache: SchemaCache
) -> tuple[dict[str, Any], AvroSchema]:
    """Decode one wire-format message into a dict shaped by ``reader``, and its writer schema.

    Raises ``ProcessingError`` at stage ``decode`` with the reason: empty payload, wrong magic
    byte (JSON called out), header or body truncated, unknown schema id, writer schema that
    cannot be resolved to the reader, or a malformed body.
    """
    if not data:
        raise ProcessingError(Reason.EMPTY_PAYLOAD, Stage.DECODE, "message has no value")
    if data[0] != MAGIC:
        raise _not_wire_format(data)
    if len(data) < HEADER_SIZE:
        raise ProcessingError(
            Reason.TRUNCATED, Stage.DECODE, f"{len(data)} bytes, shorter than the 5-byte header"
        )
    schema_id = _HEADER.unpack_from(data)[1]
    writer = cache.writer(schema_id)
    body = io.BytesIO(data)
    body.seek(HEADER_SIZE)
    resolve_to = None if writer.canonical == reader.canonical else reader.parsed
    try:
        record = fastavro.schemaless_reader(body, writer.parsed, resolve_to)
    except fastavro.read.SchemaResolutionError as exc:
        raise ProcessingError(
            Reason.INCOMPATIBLE_SCHEMA,
            Stage.DECODE,
            f"writer schema {schema_id} ({writer.name}) does not resolve to {reader.name}: {exc}",
        ) from None
    except Exception as exc:  # fastavro raises many types for garbage bytes
        # Running off the end shows as EOFError, or IndexError from the C reader.
        if isinstance(exc, EOFError) or body.tell() >= len(data):
            raise ProcessingError(
                Reason.TRUNCATED, Stage.DECODE, f"Avro body ends early ({len(data)} bytes)"
            ) from None
        raise ProcessingError(
            Reason.MALFORMED_AVRO, Stage.DECODE, f"Avro body does not decode: {exc!r}"
        ) from None
    if body.tell() != len(data):
        raise ProcessingError(
            Reason.MALFORMED_AVRO,
            Stage.DECODE,
            f"{len(data) - body.tell()} bytes left after the {writer.name} record",
        )
    if not isinstance(record, dict):
        raise ProcessingError(
            Reason.INCOMPATIBLE_SCHEMA, Stage.DECODE, f"schema {schema_id} is not a record"
        )
    return record, writer


def _not_wire_format(data: bytes) -> ProcessingError:
    if data[:1] in (b"{", b"["):
        try:
            json.loads(data)
        except ValueError:
            pass
        else:
            return ProcessingError(
                Reason.JSON_PAYLOAD, Stage.DECODE, "payload is JSON, not Confluent-framed Avro"
            )
    return ProcessingError(
        Reason.WRONG_MAGIC, Stage.DECODE, f"first byte is {data[0]:#04x}, expected magic 0x00"
    )


class RecordExtension:
    """Encodes records of ``extended`` whose leading fields are exactly those of ``base``.

    Avro encodes a record as its fields one after another, so an ``extended`` body is a
    ``base`` body followed by the extra fields: a router can pass the body it received
    through and encode only what it adds, instead of decoding and encoding everything.
    """

    def __init__(self, base: AvroSchema, extended: AvroSchema) -> None:
        base_fields = json.loads(base.text)["fields"]
        expanded: Any = fastavro.parse_schema(json.loads(extended.text), expand=True)
        fields = expanded["fields"]
        names = [f["name"] for f in fields[: len(base_fields)]]
        if names != [f["name"] for f in base_fields]:
            raise ValueError(f"{extended.name} does not start with the fields of {base.name}")
        self.base = base
        self.extended = extended
        self.tail_fields = [f["name"] for f in fields[len(base_fields) :]]
        tail = {
            "type": "record",
            "name": f"{extended.name}Tail",
            "fields": fields[len(base_fields) :],
        }
        self._tail = fastavro.parse_schema(tail)

    def encode(
        self, schema_id: int, base_body: bytes | memoryview, extra: Mapping[str, Any]
    ) -> bytes:
        """A wire-format ``extended`` message: header, the ``base`` body, then ``extra``."""
        out = io.BytesIO()
        out.write(_HEADER.pack(MAGIC, schema_id))
        out.write(base_body)
        fastavro.schemaless_writer(out, self._tail, extra)
        return out.getvalue()


def to_datum(obj: Any) -> Any:
    """Plain dicts and lists for fastavro from Faust records (nested ones too)."""
    if isinstance(obj, ModelT):
        return {name: to_datum(value) for name, value in obj.asdict().items()}
    if isinstance(obj, dict):
        return {k: to_datum(v) for k, v in obj.items() if k != "__faust"}
    if isinstance(obj, list | tuple):
        return [to_datum(v) for v in obj]
    return obj


def value_subject(topic: str) -> str:
    """Registry subject of a topic's values (Confluent's TopicNameStrategy)."""
    return f"{topic}-value"


class AvroCodec(Codec):
    """Faust codec of one record type, e.g. ``AvroCodec("PlateRead", subject="<topic>-value")``.

    Encodes with the project's schema of the record (registered on first use), decodes any
    writer version into that schema's shape. ``schema_cache`` defaults to the process-wide
    cache on the configured registry, created on first use (never at import).
    """

    def __init__(
        self,
        record: str,
        subject: str,
        schema_cache: SchemaCache | None = None,
        children: tuple[Any, ...] | None = None,
        **kwargs: Any,
    ) -> None:
        if not subject:
            raise ValueError("subject must not be empty")
        super().__init__(
            children=children, record=record, subject=subject, schema_cache=schema_cache, **kwargs
        )
        self.schema = AvroSchema.named(record)
        self.subject = subject
        self._schema_cache = schema_cache

    @property
    def cache(self) -> SchemaCache:
        return self._schema_cache or default_schema_cache()

    def _dumps(self, obj: Any) -> bytes:
        try:
            schema_id = self.cache.id_for(self.subject, self.schema)
        except RegistryError as exc:
            reason = (
                Reason.INCOMPATIBLE_SCHEMA
                if isinstance(exc, IncompatibleSchemaError)
                else Reason.REGISTRY_UNAVAILABLE
            )
            raise ProcessingError(reason, Stage.EMIT, f"{self.subject}: {exc}") from None
        return encode(schema_id, self.schema, to_datum(obj))

    def _loads(self, s: bytes) -> Any:
        return decode(s, self.schema, self.cache)


@cache
def default_schema_cache() -> SchemaCache:
    """The process-wide schema cache on ``settings.schema_registry.url``."""
    from config.settings import get_settings

    return SchemaCache(SchemaRegistryClient(get_settings().schema_registry.url))
