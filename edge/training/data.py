"""Training and validation data for the plate recognizer: synthetic plates made on the fly
by worker processes, and real plate crops from labelled folders.

Synthetic batches are deterministic per seed and chunk number, so a run can be repeated.
Real crops come from folders in the evaluation format (:mod:`edge.evaluation.labels`: ``labels.tsv``
with a box per plate): each labelled box is cut out with a small margin, as the engine does.
"""

from __future__ import annotations

import multiprocessing
import random
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.engine.slots_input import SlotSpec


@dataclass(frozen=True)
class Batch:
    """Model inputs (N, 1, height, width) float32 and labels (N, slots) int32."""

    images: np.ndarray
    labels: np.ndarray
    texts: tuple[str, ...]
    lines: tuple[int, ...]


def synthetic_batch(
    seed: int, size: int, spec: SlotSpec, regions: tuple[str, ...], two_line_share: float
) -> Batch:
    """``size`` synthetic plates made from ``seed`` (same seed, same plates)."""
    from edge.training.augment import camera_crop

    synth = _synth(regions, two_line_share)
    rng = random.Random(seed)
    crops: list[np.ndarray] = []
    texts: list[str] = []
    lines: list[int] = []
    while len(texts) < size:
        plate = synth.sample(rng)
        if len(plate.text) > spec.slots:
            continue
        crops.append(camera_crop(plate.image, rng))
        texts.append(plate.text)
        lines.append(plate.lines)
    labels = np.stack([spec.encode(t) for t in texts])
    return Batch(spec.to_input(crops), labels, tuple(texts), tuple(lines))


_SYNTHS: dict[tuple[tuple[str, ...], float], object] = {}


def _synth(regions: tuple[str, ...], two_line_share: float):  # type: ignore[no-untyped-def]
    """One renderer per worker process (fonts and templates are loaded once)."""
    from edge.training.synth import PlateSynth

    key = (regions, two_line_share)
    if key not in _SYNTHS:
        _SYNTHS[key] = PlateSynth(regions, two_line_share=two_line_share)
    return _SYNTHS[key]


def synthetic_stream(
    seed: int,
    batch: int,
    spec: SlotSpec,
    regions: Sequence[str],
    two_line_share: float,
    workers: int,
) -> Iterator[Batch]:
    """Endless synthetic batches, made ``workers`` at a time ahead of the trainer."""
    chunk = 0
    args = (spec, tuple(regions), two_line_share)
    if workers <= 0:
        while True:
            yield synthetic_batch(seed * 1_000_003 + chunk, batch, *args)
            chunk += 1
    # spawn, not fork: the trainer's JAX runtime is multithreaded and must not be forked
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending = [
            pool.submit(synthetic_batch, seed * 1_000_003 + k, batch, *args)
            for k in range(2 * workers)
        ]
        chunk = len(pending)
        while True:
            done = pending.pop(0)
            pending.append(pool.submit(synthetic_batch, seed * 1_000_003 + chunk, batch, *args))
            chunk += 1
            yield done.result()


def real_crops(folder: Path, spec: SlotSpec, margin: float = 0.08) -> Batch:
    """The labelled plates of ``folder`` that have a box and fit the slots, cut out."""
    import cv2

    from edge.evaluation.labels import load_set

    crops, texts, lines = [], [], []
    for name, labels in sorted(load_set(folder).items()):
        image = cv2.imread(str(folder / name))
        if image is None:
            continue
        for label in labels:
            text = label.text
            if label.box is None or not text or len(text) > spec.slots:
                continue
            if set(text) - set(spec.alphabet):
                continue
            left, top, right, bottom = label.box
            dx, dy = (right - left) * margin, (bottom - top) * margin
            x1, y1 = int(max(0, left - dx)), int(max(0, top - dy))
            x2, y2 = int(min(image.shape[1], right + dx)), int(min(image.shape[0], bottom + dy))
            if x2 - x1 < 4 or y2 - y1 < 4:
                continue
            crops.append(image[y1:y2, x1:x2])
            texts.append(text)
            lines.append(label.lines or 1)
    if not crops:
        raise ValueError(f"{folder} has no labelled plate box that the recognizer can learn")
    labels_array = np.stack([spec.encode(t) for t in texts])
    return Batch(spec.to_input(crops), labels_array, tuple(texts), tuple(lines))
