"""The router's work on one batch of raw events: decode, validate, normalise, dedupe,
enrich, then send a PlateRead or a DeadLetter for every event, never neither.

Kept apart from the agent so it reads as the pipeline it is; ``agents.router`` wires it to
the topics and tables.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agents import metrics
from agents.deadletters import dead_letter_for
from agents.router_config import RouterSettings
from agents.validation import validate_event
from streams.codec import AvroSchema, SchemaCache, decode, schema_id_of
from streams.failures import ProcessingError, Reason, Stage
from streams.plates import search_key
from streams.records import CameraInfo, CameraStatus, DeadLetter, GeoPoint, PlateEvent, PlateRead
from tables.dedupe import SeenEvent, is_fresh

log = logging.getLogger(__name__)

SendRead = Callable[[PlateRead], Awaitable[Any]]
SendDeadLetter = Callable[[DeadLetter], Awaitable[Any]]


@dataclass
class BatchOutcome:
    """What one batch became: reads sent and dead letters by reason."""

    reads: list[PlateRead] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)

    @property
    def reasons(self) -> Counter[str]:
        return Counter(letter.reason for letter in self.dead_letters)


class PlateRouter:
    """Routes raw PlateEvent messages; one instance per agent actor."""

    def __init__(
        self,
        settings: RouterSettings,
        schema_cache: SchemaCache,
        seen: MutableMapping[str, SeenEvent],
        cameras: Mapping[str, CameraStatus],
        send_read: SendRead,
        send_dead_letter: SendDeadLetter,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.schema_cache = schema_cache
        self.seen = seen
        self.cameras = cameras
        self.send_read = send_read
        self.send_dead_letter = send_dead_letter
        self.clock = clock
        self.reader = AvroSchema.named("PlateEvent")

    async def route_batch(
        self, events: Sequence[Any], make_current: Callable[[Any], None]
    ) -> BatchOutcome:
        """Route Faust events in order; ``make_current(event)`` runs before each one so that
        table writes land on that event's partition."""
        ids = (schema_id_of(e.message.value) for e in events if e.message.value)
        await self.schema_cache.prefetch(i for i in ids if i is not None)
        outcome = BatchOutcome()
        now = self.clock()
        for event in events:
            make_current(event)
            message = event.message
            try:
                read = await self._route(message, now)
            except ProcessingError as error:
                outcome.dead_letters.append(await self._dead_letter(error, message, now))
            else:
                outcome.reads.append(read)
            metrics.ROUTER_LATENCY.observe(max(0.0, self.clock() - message.timestamp))
        self._count(events, outcome)
        return outcome

    async def _route(self, message: Any, now: float) -> PlateRead:
        try:
            read = self.read_from(message.value, now)
        except ProcessingError:
            raise
        except Exception as exc:  # a bug must cost one dead letter, not the worker
            log.exception("router failed on %s[%d]@%d", message.topic, message.partition,
                          message.offset)  # fmt: skip
            raise ProcessingError(Reason.INTERNAL_ERROR, Stage.VALIDATE, repr(exc)) from exc
        try:
            await self.send_read(read)
        except Exception as exc:
            raise _emit_error(exc, read.event_id) from exc
        # Marked only once sent: a read that failed to go out may come again.
        self.seen[read.event_id] = SeenEvent(seen_at=now, partition=message.partition)
        return read

    def read_from(self, payload: bytes | None, now: float) -> PlateRead:
        """The PlateRead of one raw payload, or ``ProcessingError`` saying why there is none."""
        if payload is not None and len(payload) > self.settings.max_payload_bytes:
            raise ProcessingError(
                Reason.OVERSIZED,
                Stage.DECODE,
                f"{len(payload)} bytes, more than max_payload_bytes "
                f"{self.settings.max_payload_bytes}",
            )
        event = PlateEvent.from_data(decode(payload, self.reader, self.schema_cache))
        plate = validate_event(event, self.settings, now)
        if is_fresh(self.seen.get(event.event_id), now, self.settings.dedupe_ttl_s):
            raise ProcessingError(
                Reason.DUPLICATE,
                Stage.DEDUPE,
                f"event {event.event_id} was already routed",
                event_id=event.event_id,
            )
        camera = self.camera_info(event.camera_id, event.event_id)
        return _read_of(event, plate, camera, received_at=now)

    def camera_info(self, camera_id: str, event_id: str) -> CameraInfo:
        """What the cameras table, else the configuration, knows of ``camera_id``."""
        status = self.cameras.get(camera_id)
        if status is not None:
            return CameraInfo(
                known=True,
                name=status.name,
                zone=status.zone,
                state=status.state,
                location=status.location,
            )
        configured = self.settings.cameras.get(camera_id)
        if configured is not None:
            located = configured.lat is not None and configured.lon is not None
            return CameraInfo(
                known=True,
                name=configured.name,
                zone=configured.zone,
                location=GeoPoint(lat=configured.lat, lon=configured.lon) if located else None,
            )
        if self.settings.unknown_camera == "dead_letter":
            raise ProcessingError(
                Reason.UNKNOWN_CAMERA,
                Stage.ENRICH,
                f"camera {camera_id!r} is in neither the cameras topic nor the configuration",
                event_id=event_id,
            )
        return CameraInfo(known=False)

    async def _dead_letter(self, error: ProcessingError, message: Any, now: float) -> DeadLetter:
        letter = dead_letter_for(error, message, now)
        await self.send_dead_letter(letter)
        return letter

    def _count(self, events: Sequence[Any], outcome: BatchOutcome) -> None:
        if events:
            metrics.EVENTS_IN.labels(events[0].message.topic).inc(len(events))
        metrics.ROUTER_BATCH.observe(len(events))
        for letter in outcome.dead_letters:
            metrics.DEAD_LETTERS.labels(letter.reason, letter.stage).inc()


def _read_of(event: PlateEvent, plate: str, camera: CameraInfo, received_at: float) -> PlateRead:
    return PlateRead(
        event_id=event.event_id,
        site_id=event.site_id,
        camera_id=event.camera_id,
        captured_at=event.captured_at,
        received_at=datetime.fromtimestamp(received_at, UTC),
        plate_text=event.plate_text,
        plate=plate,
        search_key=search_key(plate),
        plate_confidence=event.plate_confidence,
        char_confidences=event.char_confidences,
        region=event.region,
        plate_box=event.plate_box,
        vehicle_box=event.vehicle_box,
        vehicle_type=event.vehicle_type,
        direction=event.direction,
        track_id=event.track_id,
        frames_agreed=event.frames_agreed,
        plate_crop_key=event.plate_crop_key,
        vehicle_image_key=event.vehicle_image_key,
        model_versions=event.model_versions,
        edge_version=event.edge_version,
        location=event.location or camera.location,
        camera=camera,
    )


def _emit_error(exc: Exception, event_id: str) -> ProcessingError:
    if isinstance(exc, ProcessingError):
        return ProcessingError(exc.reason, Stage.EMIT, exc.message, event_id=event_id)
    return ProcessingError(
        Reason.INTERNAL_ERROR, Stage.EMIT, f"sending the read failed: {exc!r}", event_id=event_id
    )
