"""A YOLOv8 ONNX detector: letterbox, run, decode. Vehicles and plates both use it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edge.engine.detections import Detections
from edge.engine.geometry import Image, letterbox
from edge.engine.runtime import open_session


class YoloV8Onnx:
    """Runs a YOLOv8 detection model exported to ONNX (input 1x3xSxS RGB in [0, 1])."""

    def __init__(
        self,
        model: Path,
        names: Sequence[str],
        input_size: int,
        min_score: float,
        iou_threshold: float,
        threads: int = 0,
        allow_gpu: bool = True,
    ) -> None:
        if not names:
            raise ValueError("names must list at least one class")
        self.names = tuple(names)
        self.input_size = input_size
        self.min_score = min_score
        self.iou_threshold = iou_threshold
        self.session = open_session(model, threads, allow_gpu)
        self.input_name = self.session.get_inputs()[0].name
        shape = self.session.get_inputs()[0].shape
        if shape[2:] != [input_size, input_size]:
            raise ValueError(
                f"{model.name} takes {shape[2:]} inputs but input_size is {input_size}"
            )

    def detect(self, image: Image, keep_classes: Sequence[int] | None = None) -> Detections:
        """Detections in a BGR ``image``, in its pixels."""
        boxed, geometry = letterbox(image, self.input_size)
        tensor = boxed[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255.0
        (output,) = self.session.run(None, {self.input_name: tensor})
        height, width = image.shape[:2]
        return Detections.from_yolov8(
            output,
            geometry,
            (width, height),
            self.names,
            self.min_score,
            self.iou_threshold,
            keep_classes,
        )
