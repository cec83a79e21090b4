"""Plate text recognition: PP-OCR recognition on the plate crop, two-line plates joined."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
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
    def read(self, crops: Sequence[Image]) -> list[TextRead]:
        """Candidate texts from crops of one plate (as one line and, if it may be, two)."""


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

    def read(self, crops: Sequence[Image]) -> list[TextRead]:
        import cv2

        jobs: list[tuple[Image, float]] = []  # (image, horizontal stretch) per text line
        groups: list[tuple[int, ...]] = []  # the jobs whose lines make up one candidate
        for crop in crops:
            height, width = crop.shape[:2]
            if height < 4 or width < 4:
                continue
            groups.append((len(jobs),))
            jobs.append((crop, self.config.stretch))
            if width / height < self.config.two_line_aspect:
                split = find_line_split(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY))
                if split is not None:
                    groups.append((len(jobs), len(jobs) + 1))
                    jobs += [(crop[:split], 1.0), (crop[split:], 1.0)]
        if not jobs:
            return []
        decoded = self.recognise(jobs)
        candidates = [_join([decoded[i] for i in group]) for group in groups]
        return [
            c
            for c in candidates
            if c is not None
            and len(c.text) >= self.config.min_chars
            and c.confidence >= self.config.min_score
        ]

    def recognise(self, lines: Sequence[tuple[Image, float]]) -> list[Decoded]:
        """Decode each (image, horizontal stretch) as one line of text, in one batch."""
        tensors = [_to_tensor(image, stretch) for image, stretch in lines]
        width = max(t.shape[2] for t in tensors)
        batch = np.zeros((len(tensors), 3, REC_HEIGHT, width), np.float32)
        for row, tensor in enumerate(tensors):
            batch[row, :, :, : tensor.shape[2]] = tensor
        (output,) = self.session.run(None, {self.input_name: batch})
        return [self.alphabet.decode(sequence) for sequence in output]


def _join(lines: list[Decoded]) -> TextRead | None:
    """One candidate from its lines, top first; ``None`` when a line read nothing."""
    if any(not line.text for line in lines):
        return None
    text = "".join(line.text for line in lines)
    confidence = sum(line.confidence * len(line.text) for line in lines) / len(text)
    return TextRead(text, confidence, lines=len(lines))


def _to_tensor(crop: Image, stretch: float = 1.0) -> np.ndarray:
    """A BGR crop resized to the recognition height (width times ``stretch``), in [-1, 1], CHW."""
    import cv2

    height, width = crop.shape[:2]
    scaled = np.ceil(REC_HEIGHT * stretch * width / max(height, 1))
    new_width = int(np.clip(scaled, 8, REC_MAX_WIDTH))
    shrinking = height > REC_HEIGHT
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    resized = cv2.resize(crop, (new_width, REC_HEIGHT), interpolation=interpolation)
    tensor = resized.astype(np.float32).transpose(2, 0, 1) / 255.0
    padded = np.zeros((3, REC_HEIGHT, max(new_width, REC_MIN_WIDTH)), np.float32)
    padded[:, :, :new_width] = (tensor - 0.5) / 0.5
    return padded
