"""Rule state in changelog-backed tables: per plate (co-partitioned with the reads, which
are keyed by plate) and per camera (fed by the reads repartitioned by camera).

Plain tables rather than windowed ones: the rules' windows are event-time windows computed
in ``rules.evaluate``, while Faust's windowed tables expire by wall-clock time, and their
``on_window_close`` does not receive the value (faust-streaming 0.15.3). Each value keeps the
partition it belongs to, so timers (dwell, silence) can write outside a stream event.
"""

from __future__ import annotations

import time

import faust

from alpr import app
from rules.evaluate import PlateHistory, Sighting


class SightingRecord(faust.Record, serializer="json", include_metadata=False):
    event_id: str
    camera_id: str
    site_id: str
    ts: float
    lat: float | None = None
    lon: float | None = None
    confidence: float = 1.0
    frames_agreed: int = 1
    track_id: int = 0


class PlateRuleState(faust.Record, serializer="json", include_metadata=False):
    """A plate's recent sightings, cooldowns and raised alert ids, and when the entry was
    written (wall clock; 0 in entries written before it was kept), for its expiry."""

    partition: int
    watermark: float
    sightings: list[SightingRecord] = []
    fired: dict[str, float] = {}
    alerts: list[str] = []
    written_at: float = 0.0

    def history(self) -> PlateHistory:
        return PlateHistory(
            sightings=[Sighting(**s.asdict()) for s in self.sightings],
            fired=dict(self.fired),
            alerts=list(self.alerts),
            watermark=self.watermark,
        )

    @classmethod
    def of(cls, history: PlateHistory, partition: int) -> PlateRuleState:
        return cls(
            partition=partition,
            watermark=history.watermark,
            sightings=[SightingRecord(**vars(s)) for s in history.sightings],
            fired=history.fired,
            alerts=history.alerts,
            written_at=time.time(),
        )


class CameraTick(faust.Record, serializer="json", include_metadata=False):
    """One read, reduced to what camera-keyed rules need, on the by-camera topic."""

    camera_id: str
    site_id: str
    event_id: str
    ts: float


rule_state_by_plate = app.Table(
    "rule_state_by_plate",
    key_type=str,
    value_type=PlateRuleState,
    help="Recent sightings, cooldowns and alert ids per plate (agents.alerts)",
)

rule_state_by_camera = app.Table(
    "rule_state_by_camera",
    key_type=str,
    value_type=PlateRuleState,
    help="Recent reads, cooldowns and alert ids per camera (agents.alerts)",
)
