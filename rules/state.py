"""What the rules see and remember: a read (:class:`Sighting`), a fired rule (:class:`Trigger`)
and a plate's or camera's recent past (:class:`PlateHistory`), as plain data.

The agent stores a history in a Faust table keyed by plate or camera; here it is plain data
so that every window edge, late read and cooldown can be tested without a broker.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from streams.alert import alert_id

if TYPE_CHECKING:
    from rules.kinds.base import RuleBase

#: Alert ids remembered per plate, so one window or chain raises one alert.
RECENT_ALERTS = 200


@dataclass(frozen=True)
class Sighting:
    """One read of a plate, as the rules need it; ``ts`` is the capture time in seconds."""

    event_id: str
    camera_id: str
    site_id: str
    ts: float
    lat: float | None = None
    lon: float | None = None
    confidence: float = 1.0
    frames_agreed: int = 1
    track_id: int = 0


@dataclass(frozen=True)
class Trigger:
    """A rule fired for ``subject`` (a plate or a camera) on these reads."""

    rule: RuleBase
    subject: str
    event_ids: tuple[str, ...]
    ts: float
    message: str
    details: dict[str, str] = field(default_factory=dict)

    @property
    def alert_id(self) -> str:
        return alert_id(self.rule.name, self.event_ids)


@dataclass
class PlateHistory:
    """What the rules remember about one plate (or, for camera rules, one camera)."""

    sightings: list[Sighting] = field(default_factory=list)
    fired: dict[str, float] = field(default_factory=dict)
    alerts: list[str] = field(default_factory=list)
    watermark: float = float("-inf")

    def add(self, sighting: Sighting) -> bool:
        """Insert in capture order; False if this event id is already here (a redelivery)."""
        if any(s.event_id == sighting.event_id for s in self.sightings):
            return False
        keys = [s.ts for s in self.sightings]
        self.sightings.insert(bisect.bisect_right(keys, sighting.ts), sighting)
        self.watermark = max(self.watermark, sighting.ts)
        return True

    def prune(self, horizon_s: float, keep: int) -> None:
        """Forget sightings older than ``horizon_s`` before the watermark; keep at most
        ``keep``."""
        cut = self.watermark - horizon_s
        self.sightings = [s for s in self.sightings if s.ts >= cut][-keep:]
        self.alerts = self.alerts[-RECENT_ALERTS:]
