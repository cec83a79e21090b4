"""Plate text recognition: PP-OCR recognition on the plate crop, read as one line and, for
squarish plates, as two lines split at a few candidate rows; every reading is decoded against
the plate layouts and the engine picks among them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edge.config import PpOcr
from edge.engine.bands import cut_country_band
from edge.engine.ctc import PlateAlphabet
from edge.engine.decoder import TextRead, decode_plate
from edge.engine.geometry import Image
from edge.engine.lines import line_splits
from edge.engine.runtime import open_session
from edge.formats import PlateFormats

__all__ = ["PlateReader", "PpOcrReader", "TextRead"]

#: PP-OCR recognition input height and the narrowest padded width it was trained on.
REC_HEIGHT = 48
REC_MIN_WIDTH = 320
REC_MAX_WIDTH = 1280


class PlateReader(ABC):
    """Reads the text of one plate crop."""

    @abstractmethod
    def read(self, crops: Sequence[Image], formats: PlateFormats) -> list[TextRead]:
        """Candidate texts from crops of one plate (as one line and, if it may be, two),
        decoded against the layouts of ``formats``."""


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

    def read(self, crops: Sequence[Image], formats: PlateFormats) -> list[TextRead]:
        jobs: list[tuple[Image, float]] = []  # (image, horizontal stretch) per text line
        groups: list[tuple[int, ...]] = []  # the jobs whose lines make up one candidate
        for number, crop in enumerate(crops):
            height, width = crop.shape[:2]
            if height < 4 or width < 4:
                continue
            crop = cut_country_band(crop)
            groups.append((len(jobs),))
            jobs.append((crop, self.config.stretch))
            if width / height < self.config.two_line_aspect and number < self.config.split_crops:
                for split in line_splits(crop):
                    groups.append((len(jobs), len(jobs) + 1))
                    jobs += [(crop[:split], 1.0), (crop[split:], 1.0)]
        if not jobs:
            return []
        lines = self.log_probs(jobs)
        charset = self.alphabet.charset
        candidates = [decode_plate([lines[i] for i in group], charset, formats) for group in groups]
        return [
            c
            for c in candidates
            if c is not None
            and len(c.text) >= self.config.min_chars
            and c.confidence >= self.config.min_score
        ]

    def log_probs(self, lines: Sequence[tuple[Image, float]]) -> list[np.ndarray]:
        """Per-step plate-character log-probabilities of each (image, horizontal stretch)
        read as one line of text, in one batch."""
        tensors = [_to_tensor(image, stretch) for image, stretch in lines]
        width = max(t.shape[2] for t in tensors)
        batch = np.zeros((len(tensors), 3, REC_HEIGHT, width), np.float32)
        for row, tensor in enumerate(tensors):
            batch[row, :, :, : tensor.shape[2]] = tensor
        (output,) = self.session.run(None, {self.input_name: batch})
        steps = [_steps(t.shape[2], width, output.shape[1]) for t in tensors]
        return [
            self.alphabet.plate_log_probs(sequence[:n])
            for sequence, n in zip(output, steps, strict=True)
        ]


def _steps(width: int, batch_width: int, batch_steps: int) -> int:
    """The output steps that cover a line's own width (the rest is padding of the batch)."""
    return max(1, min(batch_steps, int(np.ceil(batch_steps * width / batch_width))))


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
