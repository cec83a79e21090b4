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
        usable = [cut_country_band(c) for c in crops if c.shape[0] >= 4 and c.shape[1] >= 4]
        if not usable:
            return []
        one_line = self._decode([[(c, self.config.stretch)] for c in usable], formats)
        squarish = [
            c
            for c in usable[: self.config.split_crops]
            if c.shape[1] / c.shape[0] < self.config.two_line_aspect
        ]
        if squarish and not any(self._settled(c) for c in one_line):
            # Two-line hypotheses cost two recognitions per split: only when no one-line
            # reading already fits a precise layout with confidence.
            groups = [
                [(crop[:split], 1.0), (crop[split:], 1.0)]
                for crop in squarish
                for split in line_splits(crop)
            ]
            one_line += self._decode(groups, formats)
        return [
            c
            for c in one_line
            if len(c.text) >= self.config.min_chars and c.confidence >= self.config.min_score
        ]

    def _settled(self, read: TextRead) -> bool:
        return read.valid and read.precise and read.confidence >= self.config.settle_confidence

    def _decode(
        self, groups: list[list[tuple[Image, float]]], formats: PlateFormats
    ) -> list[TextRead]:
        """One candidate per group of line images (top first), recognised in one batch."""
        jobs = [job for group in groups for job in group]
        if not jobs:
            return []
        lines = self.log_probs(jobs)
        found, at = [], 0
        for group in groups:
            read = decode_plate(lines[at : at + len(group)], self.alphabet.charset, formats)
            at += len(group)
            if read is not None:
                found.append(read)
        return found

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
