"""Plate text recognition: PP-OCR recognition on the plate crop, two-line plates joined."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.config import PpOcr
from edge.engine.ctc import Decoded, PlateAlphabet
from edge.engine.geometry import Image
from edge.engine.lines import find_line_split
from edge.engine.runtime import open_session

#: PP-OCR recognition input height and the narrowest padded width it was trained on.
REC_HEIGHT = 48
REC_MIN_WIDTH = 320
REC_MAX_WIDTH = 1280


@dataclass(frozen=True)
class TextRead:
    """Recognised plate text (upper case, no separators), its confidence and line count."""

    text: str
    confidence: float
    lines: int


class PlateReader(ABC):
    """Reads the text of one plate crop."""

    @abstractmethod
    def read(self, plate: Image) -> list[TextRead]:
        """Candidate texts of the plate (e.g. as one line and as two), none if illegible."""


class PpOcrReader(PlateReader):
    """PP-OCR recognition (no detection) through ONNX Runtime."""

    def __init__(
        self, model: Path, config: PpOcr, threads: int = 0, allow_gpu: bool = True
    ) -> None:
        self.config = config
        self.session = open_session(model, threads, allow_gpu)
        self.input_name = self.session.get_inputs()[0].name
        metadata = self.session.get_modelmeta().custom_metadata_map
        if "character" not in metadata:
            raise ValueError(f"{model.name} carries no 'character' list in its metadata")
        vocabulary = ["blank", *metadata["character"].splitlines(), " "]
        self.alphabet = PlateAlphabet(vocabulary, config.charset)

    def read(self, plate: Image) -> list[TextRead]:
        height, width = plate.shape[:2]
        if height < 4 or width < 4:
            return []
        candidates = [self._read_line(plate, lines=1)]
        if width / height < self.config.two_line_aspect:
            two = self._read_two_lines(plate)
            if two is not None:
                candidates.append(two)
        return [
            c
            for c in candidates
            if len(c.text) >= self.config.min_chars and c.confidence >= self.config.min_score
        ]

    def _read_two_lines(self, plate: Image) -> TextRead | None:
        import cv2

        gray = cv2.cvtColor(plate, cv2.COLOR_BGR2GRAY)
        split = find_line_split(gray)
        if split is None:
            return None
        top, bottom = self.recognise([plate[:split], plate[split:]])
        if not top.text or not bottom.text:
            return None
        confidence = (top.confidence * len(top.text) + bottom.confidence * len(bottom.text)) / (
            len(top.text) + len(bottom.text)
        )
        return TextRead(top.text + bottom.text, confidence, lines=2)

    def _read_line(self, plate: Image, lines: int) -> TextRead:
        import cv2

        stretched = cv2.resize(
            plate, None, fx=self.config.stretch, fy=1.0, interpolation=cv2.INTER_CUBIC
        )
        (decoded,) = self.recognise([stretched])
        return TextRead(decoded.text, decoded.confidence, lines)

    def recognise(self, crops: list[Image]) -> list[Decoded]:
        """Decode each crop as one line of text, in one batch."""
        tensors = [_to_tensor(crop) for crop in crops]
        width = max(t.shape[2] for t in tensors)
        batch = np.zeros((len(tensors), 3, REC_HEIGHT, width), np.float32)
        for row, tensor in enumerate(tensors):
            batch[row, :, :, : tensor.shape[2]] = tensor
        (output,) = self.session.run(None, {self.input_name: batch})
        return [self.alphabet.decode(sequence) for sequence in output]


def _to_tensor(crop: Image) -> np.ndarray:
    """A BGR crop resized to the recognition height, normalised to [-1, 1], CHW."""
    import cv2

    height, width = crop.shape[:2]
    new_width = int(np.clip(np.ceil(REC_HEIGHT * width / max(height, 1)), 8, REC_MAX_WIDTH))
    shrinking = height > REC_HEIGHT
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    resized = cv2.resize(crop, (new_width, REC_HEIGHT), interpolation=interpolation)
    tensor = resized.astype(np.float32).transpose(2, 0, 1) / 255.0
    padded = np.zeros((3, REC_HEIGHT, max(new_width, REC_MIN_WIDTH)), np.float32)
    padded[:, :, :new_width] = (tensor - 0.5) / 0.5
    return padded
