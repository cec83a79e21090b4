"""The router's work on one raw event: decode, validate, normalise, dedupe, enrich, then
send a PlateRead or a DeadLetter, never neither.

Kept apart from the service so it reads as the pipeline it is; ``agents.router.service``
wires it to the topics and tables. The hot path stays on fastavro datums and bytes: a read's
Avro body is the event's body as received followed by the router's additions
(``RecordExtension``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agents import metrics
from agents.deadletters.letters import dead_letter_for
from agents.router.validation import validate_event
from config.router import RouterSettings
from streams import tracing
from streams.codec import (
    REGISTRY,
    AvroSchema,
    RecordExtension,
    SchemaCache,
    decode_message,
    encode,
)
from streams.codec import schema_id_of as header_schema_id
from streams.failures import ProcessingError, Reason, Stage, Unavailable
from streams.plates import search_key
from streams.records import CameraStatus, DeadLetter
from streams.registry import RegistryError
from tables.dedupe import SeenEvent, is_fresh

log = logging.getLogger(__name__)

SendRead = Callable[[str, bytes], Awaitable[Any]]
SendDeadLetter = Callable[[DeadLetter], Awaitable[Any]]

EVENT_SCHEMA = AvroSchema.named("PlateEvent")
READ_SCHEMA = AvroSchema.named("PlateRead")
_READ_FROM_EVENT = RecordExtension(EVENT_SCHEMA, READ_SCHEMA)

_UNKNOWN_CAMERA: Mapping[str, Any] = {
    "known": False, "name": None, "zone": None, "state": None, "location": None
}  # fmt: skip


@dataclass(frozen=True)
class RoutedRead:
    """A read ready to send: its key (the normalised plate) and its wire-format bytes."""

    event_id: str
    plate: str
    payload: bytes


@dataclass(frozen=True)
class Outcome:
    """What one raw event became: a read (its plate), a dead letter, or neither (a message
    Kafka delivered again after it was routed)."""

    plate: str | None = None
    dead_letter: DeadLetter | None = None


class PlateRouter:
    """Routes raw PlateEvent messages; one instance per agent actor."""

    def __init__(
        self,
        settings: RouterSettings,
        schema_cache: SchemaCache,
        read_subject: str,
        seen: Mapping[str, SeenEvent],
        mark_seen: Callable[[str, SeenEvent], Awaitable[Any]],
        cameras: Mapping[str, CameraStatus],
        send_read: SendRead,
        send_dead_letter: SendDeadLetter,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.schema_cache = schema_cache
        self.read_subject = read_subject
        self.seen = seen
        self.mark_seen = mark_seen
        self.cameras = cameras
        self.send_read = send_read
        self.send_dead_letter = send_dead_letter
        self.clock = clock
        self._latency = metrics.ROUTER_LATENCY

    async def route(self, message: Any) -> Outcome:
        """Route one raw message (a Faust ``Message``): send its read or its dead letter.

        Raises :class:`Unavailable` while the schema registry cannot be reached: the message
        is then neither read nor dead letter, and must be routed again later."""
        schema_id = header_schema_id(message.value) if message.value else None
        if schema_id is not None and not self.schema_cache.is_cached(schema_id):
            await self.schema_cache.prefetch((schema_id,))
        now = self.clock()
        try:
            plate = await self._route(message, now)
        except ProcessingError as error:
            if error.reason is Reason.REGISTRY_UNAVAILABLE:
                # Not the event's fault, and its dead letter would need the registry too:
                # the caller waits the outage out and routes the event again.
                raise Unavailable(REGISTRY, error.message) from None
            if self._redelivered(error, message):
                # At-least-once: after a rebalance or restart Kafka hands over a message
                # this router already routed; its read is out, so it is neither read nor
                # bad input. An event sent twice by the edge (another offset) is still a
                # duplicate dead letter.
                metrics.REDELIVERED.inc()
                return Outcome()
            letter = await self._dead_letter(error, message, now)
            metrics.DEAD_LETTERS.labels(letter.reason, letter.stage).inc()
            self._observe_latency(message)
            return Outcome(dead_letter=letter)
        self._observe_latency(message)
        return Outcome(plate=plate)

    def _observe_latency(self, message: Any) -> None:
        """Time from the raw message's Kafka timestamp to its read or dead letter sent."""
        self._latency.observe(max(0.0, self.clock() - message.timestamp))

    async def _route(self, message: Any, now: float) -> str:
        try:
            read = self.read_from(message.value, now)
        except (ProcessingError, Unavailable):
            raise
        except Exception as exc:  # a bug must cost one dead letter, not the worker
            where = f"{message.topic}[{message.partition}]@{message.offset}"
            log.exception("router failed on %s", where)
            raise ProcessingError(Reason.INTERNAL_ERROR, Stage.VALIDATE, repr(exc)) from exc
        try:
            await self.send_read(read.plate, read.payload)
        except Exception as exc:
            raise _emit_error(exc, read.event_id) from exc
        # Marked only once sent: a read that failed to go out may come again.
        seen = SeenEvent(seen_at=now, partition=message.partition, offset=message.offset)
        await self.mark_seen(read.event_id, seen)
        return read.plate

    def _redelivered(self, error: ProcessingError, message: Any) -> bool:
        if error.reason is not Reason.DUPLICATE or error.event_id is None:
            return False
        entry = self.seen.get(error.event_id)
        return entry is not None and entry.is_message(message.partition, message.offset)

    def read_from(self, payload: bytes | None, now: float) -> RoutedRead:
        """The read of one raw payload, or ``ProcessingError`` saying why there is none."""
        if payload is not None and len(payload) > self.settings.max_payload_bytes:
            raise ProcessingError(
                Reason.OVERSIZED,
                Stage.DECODE,
                f"{len(payload)} bytes, more than max_payload_bytes "
                f"{self.settings.max_payload_bytes}",
            )
        event, writer = decode_message(payload, EVENT_SCHEMA, self.schema_cache)
        plate = validate_event(event, self.settings, now)
        event_id = event["event_id"]
        tracing.annotate(event_id=event_id, camera=event["camera_id"])
        if is_fresh(self.seen.get(event_id), now, self.settings.dedupe_ttl_s):
            raise ProcessingError(
                Reason.DUPLICATE,
                Stage.DEDUPE,
                f"event {event_id} was already routed",
                event_id=event_id,
            )
        additions = {
            "received_at": int(now * 1000),
            "plate": plate,
            "search_key": search_key(plate),
            "camera": self.camera_info(event["camera_id"], event_id),
        }
        try:
            read_id = self.schema_cache.id_for(self.read_subject, READ_SCHEMA)
        except RegistryError as exc:
            raise Unavailable(REGISTRY, f"{self.read_subject}: {exc}") from None
        assert payload is not None  # decode_message refuses empty payloads
        if writer.canonical == EVENT_SCHEMA.canonical:
            body = _READ_FROM_EVENT.encode(read_id, memoryview(payload)[5:], additions)
        else:  # another version of PlateEvent: encode the resolved datum in full
            body = encode(read_id, READ_SCHEMA, {**event, **additions})
        return RoutedRead(event_id, plate, body)

    def camera_info(self, camera_id: str, event_id: str) -> Mapping[str, Any]:
        """The CameraInfo datum of ``camera_id``: from the cameras table, else the
        configuration, else unknown (or a dead letter, as configured)."""
        status = self.cameras.get(camera_id)
        if status is not None:
            location = status.location
            return {
                "known": True,
                "name": status.name,
                "zone": status.zone,
                "state": status.state,
                "location": None
                if location is None
                else {"lat": location.lat, "lon": location.lon},
            }
        configured = self.settings.cameras.get(camera_id)
        if configured is not None:
            located = configured.lat is not None and configured.lon is not None
            return {
                "known": True,
                "name": configured.name,
                "zone": configured.zone,
                "state": None,
                "location": {"lat": configured.lat, "lon": configured.lon} if located else None,
            }
        if self.settings.unknown_camera == "dead_letter":
            raise ProcessingError(
                Reason.UNKNOWN_CAMERA,
                Stage.ENRICH,
                f"camera {camera_id!r} is in neither the cameras topic nor the configuration",
                event_id=event_id,
            )
        return _UNKNOWN_CAMERA

    async def _dead_letter(self, error: ProcessingError, message: Any, now: float) -> DeadLetter:
        letter = dead_letter_for(error, message, now)
        await self.send_dead_letter(letter)
        return letter


def _emit_error(exc: Exception, event_id: str) -> ProcessingError:
    if isinstance(exc, ProcessingError):
        return ProcessingError(exc.reason, Stage.EMIT, exc.message, event_id=event_id)
    return ProcessingError(
        Reason.INTERNAL_ERROR, Stage.EMIT, f"sending the read failed: {exc!r}", event_id=event_id
    )
