"""Gray-world balance of the plate detector's input (edge.engine.balance)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.config import YoloPlates
from edge.engine.balance import MAX_GAIN, balance_letterboxed, gray_world
from edge.engine.detections import Detections
from edge.engine.geometry import LETTERBOX_FILL, letterbox
from edge.engine.plates import YoloPlateLocator
from edge.manifest import ModelStore


def _scene(seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(40, 200, (90, 160, 3), dtype=np.uint8)


def test_a_magenta_cast_is_taken_out_and_a_neutral_frame_kept() -> None:
    neutral = _scene()
    # the dashcam's night cast: blue and red up, green down
    tint = np.array([1.3, 0.6, 1.4])
    cast = np.clip(neutral * tint, 0, 255).astype(np.uint8)
    means = gray_world(cast).reshape(-1, 3).mean(axis=0)
    assert means.max() - means.min() < 3.0
    assert cast.reshape(-1, 3).mean(axis=0).ptp() > 40.0
    # A frame without a cast comes back nearly as it was.
    kept = gray_world(neutral).astype(int) - neutral.astype(int)
    assert np.abs(kept).max() <= 3


def test_a_frame_of_one_colour_is_not_pushed_past_the_gain_bound() -> None:
    red = np.zeros((40, 40, 3), np.uint8)
    red[..., 2], red[..., 1], red[..., 0] = 200, 20, 20
    balanced = gray_world(red)
    assert balanced[0, 0, 0] == round(20 * MAX_GAIN)
    # A channel that is black everywhere leaves the frame alone.
    black_blue = red.copy()
    black_blue[..., 0] = 0
    assert np.array_equal(gray_world(black_blue), black_blue)
    with pytest.raises(ValueError, match="BGR"):
        gray_world(red[..., 0])


def test_only_the_image_part_of_a_letterboxed_input_is_balanced() -> None:
    cast = np.clip(_scene() * np.array([1.3, 0.6, 1.4]), 0, 255).astype(np.uint8)
    boxed, geometry = letterbox(cast, 640, 32)
    balance_letterboxed(boxed, geometry, cast.shape)
    top, height = round(geometry.pad_y), round(cast.shape[0] * geometry.scale)
    assert (boxed[:top] == LETTERBOX_FILL).all() and (boxed[top + height :] == LETTERBOX_FILL).all()
    means = boxed[top : top + height].reshape(-1, 3).mean(axis=0)
    assert means.max() - means.min() < 3.0


def test_the_plate_locator_reads_the_balanced_input(
    model_store: ModelStore, samples_dir: Path
) -> None:
    # The real detector on a real photo under a strong cast: with the balance on, it sees
    # what it sees in the photo balanced beforehand, not what it sees in the cast photo.
    photo = cv2.imread(str(samples_dir / "alpr-two-cars.jpg"))
    assert photo is not None
    cast = np.clip(photo * np.array([1.5, 0.45, 1.6]), 0, 255).astype(np.uint8)
    model = model_store.verified("plates")
    assert YoloPlates().white_balance, "on by default"
    on = YoloPlateLocator(model, YoloPlates(min_score=0.05))
    off = YoloPlateLocator(model, YoloPlates(min_score=0.05, white_balance=False))
    balanced = _scores(on.locate(cast))
    assert balanced, "the detector found no plate in the balanced photo"
    assert balanced != _scores(off.locate(cast))
    # Balancing the 640-pixel input or the whole photo differs by resampling only.
    beforehand = _scores(off.locate(gray_world(cast)))
    assert len(balanced) == len(beforehand)
    assert all(abs(a - b) < 0.05 for a, b in zip(balanced, beforehand, strict=True))


def _scores(found: Detections) -> list[float]:
    return sorted(round(d.score, 3) for d in found)
