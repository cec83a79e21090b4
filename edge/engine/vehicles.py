"""Vehicle detection stage."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from edge.config import COCO_VEHICLES, YoloVehicles
from edge.engine.detections import Detections
from edge.engine.geometry import Image
from edge.engine.runtime import Backend
from edge.engine.yolo import YoloV8Onnx

#: The 80 COCO classes the vehicle model outputs; only vehicles get names that matter here.
COCO_CLASSES = tuple(COCO_VEHICLES.get(i, f"coco{i}") for i in range(80))


class VehicleDetector(ABC):
    """Finds vehicles in a frame."""

    #: Width of the model's input: a video pipeline hands over frames shrunk to it (the model
    #: would shrink them anyway); ``None`` for the full frame.
    input_width: int | None = None

    @abstractmethod
    def detect(self, frame: Image, scale: float = 1.0) -> Detections:
        """Vehicle boxes in source pixels, labelled car, motorcycle, bus or truck.

        ``scale`` is how much ``frame`` was shrunk from the source (its width over the
        source's): a video pipeline hands over a small copy, as the model's input is small.
        """


class YoloVehicleDetector(VehicleDetector):
    """COCO YOLOv8n through ONNX Runtime, keeping the vehicle classes only."""

    def __init__(self, model: Path, config: YoloVehicles, backend: Backend | None = None) -> None:
        self.config = config
        self.input_width = 640
        self.yolo = YoloV8Onnx(
            model,
            COCO_CLASSES,
            self.input_width,
            config.min_score,
            config.iou_threshold,
            backend,
            any_size=config.input_shape == "fit",
        )

    def detect(self, frame: Image, scale: float = 1.0) -> Detections:
        if not 0.0 < scale <= 1.0:
            raise ValueError(f"scale must be in (0, 1], got {scale!r}")
        found = self.yolo.detect(frame, keep_classes=sorted(COCO_VEHICLES))
        if scale != 1.0:
            found = found.scaled(1.0 / scale)
        wide = (found.boxes[:, 2] - found.boxes[:, 0]) >= self.config.min_size
        keep = np.flatnonzero(wide)
        return found.select(keep)


class NoVehicleDetector(VehicleDetector):
    """Skips vehicle detection: plates are searched in the whole frame."""

    def detect(self, frame: Image, scale: float = 1.0) -> Detections:
        return Detections.empty(COCO_CLASSES)
