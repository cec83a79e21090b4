"""The one detection container handed between stages, with adapters from each backend."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.engine.geometry import FloatArray, Letterbox, clip_boxes, nms

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Detection:
    """One detected object: a box in source-image pixels, a score and a class label."""

    box: Box
    score: float
    label: str

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


@dataclass(frozen=True)
class Detections:
    """N detections: ``boxes`` (N, 4) x1 y1 x2 y2, ``scores`` (N,), ``class_ids`` (N,).

    ``names`` maps class ids to labels. Shapes are checked at construction so a backend
    adapter that hands over the wrong layout fails where it happens.
    """

    boxes: FloatArray
    scores: FloatArray
    class_ids: npt.NDArray[np.int64]
    names: Sequence[str]

    def __post_init__(self) -> None:
        n = len(self.scores)
        if self.boxes.ndim != 2 or self.boxes.shape != (n, 4):
            raise ValueError(f"boxes must have shape ({n}, 4), got {self.boxes.shape}")
        if self.scores.shape != (n,):
            raise ValueError(f"scores must have shape ({n},), got {self.scores.shape}")
        if self.class_ids.shape != (n,):
            raise ValueError(f"class_ids must have shape ({n},), got {self.class_ids.shape}")
        if n and (self.class_ids.min() < 0 or self.class_ids.max() >= len(self.names)):
            raise ValueError(
                f"class_ids must lie within [0, {len(self.names) - 1}], got "
                f"[{self.class_ids.min()}, {self.class_ids.max()}]"
            )

    @classmethod
    def empty(cls, names: Sequence[str] = ("object",)) -> Detections:
        """No detections."""
        return cls(
            np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64), names
        )

    @classmethod
    def from_yolov8(
        cls,
        output: npt.NDArray[np.float32],
        letterbox: Letterbox,
        image_size: tuple[int, int],
        names: Sequence[str],
        min_score: float,
        iou_threshold: float,
        keep_classes: Sequence[int] | None = None,
    ) -> Detections:
        """Decode a YOLOv8 head, shape (1, 4 + classes, anchors): cx cy w h then class scores.

        ``image_size`` is the source image's (width, height); boxes come back in its pixels.
        """
        if output.ndim != 3 or output.shape[0] != 1 or output.shape[1] != 4 + len(names):
            raise ValueError(
                f"YOLOv8 output must have shape (1, {4 + len(names)}, anchors) for "
                f"{len(names)} classes, got {output.shape}"
            )
        # Each anchor's best score first (a fast reduction over the classes), its class only
        # for the few anchors that pass: an argmax over every anchor costs six times more.
        class_scores = output[0, 4:]
        best = class_scores.max(axis=0)
        passing = np.flatnonzero(best >= min_score)
        class_ids = class_scores[:, passing].argmax(axis=0)
        scores = best[passing]
        rows = output[0][:, passing].T
        if keep_classes is not None:
            kept = np.isin(class_ids, keep_classes)
            rows, scores, class_ids = rows[kept], scores[kept], class_ids[kept]
        centres, sizes = rows[:, :2], rows[:, 2:4]
        boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1)
        boxes = clip_boxes(letterbox.to_source(boxes), *image_size)
        keep = _per_class_nms(boxes, scores, class_ids, iou_threshold)
        return cls(
            boxes[keep], scores[keep].astype(np.float32), class_ids[keep].astype(np.int64), names
        )

    @classmethod
    def from_quads(
        cls, quads: npt.NDArray[np.float32], scores: Sequence[float], label: str
    ) -> Detections:
        """Axis-aligned boxes around quadrilaterals, shape (N, 4, 2), as text detectors give."""
        quads = np.asarray(quads, dtype=np.float32).reshape(-1, 4, 2)
        if len(quads) != len(scores):
            raise ValueError(f"got {len(quads)} quadrilaterals but {len(scores)} scores")
        boxes = np.concatenate([quads.min(axis=1), quads.max(axis=1)], axis=1)
        return cls(
            boxes.astype(np.float32),
            np.asarray(scores, dtype=np.float32),
            np.zeros(len(quads), np.int64),
            (label,),
        )

    def __len__(self) -> int:
        return len(self.scores)

    def __iter__(self) -> Iterator[Detection]:
        for box, score, class_id in zip(self.boxes, self.scores, self.class_ids, strict=True):
            x1, y1, x2, y2 = (float(v) for v in box)
            yield Detection((x1, y1, x2, y2), float(score), self.names[int(class_id)])

    def select(self, indices: npt.NDArray[np.intp]) -> Detections:
        """The detections at ``indices``, in that order."""
        return Detections(
            self.boxes[indices], self.scores[indices], self.class_ids[indices], self.names
        )

    def scaled(self, factor: float) -> Detections:
        """The same detections with boxes multiplied by ``factor`` (a small copy's pixels to
        the source's)."""
        if factor <= 0:
            raise ValueError(f"factor must be positive, got {factor!r}")
        return Detections(self.boxes * np.float32(factor), self.scores, self.class_ids, self.names)

    def shifted(self, dx: float, dy: float) -> Detections:
        """The same detections moved by (dx, dy): from a crop's pixels to the frame's."""
        offset = np.asarray([dx, dy, dx, dy], dtype=np.float32)
        return Detections(self.boxes + offset, self.scores, self.class_ids, self.names)


def _per_class_nms(
    boxes: FloatArray,
    scores: FloatArray,
    class_ids: npt.NDArray[np.int64],
    iou_threshold: float,
) -> npt.NDArray[np.intp]:
    # Offsetting each class far apart makes one NMS pass never suppress across classes.
    offsets = (class_ids.astype(np.float32) * 100_000.0)[:, None]
    return nms(boxes + offsets, scores, iou_threshold)
