"""Box and image geometry: letterboxing, box rescaling, clipping, padding and NMS.

Boxes are float arrays of shape (N, 4) in ``x1, y1, x2, y2`` pixel order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
#: A BGR image as OpenCV gives it (uint8 in practice; OpenCV's stubs say any number type).
Image = npt.NDArray[Any]

#: The grey YOLO models were trained with around letterboxed images.
LETTERBOX_FILL = 114


@dataclass(frozen=True)
class Letterbox:
    """How an image was scaled and padded into a model input."""

    scale: float
    pad_x: float
    pad_y: float

    def to_source(self, boxes: FloatArray) -> FloatArray:
        """Map boxes from model-input pixels back to source-image pixels."""
        out = boxes.astype(np.float32, copy=True)
        out[:, [0, 2]] = (out[:, [0, 2]] - self.pad_x) / self.scale
        out[:, [1, 3]] = (out[:, [1, 3]] - self.pad_y) / self.scale
        return out


def letterbox(image: Image, size: int, multiple: int | None = None) -> tuple[Image, Letterbox]:
    """Fit ``image`` into a ``size`` x ``size`` square, keeping its aspect, padding with grey.

    With ``multiple``, the canvas is only as large as the scaled image, rounded up to that
    multiple on each side (a 16:9 frame into 640 gives 640x384, not 640x640): for models
    that take any input size (see ``yolo_shapes``).
    """
    import cv2

    if size <= 0:
        raise ValueError(f"size must be positive, got {size}")
    if multiple is not None and (multiple <= 0 or size % multiple):
        raise ValueError(f"multiple must be a positive divisor of size {size}, got {multiple}")
    height, width = image.shape[:2]
    if height == 0 or width == 0:
        raise ValueError(f"image must not be empty, got shape {image.shape}")
    scale = min(size / height, size / width)
    new_w, new_h = round(width * scale), round(height * scale)
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    canvas_w, canvas_h = size, size
    if multiple is not None:
        canvas_w = -(-new_w // multiple) * multiple
        canvas_h = -(-new_h // multiple) * multiple
    pad_x, pad_y = (canvas_w - new_w) / 2, (canvas_h - new_h) / 2
    left, top = round(pad_x - 0.1), round(pad_y - 0.1)
    canvas = np.full((canvas_h, canvas_w, 3), LETTERBOX_FILL, dtype=np.uint8)
    canvas[top : top + new_h, left : left + new_w] = resized
    return canvas, Letterbox(scale=scale, pad_x=float(left), pad_y=float(top))


def clip_boxes(boxes: FloatArray, width: int, height: int) -> FloatArray:
    """Clip boxes to the image ``[0, width] x [0, height]``."""
    out = boxes.astype(np.float32, copy=True)
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, width)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, height)
    return out


def pad_box(
    box: tuple[float, float, float, float], ratio_x: float, ratio_y: float
) -> tuple[float, float, float, float]:
    """Grow a box by ``ratio_x`` of its width and ``ratio_y`` of its height on each side."""
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * ratio_x, (y2 - y1) * ratio_y
    return x1 - dx, y1 - dy, x2 + dx, y2 + dy


def box_area(boxes: FloatArray) -> FloatArray:
    """Areas of boxes; inverted boxes have area 0."""
    widths = (boxes[:, 2] - boxes[:, 0]).clip(min=0)
    heights = (boxes[:, 3] - boxes[:, 1]).clip(min=0)
    return (widths * heights).astype(np.float32)


def iou(box: FloatArray, boxes: FloatArray) -> FloatArray:
    """Intersection over union of one box (shape (4,)) with each of ``boxes``."""
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = (x2 - x1).clip(min=0) * (y2 - y1).clip(min=0)
    union = box_area(box[None, :])[0] + box_area(boxes) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)


def overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection of two boxes as a fraction of the smaller one's area (0 if either is empty)."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    if width <= 0 or height <= 0 or smaller <= 0:
        return 0.0
    return float(width * height / smaller)


def nms(boxes: FloatArray, scores: FloatArray, iou_threshold: float) -> npt.NDArray[np.intp]:
    """Greedy non-maximum suppression; returns kept indices, best score first."""
    if not 0.0 <= iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be within [0, 1], got {iou_threshold}")
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        if order.size == 1:
            break
        overlaps = iou(boxes[best], boxes[order[1:]])
        order = order[1:][overlaps <= iou_threshold]
    return np.asarray(keep, dtype=np.intp)


def crop(image: Image, box: tuple[float, float, float, float]) -> Image:
    """The pixels of ``image`` inside ``box`` (clipped to the image; may be empty)."""
    height, width = image.shape[:2]
    x1, y1 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
    x2, y2 = min(width, int(np.ceil(box[2]))), min(height, int(np.ceil(box[3])))
    return image[y1:y2, x1:x2]
