"""Typed records of the event contract; each mirrors one schema in ``schemas/``.

Field docs live in the ``.avsc`` files; ``tests/streams/test_records.py`` keeps the two in step.
Timestamps are timezone-aware UTC datetimes (Avro ``timestamp-millis``).
"""

from __future__ import annotations

from datetime import datetime

import faust


class _Record(faust.Record, abstract=True, include_metadata=False, isodates=True):
    """Base of the contract's records: the Avro schema, not Faust metadata, names the type."""


class Box(_Record):
    x: int
    y: int
    width: int
    height: int


class GeoPoint(_Record):
    lat: float
    lon: float


class PlateEvent(_Record):
    """What an edge worker publishes to ``alpr.plates.raw``."""

    event_id: str
    site_id: str
    camera_id: str
    captured_at: datetime
    plate_text: str
    plate_confidence: float
    plate_box: Box
    track_id: int
    frames_agreed: int
    edge_version: str
    char_confidences: list[float] = []
    region: str | None = None
    vehicle_box: Box | None = None
    vehicle_type: str | None = None
    direction: str = "unknown"
    plate_crop_key: str | None = None
    vehicle_image_key: str | None = None
    model_versions: dict[str, str] = {}
    location: GeoPoint | None = None
    preview: bool = False
    supersedes: str | None = None
    vehicle_colour: str | None = None


class CameraInfo(_Record):
    """Camera metadata attached to a read by the router."""

    known: bool
    name: str | None = None
    zone: str | None = None
    state: str | None = None
    location: GeoPoint | None = None


class PlateRead(_Record):
    """The router's output on ``alpr.plates.detected``, keyed by ``plate``."""

    event_id: str
    site_id: str
    camera_id: str
    captured_at: datetime
    received_at: datetime
    plate_text: str
    plate: str
    search_key: str
    plate_confidence: float
    plate_box: Box
    track_id: int
    frames_agreed: int
    edge_version: str
    camera: CameraInfo
    char_confidences: list[float] = []
    region: str | None = None
    vehicle_box: Box | None = None
    vehicle_type: str | None = None
    direction: str = "unknown"
    plate_crop_key: str | None = None
    vehicle_image_key: str | None = None
    model_versions: dict[str, str] = {}
    location: GeoPoint | None = None
    preview: bool = False
    supersedes: str | None = None
    vehicle_colour: str | None = None


class DeadLetter(_Record):
    """A message that could not be processed, on ``alpr.dlq`` keyed by ``id``."""

    id: str
    reason: str
    message: str
    stage: str
    topic: str
    partition: int
    offset: int
    payload: bytes | None
    first_failed_at: datetime
    failed_at: datetime
    attempts: int
    key: bytes | None = None
    timestamp: datetime | None = None
    event_id: str | None = None
    worker: str = ""


class CameraStatus(_Record):
    """A camera's heartbeat with its metadata, on the compacted ``alpr.cameras`` topic."""

    camera_id: str
    site_id: str
    state: str
    reported_at: datetime
    name: str | None = None
    zone: str | None = None
    fps: float | None = None
    frames_dropped: int = 0
    last_read_at: datetime | None = None
    location: GeoPoint | None = None
    edge_version: str | None = None
    message: str | None = None


class ReadCorrection(_Record):
    """An operator's correction of a read's text, on ``alpr.reads.corrected`` keyed by event id."""

    correction_id: str
    event_id: str
    captured_at: datetime
    old_text: str
    new_text: str
    new_plate: str
    reason: str
    key_id: str
    owner: str
    corrected_at: datetime
    plate_crop_key: str | None = None


class AlertAssignment(_Record):
    """An alert assigned to a key owner (``assignee``) or unassigned (None), on
    ``alpr.alerts.assigned`` keyed by alert id."""

    assignment_id: str
    alert_id: str
    key_id: str
    owner: str
    assigned_at: datetime
    assignee: str | None = None


class AlertAcknowledgement(_Record):
    """An alert acknowledged by a key's owner, with an optional note, on
    ``alpr.alerts.acknowledged`` keyed by alert id."""

    acknowledgement_id: str
    alert_id: str
    key_id: str
    owner: str
    acknowledged_at: datetime
    note: str | None = None
