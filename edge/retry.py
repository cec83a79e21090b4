"""Exponential backoff with jitter, shared by stream reconnects and spool senders."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Delays between attempts: ``initial_s * factor**attempt``, capped, +/- ``jitter``."""

    initial_s: float = 0.5
    max_s: float = 30.0
    factor: float = 2.0
    jitter: float = 0.3

    def __post_init__(self) -> None:
        if not 0 < self.initial_s <= self.max_s:
            raise ValueError(
                f"initial_s must be in (0, max_s={self.max_s}], got {self.initial_s!r}"
            )
        if self.factor < 1:
            raise ValueError(f"factor must be >= 1, got {self.factor!r}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be in [0, 1], got {self.jitter!r}")

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before attempt ``attempt`` (0 = the first retry)."""
        base = min(self.max_s, self.initial_s * self.factor ** max(0, attempt))
        spread = base * self.jitter
        return max(0.0, base + (rng or random).uniform(-spread, spread))
