"""Stand-in stages for testing the engine's logic without models."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from edge.engine.detections import Box, Detections
from edge.engine.geometry import Image
from edge.engine.ocr import PlateReader, TextRead
from edge.engine.plates import PlateLocator
from edge.engine.vehicles import COCO_CLASSES, VehicleDetector
from edge.formats import PlateFormats


def boxes(
    found: Sequence[tuple[Box, float]], names: Sequence[str], class_id: int = 0
) -> Detections:
    """Detections of one class from (box, score) pairs."""
    return Detections(
        np.asarray([b for b, _ in found], np.float32).reshape(-1, 4),
        np.asarray([s for _, s in found], np.float32),
        np.full(len(found), class_id, np.int64),
        names,
    )


class FakeVehicles(VehicleDetector):
    def __init__(self, cars: Sequence[tuple[Box, float]]) -> None:
        self.cars = cars

    def detect(self, frame: Image, scale: float = 1.0) -> Detections:
        return boxes(self.cars, COCO_CLASSES, class_id=2)


class FakePlates(PlateLocator):
    """Finds fixed plates in frame coordinates, whatever region it is shown."""

    def __init__(self, plates: Sequence[tuple[Box, float]]) -> None:
        self.plates = plates
        self.calls = 0

    def locate(self, region: Image) -> Detections:
        self.calls += 1
        return boxes(self.plates, ("plate",))


class FakeReader(PlateReader):
    """Reads the text painted as the crop's mean grey level, keyed by ``texts``."""

    def __init__(self, texts: dict[int, list[TextRead]]) -> None:
        self.texts = texts

    def read(self, crops: Sequence[Image], formats: PlateFormats) -> list[TextRead]:
        return [
            checked(read, formats)
            for crop in crops
            for read in self.texts.get(int(crop.mean()), [])
        ]


def checked(read: TextRead, formats: PlateFormats) -> TextRead:
    """The read with the validity and layout the formats give its text (as the real
    reader's decoder does)."""
    check = formats.check(read.text)
    return replace(read, valid=check.valid, format=check.format)
