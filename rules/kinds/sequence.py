"""``sequence``: a plate seen at each camera of ``steps`` in order, all within ``within``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field

from rules.kinds.base import Duration, SpansCameras
from rules.state import PlateHistory, Sighting, Trigger


class SequenceRule(SpansCameras):
    """A plate seen at each camera of ``steps`` in order, all within ``within``."""

    type: Literal["sequence"]
    steps: list[str] = Field(min_length=2, max_length=10, description="Cameras in order")
    within: Duration = Field(gt=0, le=7 * 86400, description="From first to last step")

    def horizon_s(self) -> float:
        return self.within

    def on_read(
        self, subject: str, read: Sighting, history: PlateHistory, index: Any
    ) -> Trigger | None:
        return sequence_hit(self, subject, history.sightings)


def sequence_hit(rule: SequenceRule, plate: str, sightings: Sequence[Sighting]) -> Trigger | None:
    """The latest chain of sightings at ``steps`` in order, first to last within ``within``."""
    for start_index in range(len(sightings) - 1, -1, -1):
        start = sightings[start_index]
        if start.camera_id != rule.steps[0]:
            continue
        chain = [start]
        for s in sightings[start_index + 1 :]:
            if s.ts - start.ts > rule.within:
                break
            if s.camera_id == rule.steps[len(chain)]:
                chain.append(s)
                if len(chain) == len(rule.steps):
                    ids = tuple(c.event_id for c in chain)
                    span = chain[-1].ts - start.ts
                    message = f"{plate}: {' -> '.join(rule.steps)} in {span:g}s"
                    return Trigger(rule, plate, ids, chain[-1].ts, message)
    return None
