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


def test_text_rows_find_the_big_characters_between_smaller_writing() -> None:
    from edge.engine.lines import text_rows

    # a US plate: a small state name above, big characters in the middle, a slogan below
    plate = np.full((100, 200), 230, np.uint8)
    cv2.putText(plate, "california", (50, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0,), 1)
    cv2.putText(plate, "4ESD877", (12, 70), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (0,), 4)
    cv2.putText(plate, "dmv.ca.gov", (60, 94), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0,), 1)
    rows = text_rows(plate)
    assert rows is not None
    top, bottom = rows
    assert 20 <= top <= 40 and 70 <= bottom <= 82  # the characters span rows 36-70
    # characters that fill the crop, a blank crop and a tiny one give none
    tight = np.full((34, 160), 230, np.uint8)
    cv2.putText(tight, "AB123", (8, 31), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (0,), 3)
    assert text_rows(tight) is None
    assert text_rows(np.full((60, 120), 200, np.uint8)) is None
    assert text_rows(np.zeros((8, 40), np.uint8)) is None


def test_two_lines_of_characters_have_no_text_band() -> None:
    from edge.engine.lines import text_rows

    # a square two-line plate: either line alone is a third of the height, the band's
    # span, but it is half the plate (59-U1 over 561.41)
    assert text_rows(_plate(["59U1", "56141"], height=110, width=160)) is None
