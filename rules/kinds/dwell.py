"""``dwell``: a plate seen at an entry camera and not at an exit camera within ``within``.

Raised by the passing of time: the engine's timer walks the plate table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

from pydantic import Field

from rules.kinds.base import Duration, RuleBase
from rules.state import PlateHistory, Sighting, Trigger


class DwellRule(RuleBase):
    """A plate seen at an entry camera and not at an exit camera within ``within``."""

    timer: ClassVar[bool] = True

    type: Literal["dwell"]
    entry_cameras: list[str] = Field(min_length=1, description="Cameras that start the stay")
    exit_cameras: list[str] = Field(min_length=1, description="Cameras that end it")
    within: Duration = Field(gt=0, le=30 * 86400, description="Longest allowed stay")

    def horizon_s(self) -> float:
        return self.within

    def on_timer(self, key: str, history: PlateHistory, now: float) -> Trigger | None:
        return overdue_dwell(self, key, history.sightings, now)


def overdue_dwell(
    rule: DwellRule, plate: str, sightings: Sequence[Sighting], now: float
) -> Trigger | None:
    """The latest entry without an exit after it, if ``within`` has passed by ``now``."""
    for s in reversed(sightings):
        if s.camera_id in rule.exit_cameras:
            return None
        if s.camera_id in rule.entry_cameras:
            if now - s.ts < rule.within:
                return None
            message = f"{plate}: entered at {s.camera_id}, no exit within {rule.within:g}s"
            return Trigger(rule, plate, (s.event_id,), s.ts + rule.within, message)
    return None
