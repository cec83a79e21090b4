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
        self._mask: np.ndarray | None = None

    def moving(self, frame: Frame) -> bool:
        """True when more than ``threshold`` of the (zone's) pixels changed."""
        if self.threshold == 0.0:
            return True
        grey = cv2.GaussianBlur(frame.grey(GATE_WIDTH), (5, 5), 0)
        previous, self._previous = self._previous, grey
        if previous is None or previous.shape != grey.shape:
            return True
        changed = cv2.absdiff(grey, previous) > PIXEL_DELTA
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
