"""``roaming``: one plate read by at least ``count`` different cameras (or sites) within
``window``: a vehicle cruising a neighbourhood, casing a campus or touring a car park.

``rate`` counts reads, so a car parked in view of one camera fires it; ``sequence`` needs
the cameras in a fixed order. Here only the number of different places counts, in any order.

The window is in event time, like ``rate``'s: a late read inside the lateness bound completes
the window its capture time belongs to. The alert names the first read at each of the first
``count`` places of the window, so further reads of the same episode give the same alert id
and raise nothing new (``cooldown`` bounds the alerts of a plate that keeps roaming).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from rules.kinds.base import Duration, RuleBase
from rules.state import PlateHistory, Sighting, Trigger


class RoamingRule(RuleBase):
    """One plate read by at least ``count`` different cameras (or sites) within ``window``."""

    type: Literal["roaming"]
    count: int = Field(ge=2, le=1000, description="Different cameras (or sites) needed")
    window: Duration = Field(gt=0, le=7 * 86400, description="Sliding window")
    distinct: Literal["camera", "site"] = Field(
        default="camera", description="What must differ between the reads"
    )

    @model_validator(mode="after")
    def _reachable(self) -> Self:
        places = self.cameras if self.distinct == "camera" else self.sites
        if places and self.count > len(places):
            raise ValueError(
                f"count {self.count} can never be reached: only {len(places)} "
                f"{self.distinct}s are in scope ({', '.join(places)})"
            )
        return self

    def horizon_s(self) -> float:
        return self.window

    def on_read(
        self, subject: str, read: Sighting, history: PlateHistory, index: Any
    ) -> Trigger | None:
        return roaming_hit(self, subject, history.sightings, read)


def _place(rule: RoamingRule, s: Sighting) -> str:
    return s.camera_id if rule.distinct == "camera" else s.site_id


def _first_reads(rule: RoamingRule, window: Sequence[Sighting]) -> list[Sighting]:
    """The first read at each place of ``window``, in time order, until ``count`` places."""
    firsts: dict[str, Sighting] = {}
    for s in window:
        firsts.setdefault(_place(rule, s), s)
        if len(firsts) == rule.count:
            break
    return list(firsts.values())


def roaming_hit(
    rule: RoamingRule, plate: str, sightings: Sequence[Sighting], read: Sighting
) -> Trigger | None:
    """``count`` places among the sightings in the rule's scope (cameras, sites, schedule)
    of any window of length ``window`` that holds ``read``; ``sightings`` in capture order."""
    seen = [s for s in sightings if rule.in_scope(s)]
    times = [s.ts for s in seen]
    for end in seen:
        if not read.ts <= end.ts < read.ts + rule.window:
            continue
        first = bisect.bisect_right(times, end.ts - rule.window)
        last = bisect.bisect_right(times, end.ts)
        reads = _first_reads(rule, seen[first:last])
        if len(reads) == rule.count:
            places = [_place(rule, s) for s in reads]
            span = reads[-1].ts - reads[0].ts
            message = f"{plate}: {rule.count} {rule.distinct}s in {span:g}s ({', '.join(places)})"
            details = {f"{rule.distinct}s": ",".join(places), "seconds": f"{span:g}"}
            ids = tuple(s.event_id for s in reads)
            return Trigger(rule, plate, ids, reads[-1].ts, message, details)
    return None
