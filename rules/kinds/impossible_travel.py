"""``impossible_travel``: two reads of one plate too far apart for the time between them (a
cloned plate)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field

from rules.kinds.base import Duration, SpansCameras
from rules.state import PlateHistory, Sighting, Trigger


class ImpossibleTravelRule(SpansCameras):
    """Two reads of one plate too far apart for the time between them (a cloned plate)."""

    type: Literal["impossible_travel"]
    max_speed_kmh: float = Field(
        default=250.0, gt=0, le=2000, description="Fastest believable speed"
    )
    within: Duration = Field(
        default=3600.0, gt=0, le=7 * 86400, description="Only pairs of reads this close in time"
    )
    positions: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description="Camera id -> (lat, lon), where reads carry none"
    )

    def horizon_s(self) -> float:
        return self.within

    def on_read(
        self, subject: str, read: Sighting, history: PlateHistory, index: Any
    ) -> Trigger | None:
        return impossible_travel_hit(self, subject, history.sightings, read)


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def _position(rule: ImpossibleTravelRule, s: Sighting) -> tuple[float, float] | None:
    if s.camera_id in rule.positions:
        return rule.positions[s.camera_id]
    return None if s.lat is None or s.lon is None else (s.lat, s.lon)


def impossible_travel_hit(
    rule: ImpossibleTravelRule, plate: str, sightings: Sequence[Sighting], read: Sighting
) -> Trigger | None:
    here = _position(rule, read)
    if here is None:
        return None
    for other in sightings:
        there = _position(rule, other)
        gap = abs(read.ts - other.ts)
        if other.event_id == read.event_id or there is None or gap > rule.within:
            continue
        km = haversine_km(here, there)
        speed = math.inf if gap == 0 else km / (gap / 3600.0)
        if km > 0.5 and speed > rule.max_speed_kmh:
            first, second = sorted((read, other), key=lambda s: s.ts)
            message = f"{plate}: {first.camera_id} -> {second.camera_id}, {km:.1f} km in {gap:g}s"
            ids = (first.event_id, second.event_id)
            details = {"km": f"{km:.1f}", "seconds": f"{gap:g}"}
            return Trigger(rule, plate, ids, second.ts, message, details)
    return None
