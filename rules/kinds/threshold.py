"""``threshold``: a read whose numeric field compares with a value (confidence below 0.5 at a
gate)."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, ClassVar, Literal

from pydantic import Field

from rules.kinds.base import Keyed, RuleBase
from rules.state import PlateHistory, Sighting, Trigger

ThresholdField = Literal["plate_confidence", "frames_agreed", "track_id"]

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt,
    ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
}  # fmt: skip


class ThresholdRule(RuleBase):
    """A read whose numeric field compares with a value (confidence below 0.5 at a gate)."""

    judges_late_reads: ClassVar[bool] = True

    type: Literal["threshold"]
    field: ThresholdField = Field(description="The read's field to compare")
    op: Literal["<", "<=", ">", ">=", "==", "!="] = Field(description="Comparison")
    value: float = Field(description="The value compared with")

    def keyed_by(self) -> Keyed:
        return "read"

    def on_read(
        self, subject: str, read: Sighting, history: PlateHistory, index: Any
    ) -> Trigger | None:
        return threshold_hit(self, subject, read)


def threshold_hit(rule: ThresholdRule, plate: str, read: Sighting) -> Trigger | None:
    value = {
        "plate_confidence": read.confidence,
        "frames_agreed": float(read.frames_agreed),
        "track_id": float(read.track_id),
    }[rule.field]
    if not _OPS[rule.op](value, rule.value):
        return None
    message = f"{plate}: {rule.field} {value:g} {rule.op} {rule.value:g}"
    return Trigger(rule, plate, (read.event_id,), read.ts, message, {"value": f"{value:g}"})
