"""One vehicle's track: its reads, their consensus, its best shot and its direction.

Reads of one pass of one vehicle vote per character (``edge.engine.consensus``), each vote
weighted by the read's confidence, so a character misread in a blurred frame is outvoted by
the frames that read it well. The best shot is the read of the winning text with the best
mix of sharpness, plate size and confidence.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from edge.cameras import DirectionLine
from edge.engine.consensus import consensus
from edge.engine.detections import Box
from edge.formats import PlateFormats

#: Laplacian variance at which a plate crop counts as fully sharp.
SHARP_VARIANCE = 400.0
#: Plate width (pixels) at which a plate counts as fully large.
LARGE_PLATE_PX = 160.0


@dataclass(frozen=True)
class TrackRead:
    """One plate read of the track in one frame, with the pixels to keep if it is the best."""

    text: str
    confidence: float
    captured_at: float
    plate_box: Box
    vehicle_box: Box | None
    plate_crop: np.ndarray
    vehicle_crop: np.ndarray | None
    sharpness: float

    @property
    def quality(self) -> float:
        """Image quality of the plate crop, 0..1: sharpness and size."""
        sharp = min(1.0, self.sharpness / SHARP_VARIANCE)
        size = min(1.0, (self.plate_box[2] - self.plate_box[0]) / LARGE_PLATE_PX)
        return (0.4 + 0.6 * sharp) * (0.5 + 0.5 * size)

    @property
    def shot_score(self) -> float:
        """Image quality and read confidence in one figure, 0..1."""
        return self.confidence * self.quality


def sharpness(image: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image: higher is sharper."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


@dataclass(frozen=True)
class Verdict:
    """What a track's reads agree on."""

    text: str
    confidence: float
    char_confidences: list[float]
    valid: bool
    format: str | None
    agreed: int


def vote(reads: Sequence[tuple[str, float]], formats: PlateFormats) -> Verdict | None:
    """The per-character vote of ``reads``; if it fits no format, the vote of those that do.

    ``char_confidences`` is, per position, the confidence-weighted share of reads of the
    voted length that agree with the voted character.
    """
    voted = consensus(reads)
    if voted is None:
        return None
    check = formats.check(voted[0])
    if not check.valid:
        fitting = [(t, c) for t, c in reads if formats.check(t).valid]
        if fitting:
            voted = consensus(fitting) or voted
            check = formats.check(voted[0])
    text, confidence = voted
    same_length = [(t, c) for t, c in reads if len(t) == len(text)]
    chars = [
        round(sum(c for t, c in same_length if t[i] == ch) / len(same_length), 4)
        for i, ch in enumerate(text)
    ]
    agreed = sum(1 for t, _ in reads if t == text)
    return Verdict(text, round(confidence, 4), chars, check.valid, check.format, agreed)


@dataclass
class Track:
    """The state of one tracked vehicle (or plate, without a vehicle detector)."""

    id: int
    first_seen: float
    last_seen: float
    labels: Counter[str] = field(default_factory=Counter)
    centres: list[tuple[float, float]] = field(default_factory=list)
    reads: list[TrackRead] = field(default_factory=list)
    detections_since_read: int = 0
    emitted: bool = False
    #: Searches for the plate in a row that found none.
    misses: int = 0
    #: A preview event of this track was published.
    previewed: bool = False
    #: Where the plate sat in the vehicle's box when last found (fractions of the box) and
    #: the locator's score then: later reads look there first.
    plate_in_vehicle: tuple[Box, float] | None = None

    @property
    def first_read_at(self) -> float | None:
        return self.reads[0].captured_at if self.reads else None

    @property
    def vehicle_type(self) -> str | None:
        """The detector's most frequent class for this track."""
        common = self.labels.most_common(1)
        return common[0][0] if common and common[0][0] != "plate" else None

    def settled(self, settle_reads: int) -> bool:
        """True when the last ``settle_reads`` reads agree: more would not change the vote."""
        if len(self.reads) < settle_reads:
            return False
        last = {read.text for read in self.reads[-settle_reads:]}
        return len(last) == 1

    def verdict(self, formats: PlateFormats) -> Verdict | None:
        return vote([(r.text, r.confidence) for r in self.reads], formats)

    def best_shot(self, text: str) -> TrackRead:
        """The sharpest, largest, most confident read of ``text`` (any read if none has it)."""
        matching = [read for read in self.reads if read.text == text] or self.reads
        return max(matching, key=lambda read: read.shot_score)

    def direction(self, line: DirectionLine | None) -> str:
        """The direction of travel if the track crossed ``line``, else ``unknown``."""
        if line is None or len(self.centres) < 2:
            return "unknown"
        sides = [s for s in (_side(line, c) for c in self.centres) if s != 0]
        if len(sides) < 2 or sides[0] == sides[-1]:
            return "unknown"
        return line.to_right if sides[-1] > 0 else line.to_left


def _side(line: DirectionLine, point: tuple[float, float]) -> int:
    """+1 right of the line seen from start to end (image y down), -1 left, 0 on it."""
    (x1, y1), (x2, y2) = line.start, line.end
    cross = (x2 - x1) * (point[1] - y1) - (y2 - y1) * (point[0] - x1)
    return 0 if abs(cross) < 1e-9 else (1 if cross > 0 else -1)
