"""The engine's orchestration: plate ownership, duplicates, voting and format flags."""

from __future__ import annotations

import numpy as np
import pytest

from edge.config import Formats
from edge.engine.ocr import TextRead
from edge.engine.pipeline import Engine, Vehicle
from edge.formats import PlateFormats
from tests.edge.fakes import FakePlates, FakeReader, FakeVehicles


def _frame(grey: int = 100) -> np.ndarray:
    return np.full((400, 600, 3), grey, np.uint8)


def _engine(
    cars: list, plates: list, reads: list[TextRead], search: str = "frame", region: str = "cz"
) -> Engine:
    return Engine(
        FakeVehicles(cars),
        FakePlates(plates),
        FakeReader({100: reads}),
        PlateFormats(Formats(), region),
        search=search,
    )


def test_a_plate_belongs_to_the_vehicle_around_it() -> None:
    engine = _engine(
        cars=[((0, 0, 300, 300), 0.9), ((300, 0, 600, 300), 0.8)],
        plates=[((350, 200, 450, 230), 0.7)],
        reads=[TextRead("5AU5341", 0.9, 1)],
    )
    (plate,) = engine.read(_frame()).plates
    assert plate.vehicle == Vehicle("car", (300.0, 0.0, 600.0, 300.0))
    assert plate.text == "5AU5341"
    assert plate.confidence == pytest.approx(0.63, abs=1e-3)
    assert (plate.valid, plate.format) == (True, "cz:0")


def test_a_close_up_without_any_vehicle_is_still_read() -> None:
    engine = _engine(cars=[], plates=[((10, 10, 590, 390), 0.8)], reads=[TextRead("5AU5341", 1, 1)])
    (plate,) = engine.read(_frame()).plates
    assert plate.vehicle is None


def test_reads_that_fit_no_format_are_kept_and_flagged() -> None:
    engine = _engine(cars=[], plates=[((10, 10, 200, 60), 0.8)], reads=[TextRead("PASSATCC", 1, 1)])
    (plate,) = engine.read(_frame()).plates
    assert (plate.text, plate.valid, plate.format) == ("PASSATCC", False, None)


def test_crops_vote_and_a_valid_vote_wins() -> None:
    reads = [TextRead("5AU5341", 0.9, 1), TextRead("5AU5341", 0.8, 1), TextRead("5AV5341", 0.99, 1)]
    engine = _engine(cars=[], plates=[((10, 10, 200, 60), 0.5)], reads=reads)
    assert [p.text for p in engine.read(_frame()).plates] == ["5AU5341"]


def test_an_invalid_vote_gives_way_to_a_read_that_fits_a_format() -> None:
    reads = [
        TextRead("5AU53411", 0.9, 1),
        TextRead("5AU53411", 0.9, 1),
        TextRead("5AU5341", 0.5, 1),
    ]
    engine = _engine(cars=[], plates=[((10, 10, 200, 60), 0.5)], reads=reads)
    assert [p.text for p in engine.read(_frame()).plates] == ["5AU5341"]


def test_unreadable_plates_are_left_out() -> None:
    engine = _engine(cars=[], plates=[((10, 10, 200, 60), 0.5)], reads=[])
    assert engine.read(_frame()).plates == []


def test_searching_vehicles_finds_each_plate_once_with_its_vehicle() -> None:
    engine = _engine(
        cars=[((0, 0, 300, 300), 0.9)],
        plates=[((50, 200, 150, 230), 0.7)],
        reads=[TextRead("5AU5341", 1, 1)],
        search="vehicles",
    )
    # The fake locator returns the same plate for the vehicle crop (shifted by the crop's
    # origin, which is 0 here) and for the frame: the duplicate is dropped.
    (plate,) = engine.read(_frame()).plates
    assert plate.vehicle is not None
    assert isinstance(engine.plates, FakePlates) and engine.plates.calls == 2


def test_timings_cover_every_stage() -> None:
    engine = _engine(cars=[], plates=[], reads=[])
    assert set(engine.read(_frame()).timings) == {"vehicles", "plates", "ocr", "frame"}


def test_frames_that_are_not_bgr_images_are_refused() -> None:
    engine = _engine(cars=[], plates=[], reads=[])
    with pytest.raises(ValueError, match=r"shape \(H, W, 3\)"):
        engine.read(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="search must be"):
        _engine(cars=[], plates=[], reads=[], search="everywhere")


def test_of_a_plate_and_its_first_word_boxed_apart_the_whole_plate_is_kept() -> None:
    engine = _engine(
        cars=[],
        plates=[((13, 26, 155, 61), 0.80), ((17, 25, 72, 60), 0.85)],
        reads=[TextRead("5AU5341", 1, 1)],
    )
    (plate,) = engine.read(_frame()).plates
    assert plate.box == (13.0, 26.0, 155.0, 61.0)


def test_a_part_scoring_far_above_the_larger_box_keeps_its_place() -> None:
    engine = _engine(
        cars=[],
        plates=[((13, 26, 155, 61), 0.30), ((17, 25, 72, 60), 0.85)],
        reads=[TextRead("5AU5341", 1, 1)],
    )
    (plate,) = engine.read(_frame()).plates
    assert plate.box == (17.0, 25.0, 72.0, 60.0)
