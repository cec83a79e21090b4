"""``rate``: at least ``count`` reads of one plate (or at one camera) within ``window``.

Per plate the rule reads the plate's history; per camera the camera's, fed by the reads
repartitioned by camera. The window is in event time: a late read inside the lateness bound
completes the window its capture time belongs to.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field

from rules.kinds.base import Duration, Keyed, RuleBase
from rules.state import PlateHistory, Sighting, Trigger


class RateRule(RuleBase):
    """At least ``count`` reads of one plate (or at one camera) within ``window``."""

    type: Literal["rate"]
    count: int = Field(ge=2, le=100_000, description="Reads needed within the window")
    window: Duration = Field(gt=0, le=7 * 86400, description="Sliding window")
    per: Literal["plate", "camera"] = Field(
        default="plate", description="What the reads are counted for"
    )

    def keyed_by(self) -> Keyed:
        return self.per

    def horizon_s(self) -> float:
        return self.window

    def on_read(
        self, subject: str, read: Sighting, history: PlateHistory, index: Any
    ) -> Trigger | None:
        return rate_hit(self, subject, history.sightings, read)


def _in_scope(rule: RuleBase, s: Sighting) -> bool:
    return (not rule.cameras or s.camera_id in rule.cameras) and (
        not rule.sites or s.site_id in rule.sites
    )


def rate_hit(
    rule: RateRule, subject: str, sightings: Sequence[Sighting], read: Sighting
) -> Trigger | None:
    """``count`` in-scope sightings within any window of length ``window`` that holds
    ``read`` (so a late read completes the window its capture time belongs to)."""
    seen = [s for s in sightings if _in_scope(rule, s)]
    times = [s.ts for s in seen]
    for end in seen:
        if not read.ts <= end.ts < read.ts + rule.window:
            continue
        first = bisect.bisect_right(times, end.ts - rule.window)
        last = bisect.bisect_right(times, end.ts)
        window = seen[first:last]
        if len(window) >= rule.count:
            ids = tuple(s.event_id for s in window)
            message = f"{subject}: {len(window)} reads within {rule.window:g}s"
            return Trigger(rule, subject, ids, end.ts, message, {"count": str(len(window))})
    return None
