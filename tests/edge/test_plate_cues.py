"""Cues read from pixels: the EU country band, two-line split rows and vehicle colours."""

from __future__ import annotations

import cv2
import numpy as np

from edge.engine.bands import band_width, cut_country_band
from edge.engine.colour import vehicle_colour
from edge.engine.lines import line_splits


def _plate(lines: list[str], band: bool = False, width: int = 240) -> np.ndarray:
    height = 60 * len(lines) if len(lines) > 1 else 56
    plate = np.full((height, width, 3), 235, np.uint8)
    if band:
        plate[:, : width // 10] = (160, 60, 0)  # BGR: the EU band's blue
        cv2.putText(plate, "D", (4, height - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1)
    for row, text in enumerate(lines):
        y = 45 + row * 60
        cv2.putText(plate, text, (width // 8, y), cv2.FONT_HERSHEY_SIMPLEX, 1.3, (0, 0, 0), 3)
    return plate


def test_a_blue_band_at_the_left_edge_is_measured_and_cut() -> None:
    banded = _plate(["MPE3389"], band=True)
    assert 0.08 * 240 <= band_width(banded) <= 0.12 * 240
    assert cut_country_band(banded).shape[1] == 240 - band_width(banded)


def test_a_band_behind_some_background_or_slanted_is_found_row_by_row() -> None:
    banded = _plate(["MPE3389"], band=True)
    # a loose box: 30 columns of grey background before the plate
    loose = np.concatenate([np.full((56, 30, 3), 90, np.uint8), banded], axis=1)
    assert 30 + 0.08 * 240 <= band_width(loose) <= 30 + 0.12 * 240
    # a turned plate: each row of the band's edge a column further right than the last
    slanted = np.full_like(banded, 235)
    for row in range(56):
        slanted[row, : 20 + row // 4] = (160, 60, 0)
    assert 20 + 14 // 4 <= band_width(slanted) <= 20 + 42 // 4


def test_plates_without_a_band_or_blue_everywhere_are_left_alone() -> None:
    assert band_width(_plate(["MPE3389"])) == 0
    blue = np.full((56, 240, 3), (160, 60, 0), np.uint8)  # a blue plate is not a band
    assert band_width(blue) == 0
    # yellow characters on a blue ground (older California plates): each row's blue run
    # stops at the first character, as wide as a band, but the ground after it is blue too
    cv2.putText(blue, "1KCM356", (22, 45), cv2.FONT_HERSHEY_SIMPLEX, 1.3, (40, 200, 230), 3)
    assert band_width(blue) == 0
    assert cut_country_band(np.zeros((5, 5, 3), np.uint8)).shape == (5, 5, 3)


def test_a_blue_character_at_the_left_edge_is_no_band() -> None:
    # Blue text on a white plate (Californian plates since 1987): the slanting stroke of a
    # 2 at the left makes each middle row's blue run as wide as a band, but it fills only
    # half of the columns a band would.
    plate = np.full((56, 240, 3), 235, np.uint8)
    for row in range(56):
        start = row * 48 // 56
        plate[row, start : start + 12] = (160, 60, 0)
    assert band_width(plate) == 0


def test_two_line_plates_get_split_rows_near_their_gap() -> None:
    plate = _plate(["60B6", "15952"], width=200)
    splits = line_splits(plate)
    assert 1 <= len(splits) <= 2
    assert any(45 <= row <= 75 for row in splits), splits
    assert line_splits(np.zeros((6, 40, 3), np.uint8)) == []


def test_vehicle_colours_are_named_from_the_body() -> None:
    frame = np.zeros((200, 600, 3), np.uint8)
    frame[:, :200] = (30, 30, 200)  # red (BGR)
    frame[:, 200:400] = (245, 245, 245)  # white
    frame[:, 400:] = (15, 15, 15)  # black
    assert vehicle_colour(frame, (0, 0, 200, 200)) == "red"
    assert vehicle_colour(frame, (200, 0, 400, 200)) == "white"
    assert vehicle_colour(frame, (400, 0, 600, 200)) == "black"
    assert vehicle_colour(frame, (0, 0, 3, 3)) is None


def test_paint_without_a_hue_is_named_by_its_brightness_and_sky_reflections_do_not_count() -> None:
    frame = np.zeros((200, 600, 3), np.uint8)
    frame[:, :200] = 85  # black paint in daylight reads as dark grey
    frame[:, 200:400] = 140  # silver
    frame[:, 400:] = 70
    frame[::12, 400:] = (120, 60, 40)  # thin streaks of sky reflected on black paint
    assert vehicle_colour(frame, (0, 0, 200, 200)) == "black"
    assert vehicle_colour(frame, (200, 0, 400, 200)) == "grey"
    assert vehicle_colour(frame, (400, 0, 600, 200)) == "black"
