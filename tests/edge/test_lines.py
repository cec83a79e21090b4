"""Finding the gap between two text lines."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.engine.lines import find_line_split


def _plate(lines: list[str], height: int = 120, width: int = 160) -> np.ndarray:
    image = np.full((height, width), 230, np.uint8)
    step = height // (len(lines) + 1)
    for index, text in enumerate(lines, start=1):
        y = step * index + 15
        cv2.putText(image, text, (10, y), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (0,), 3)
    return image


def test_the_split_lies_between_the_two_lines() -> None:
    split = find_line_split(_plate(["MH12", "5901"]))
    assert split is not None
    assert 45 <= split <= 70


def test_one_line_gives_no_split() -> None:
    assert find_line_split(_plate(["MH125901"])) is None


def test_blank_and_tiny_crops_give_no_split() -> None:
    assert find_line_split(np.full((60, 100), 200, np.uint8)) is None
    assert find_line_split(np.zeros((5, 5), np.uint8)) is None


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="2-D image"):
        find_line_split(np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(ValueError, match="low < high"):
        find_line_split(np.zeros((10, 10), np.uint8), low=0.7, high=0.3)


def test_quiet_sets_how_quiet_the_gap_must_be() -> None:
    plate = _plate(["MH12", "5901"])
    # faint stripes between the lines: about 0.6 of the text rows' energy
    plate[56:70, :72] = np.where(np.arange(72) % 16 < 8, 0, 230)
    assert find_line_split(plate) is None  # the default asks for half or less
    split = find_line_split(plate, quiet=0.7)
    assert split is not None and 50 <= split <= 75
