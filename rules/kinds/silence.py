"""``silence``: no read from a camera for ``after`` (camera down or blocked).

Raised by the passing of time: the engine's timer walks the camera table, which keeps each
camera's last read.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from rules.kinds.base import Duration, Keyed, RuleBase
from rules.state import PlateHistory, Trigger


class SilenceRule(RuleBase):
    """No read from a camera for ``after`` (camera down or blocked)."""

    timer: ClassVar[bool] = True

    type: Literal["silence"]
    after: Duration = Field(gt=0, le=30 * 86400, description="Silence that raises an alert")

    @model_validator(mode="after")
    def _names_cameras(self) -> SilenceRule:
        if not self.cameras:
            raise ValueError("a silence rule names the cameras it watches (cameras: [...])")
        return self

    def keyed_by(self) -> Keyed:
        return "camera"

    def watches(self, key: str) -> bool:
        return key in self.cameras

    def on_timer(self, key: str, history: PlateHistory, now: float) -> Trigger | None:
        return silent_since(self, key, history.watermark, now)


def silent_since(rule: SilenceRule, camera_id: str, last_read: float, now: float) -> Trigger | None:
    """A silence alert for ``camera_id`` whose last read was at ``last_read``."""
    if now - last_read < rule.after:
        return None
    marker = f"silence:{camera_id}:{last_read:.3f}"
    message = f"camera {camera_id}: no reads for {now - last_read:.0f}s"
    return Trigger(rule, camera_id, (marker,), last_read + rule.after, message)
