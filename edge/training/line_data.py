"""Text lines for fine-tuning a line recognizer (PP-OCR's) on plates, cut as the engine
reads them.

The engine (:class:`edge.engine.ocr.PpOcrReader`) reads a plate crop, less its EU band, as one
line stretched by ``stretch`` (plate fonts are narrower than the text PP-OCR learnt), and a
squarish plate also as two lines split at the rows :func:`edge.engine.lines.line_splits`
finds, unstretched. The same is done here to synthetic plates degraded as a camera would
(:mod:`edge.training.augment`): one-line plates give one line, two-line plates their two
lines at the split the engine tries first. A split off the true gap gives a line with a
sliver of the other; the engine meets those too.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edge.engine.geometry import Image

#: Line widths of a batch are rounded up to a multiple of this (few shapes to compile).
WIDTH_BUCKET = 64
#: Lines wider than this (at height 48) are left out of training batches.
MAX_WIDTH = 512
#: Label length of every batch (a plate line holds at most 11 characters), so that batches
#: differ in shape only by their width.
LABEL_LENGTH = 12


@dataclass(frozen=True)
class Line:
    """One line image (BGR) as the reader hands it to the recognizer, with its stretch."""

    image: Image
    stretch: float
    text: str
    #: How many lines the plate it comes from has.
    plate_lines: int


@dataclass(frozen=True)
class LineBatch:
    """Recognizer inputs (N, 3, 48, W) in [-1, 1], each line's width in pixels, its label
    (classes 1..len(charset), 0 padding) and text."""

    images: np.ndarray
    widths: np.ndarray
    labels: np.ndarray
    texts: tuple[str, ...]
    plate_lines: tuple[int, ...]


def plate_lines(plate: Image, parts: Sequence[str], stretch: float) -> list[Line]:
    """The lines the engine reads of ``plate`` (a BGR crop) whose text is ``parts``."""
    from edge.engine.bands import cut_country_band
    from edge.engine.lines import line_splits

    crop = cut_country_band(plate)
    if len(parts) == 1:
        return [Line(crop, stretch, parts[0], 1)]
    splits = line_splits(crop)
    if not splits:
        return []
    split = splits[0]
    top, bottom = crop[:split], crop[split:]
    if min(top.shape[0], bottom.shape[0]) < 4:
        return []
    return [Line(top, 1.0, parts[0], 2), Line(bottom, 1.0, parts[1], 2)]


def synthetic_lines(
    seed: int,
    size: int,
    regions: tuple[str, ...],
    two_line_share: float,
    stretch: float,
) -> list[Line]:
    """At least ``size`` lines of synthetic plates made from ``seed`` (same seed, same lines)."""
    from edge.training.augment import camera_crop
    from edge.training.data import _synth

    synth = _synth(regions, two_line_share)
    rng = random.Random(seed)
    lines: list[Line] = []
    while len(lines) < size:
        plate = synth.sample(rng)
        lines += plate_lines(camera_crop(plate.image, rng), plate.parts, stretch)
    return lines


def fits(line: Line, charset: str) -> bool:
    """Whether ``line`` goes into a training batch: no wider than ``MAX_WIDTH`` at the
    recognizer's height, and only characters of ``charset``."""
    from edge.engine.ocr import REC_HEIGHT

    height, width = line.image.shape[:2]
    scaled = np.ceil(REC_HEIGHT * line.stretch * width / max(height, 1))
    return bool(scaled <= MAX_WIDTH) and all(c in charset for c in line.text)


def training_lines(
    seed: int,
    size: int,
    regions: tuple[str, ...],
    two_line_share: float,
    stretch: float,
    charset: str,
) -> list[Line]:
    """Exactly ``size`` synthetic lines that :func:`fits` (one batch shape per width)."""
    kept: list[Line] = []
    draw = 0
    while len(kept) < size:
        lines = synthetic_lines(seed * 101 + draw, size, regions, two_line_share, stretch)
        kept += [line for line in lines if fits(line, charset)]
        draw += 1
    return kept[:size]


def to_batch(lines: Sequence[Line], charset: str, pad_width: int) -> LineBatch:
    """``lines`` as one recognizer batch (lines wider than ``MAX_WIDTH`` are dropped)."""
    from edge.engine.ocr import _to_tensor

    kept = [line for line in lines if fits(line, charset)]
    tensors = [_to_tensor(line.image, line.stretch, pad_width) for line in kept]
    if not kept:
        raise ValueError("no line fits the recognizer's training width and charset")
    width = -(-max(t.shape[2] for t in tensors) // WIDTH_BUCKET) * WIDTH_BUCKET
    images = np.zeros((len(tensors), 3, tensors[0].shape[1], width), np.float32)
    for row, tensor in enumerate(tensors):
        images[row, :, :, : tensor.shape[2]] = tensor
    labels = np.zeros((len(kept), LABEL_LENGTH), np.int32)
    for row, line in enumerate(kept):
        text = line.text[:LABEL_LENGTH]
        labels[row, : len(text)] = [charset.index(c) + 1 for c in text]
    return LineBatch(
        images,
        np.asarray([t.shape[2] for t in tensors], np.int32),
        labels,
        tuple(line.text for line in kept),
        tuple(line.plate_lines for line in kept),
    )
