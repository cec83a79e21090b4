"""Plate localisation stage: the YOLO plate model, or PP-OCR text detection as a fallback."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from edge.config import TextPlates, YoloPlates
from edge.engine.detections import Detections
from edge.engine.geometry import Image
from edge.engine.runtime import Backend
from edge.engine.textboxes import merge_text_boxes
from edge.engine.yolo import YoloV8Onnx

PLATE_LABEL = "plate"


class PlateLocator(ABC):
    """Finds plates in an image region (a vehicle crop or a whole frame)."""

    #: Where the engine should look: the whole frame once, or each vehicle and the frame.
    search: str = "frame"
    #: In the 'auto' search, how many vehicles without a plate are searched again.
    vehicle_searches: int = 0
    #: Whether the locator reads any image shape at its own aspect (then a mosaic of two
    #: vehicles may be a 2x1 strip: see ``mosaic.pack``'s ``compact``).
    any_size: bool = False

    @abstractmethod
    def locate(self, region: Image) -> Detections:
        """Plate boxes in the region's pixels."""


class YoloPlateLocator(PlateLocator):
    """The single-class YOLOv8 plate detector exported from safelicensing's ``best.pt``."""

    def __init__(self, model: Path, config: YoloPlates, backend: Backend | None = None) -> None:
        self.search = config.search
        self.vehicle_searches = config.vehicle_searches
        self.yolo = YoloV8Onnx(
            model,
            (PLATE_LABEL,),
            640,
            config.min_score,
            config.iou_threshold,
            backend,
            any_size=config.input_shape == "fit",
            balance=config.white_balance,
        )
        self.any_size = self.yolo.multiple is not None

    def locate(self, region: Image) -> Detections:
        return self.yolo.detect(region)


class TextPlateLocator(PlateLocator):
    """PP-OCR text detection: each wide text box is a plate candidate.

    Slower and less precise than the plate model; used when that model is not available.
    A RapidOCR engine instance of its own, only ever called for detection (RapidOCR keeps
    call-time switches such as ``use_rec`` for later calls, so instances are not shared).
    """

    def __init__(self, model: Path, config: TextPlates, threads: int = 0) -> None:
        from rapidocr import RapidOCR

        self.config = config
        self.search = config.search
        self.engine = RapidOCR(
            params={
                "Det.model_path": str(model),
                "Global.use_cls": False,
                "Global.use_rec": False,
                "Global.log_level": "error",
                "EngineConfig.onnxruntime.intra_op_num_threads": threads or -1,
            }
        )

    def locate(self, region: Image) -> Detections:
        result: Any = self.engine(region, use_det=True, use_cls=False, use_rec=False)
        if result.boxes is None or len(result.boxes) == 0:
            return Detections.empty((PLATE_LABEL,))
        found = Detections.from_quads(
            np.asarray(result.boxes, np.float32), list(result.scores), PLATE_LABEL
        )
        groups = merge_text_boxes([(d.box, d.score) for d in found])
        if not groups:
            return Detections.empty((PLATE_LABEL,))
        merged = Detections(
            np.asarray([box for box, _ in groups], np.float32),
            np.asarray([score for _, score in groups], np.float32),
            np.zeros(len(groups), np.int64),
            (PLATE_LABEL,),
        )
        widths = merged.boxes[:, 2] - merged.boxes[:, 0]
        heights = np.maximum(merged.boxes[:, 3] - merged.boxes[:, 1], 1.0)
        keep = np.flatnonzero(
            (merged.scores >= self.config.min_score) & (widths / heights >= self.config.min_aspect)
        )
        return merged.select(keep)
