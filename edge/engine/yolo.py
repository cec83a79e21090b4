"""A YOLOv8 ONNX detector: letterbox, run, decode. Vehicles and plates both use it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edge.engine.balance import balance_letterboxed
from edge.engine.detections import Detections
from edge.engine.geometry import Image, letterbox
from edge.engine.image_input import BGR_INPUT, take_bgr_bytes
from edge.engine.runtime import Backend, open_session
from edge.engine.yolo_shapes import (
    ANCHORS_INPUT,
    STRIDES,
    STRIDES_INPUT,
    FixedInput,
    anchor_grid,
    free_input_size,
)

logger = logging.getLogger(__name__)


class YoloV8Onnx:
    """Runs a YOLOv8 detection model exported to ONNX (input 1x3xSxS RGB in [0, 1]).

    With ``any_size`` (the default) the graph is rewritten to take any input size (see
    ``yolo_shapes``) and an image is letterboxed to its own aspect, the long side at
    ``input_size`` and the short one rounded up to a multiple of 32, instead of into the
    square: a 16:9 frame costs 60% of the square's run and is seen at the same scale.
    """

    def __init__(
        self,
        model: Path,
        names: Sequence[str],
        input_size: int,
        min_score: float,
        iou_threshold: float,
        backend: Backend | None = None,
        any_size: bool = True,
        balance: bool = False,
    ) -> None:
        if not names:
            raise ValueError("names must list at least one class")
        self.names = tuple(names)
        self.input_size = input_size
        self.min_score = min_score
        self.iou_threshold = iou_threshold
        self.balance = balance
        self.multiple: int | None = None
        self._grids: dict[tuple[int, int], dict[str, npt.NDArray[np.float32]]] = {}
        graph: bytes = model.read_bytes()
        image_input: str | None = None  # the graph's only input
        if any_size:
            try:
                freed = free_input_size(model)
            except FixedInput as exc:
                logger.info("%s keeps its square input: %s", model.name, exc)
            else:
                graph, image_input = freed.model, freed.image_input
                self.multiple = STRIDES[-1]
        # The graph takes the letterboxed frame's bytes as they are (see image_input).
        # A detector meets few input shapes (a camera's frame, a few mosaic sizes): each
        # is compiled for its own shape (see openvino_session).
        self.session = open_session(
            take_bgr_bytes(graph, image_input), backend, model.name, per_shape=True
        )
        self.input_name = BGR_INPUT
        shape = self.session.get_inputs()[0].shape
        if self.multiple is None and shape[1:3] != [input_size, input_size]:
            raise ValueError(
                f"{model.name} takes {shape[1:3]} inputs but input_size is {input_size}"
            )

    def detect(self, image: Image, keep_classes: Sequence[int] | None = None) -> Detections:
        """Detections in a BGR ``image``, in its pixels."""
        boxed, geometry = letterbox(image, self.input_size, self.multiple)
        if self.balance:
            balance_letterboxed(boxed, geometry, image.shape)
        (output,) = self.session.run(None, {self.input_name: boxed[None], **self._grid(boxed)})
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

    def _grid(self, boxed: Image) -> dict[str, npt.NDArray[np.float32]]:
        """The anchor inputs of a freed graph for this input size (none for a square one)."""
        if self.multiple is None:
            return {}
        size = (boxed.shape[0], boxed.shape[1])
        if size not in self._grids:
            points, strides = anchor_grid(*size)
            self._grids[size] = {ANCHORS_INPUT: points, STRIDES_INPUT: strides}
        return self._grids[size]
