"""Motion gating: still frames with nothing being tracked are not analysed."""

from __future__ import annotations

import cv2
import numpy as np

from edge.cameras import Point
from edge.video.source import Frame

#: Width of the grey copy motion is measured on: small is fast and ignores sensor noise.
GATE_WIDTH = 160
#: Grey-level change (0..255) for a pixel to count as changed.
PIXEL_DELTA = 20


class MotionGate:
    """Compares each frame with the previous one on a small blurred grey copy."""

    def __init__(self, threshold: float, zone: list[Point] | None = None) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {threshold!r}")
        self.threshold = threshold
        self.zone = zone
        self._previous: np.ndarray | None = None
        self._marked: np.ndarray | None = None
        self._mask: np.ndarray | None = None

    def moving(self, frame: Frame) -> bool:
        """True when more than ``threshold`` of the (zone's) pixels changed."""
        if self.threshold == 0.0:
            return True
        grey = cv2.GaussianBlur(frame.grey(GATE_WIDTH), (5, 5), 0)
        previous, self._previous = self._previous, grey
        return self._differ(grey, previous)

    def mark(self) -> None:
        """Remember the last frame seen (the one a detection ran on)."""
        self._marked = self._previous

    def unchanged_since_mark(self) -> bool:
        """True when gating is on and the last frame seen differs from the marked one by no
        more than the threshold: a detection on it would find what the marked one did.
        Compared with the marked frame, not the previous one, so that a slow vehicle's
        small changes per frame add up."""
        if self.threshold == 0.0 or self._previous is None or self._marked is None:
            return False
        return not self._differ(self._previous, self._marked)

    def _differ(self, grey: np.ndarray, other: np.ndarray | None) -> bool:
        if other is None or other.shape != grey.shape:
            return True
        changed = cv2.absdiff(grey, other) > PIXEL_DELTA
        mask = self._zone_mask(grey.shape)
        if mask is not None:
            changed = changed[mask]
        return bool(changed.size) and float(changed.mean()) > self.threshold

    def _zone_mask(self, shape: tuple[int, ...]) -> np.ndarray | None:
        if self.zone is None:
            return None
        if self._mask is None or self._mask.shape != shape:
            height, width = shape[:2]
            polygon = np.array([[x * width, y * height] for x, y in self.zone], dtype=np.int32)
            mask = np.zeros((height, width), dtype=np.uint8)
            cv2.fillPoly(mask, [polygon], (1,))
            self._mask = mask.astype(bool)
        return self._mask


def inside(zone: list[Point] | None, x: float, y: float) -> bool:
    """Whether the point (fractions of width and height) lies in the zone (or there is none)."""
    if zone is None:
        return True
    polygon = np.array(zone, dtype=np.float32).reshape(-1, 1, 2)
    return cv2.pointPolygonTest(polygon, (float(x), float(y)), False) >= 0
