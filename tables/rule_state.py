"""Rule state in changelog-backed tables: per plate (co-partitioned with the reads, which
are keyed by plate) and per camera (fed by the reads repartitioned by camera).

Plain tables rather than windowed ones: the rules' windows are event-time windows computed
in ``rules.evaluate``, while Faust's windowed tables expire by wall-clock time, and their
``on_window_close`` does not receive the value (faust-streaming 0.15.3). Each value keeps the
partition it belongs to, so timers (dwell, silence) can write outside a stream event.

The tables hold each state as its JSON bytes (the changelog's own format), and the engine
sees them through :class:`StateTable`, which decodes on read and encodes on write. With
one record per plate ever read kept as Python objects, full garbage collections walked all
of them: at 1,000 reads/s with a rate rule they stopped the worker for 100-230 ms every few
seconds, growing with the table. Bytes are not tracked by the collector.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, MutableMapping
from typing import Any

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


def encode_state(state: PlateRuleState) -> bytes:
    """A state as the tables and their changelogs hold it (JSON)."""
    data: bytes = state.dumps(serializer="json")
    return data


def decode_state(data: bytes) -> PlateRuleState:
    state: PlateRuleState = PlateRuleState.loads(data, serializer="json")
    return state


class StateTable(MutableMapping[str, PlateRuleState]):
    """A table of encoded states, seen as states. Reads look at this worker's local data
    (no stream event needed); writes and deletes go through the Faust table, so inside a
    stream event they reach the changelog partition of that event."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def __getitem__(self, key: str) -> PlateRuleState:
        data = self.table.data.get(key)
        if data is None:
            raise KeyError(key)
        return decode_state(data)

    def __setitem__(self, key: str, state: PlateRuleState) -> None:
        self.table[key] = encode_state(state)

    def __delitem__(self, key: str) -> None:
        del self.table[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.table.data)

    def __len__(self) -> int:
        return len(self.table.data)


rule_state_by_plate = app.Table(
    "rule_state_by_plate",
    key_type=str,
    value_type=bytes,
    help="Recent sightings, cooldowns and alert ids per plate, as JSON (agents.alerting.alerts)",
)

rule_state_by_camera = app.Table(
    "rule_state_by_camera",
    key_type=str,
    value_type=bytes,
    help="Recent reads, cooldowns and alert ids per camera, as JSON (agents.alerting.alerts)",
)

#: The tables as the alert engine uses them.
plate_states = StateTable(rule_state_by_plate)
camera_states = StateTable(rule_state_by_camera)
