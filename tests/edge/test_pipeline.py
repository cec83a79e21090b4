"""The engine's orchestration: plate ownership, duplicates, voting and format flags."""

from __future__ import annotations

import numpy as np
import pytest

from edge.config import Formats
from edge.engine.detections import Detections
from edge.engine.ocr import TextRead
from edge.engine.pipeline import Engine, Vehicle
from edge.engine.vehicles import COCO_CLASSES
from edge.formats import PlateFormats
from tests.edge.fakes import FakePlates, FakeReader, FakeVehicles, boxes


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
    assert plate.vehicle == Vehicle("car", (300.0, 0.0, 600.0, 300.0), "black")  # grey 100
    assert plate.text == "5AU5341"
    assert plate.confidence == pytest.approx(0.63, abs=1e-3)
    assert (plate.valid, plate.format, plate.region) == (True, "cz:0", "cz")


def test_a_close_up_without_any_vehicle_is_still_read() -> None:
    engine = _engine(cars=[], plates=[((10, 10, 590, 390), 0.8)], reads=[TextRead("5AU5341", 1, 1)])
    (plate,) = engine.read(_frame()).plates
    assert plate.vehicle is None


def test_reads_that_fit_no_format_are_kept_and_flagged() -> None:
    engine = _engine(cars=[], plates=[((10, 10, 200, 60), 0.8)], reads=[TextRead("PASSATCC", 1, 1)])
    (plate,) = engine.read(_frame()).plates
    assert (plate.text, plate.valid, plate.format, plate.region) == ("PASSATCC", False, None, None)


def test_crops_vote_and_a_valid_vote_wins() -> None:
    reads = [TextRead("5AU5341", 0.9, 1), TextRead("5AU5341", 0.8, 1), TextRead("5AV5341", 0.99, 1)]
    engine = _engine(cars=[], plates=[((10, 10, 200, 60), 0.5)], reads=reads)
    assert [p.text for p in engine.read(_frame()).plates] == ["5AU5341"]


def test_reads_that_fit_only_a_catch_all_layout_vote_with_half_their_weight() -> None:
    # 1NBF042 (California's layout) of the text rows and a split, 1NBFOL2 (the vanity
    # plates' catch-all) of the three whole crops
    precise = [TextRead("1NBF042", 0.9, 1, True, "us-ca:0", True)] * 2
    vague = [TextRead("1NBFOL2", 0.7, 1, True, "us:5", False)] * 3
    engine = _engine(cars=[], plates=[((10, 10, 200, 60), 0.5)], reads=[*precise, *vague])
    assert [p.text for p in engine.read(_frame()).plates] == ["1NBF042"]
    # among catch-all reads alone, the vote is as before
    engine = _engine(cars=[], plates=[((10, 10, 200, 60), 0.5)], reads=vague[:1])
    assert [p.text for p in engine.read(_frame()).plates] == ["1NBFOL2"]


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


class _SeesOnlyInCrops(FakePlates):
    """A locator that finds the plate only when shown a crop (as a small plate is only seen
    once its vehicle's crop is scaled up to the model's input)."""

    def locate(self, region: np.ndarray) -> Detections:
        self.calls += 1
        if region.shape[:2] == (400, 600):  # the whole frame
            return boxes([], ("plate",))
        return boxes([((40.0, 150.0, 90.0, 165.0), 0.6)], ("plate",))


def test_auto_search_looks_again_only_inside_vehicles_that_got_no_plate() -> None:
    locator = _SeesOnlyInCrops([])
    engine = Engine(
        FakeVehicles([((0, 0, 200, 200), 0.9), ((300, 0, 500, 200), 0.8)]),
        locator,
        FakeReader({100: [TextRead("5AU5341", 1, 1)]}),
        PlateFormats(Formats(), "cz"),
        search="auto",
        vehicle_searches=1,
    )
    (plate,) = engine.read(_frame()).plates
    assert locator.calls == 2  # the frame, then the surest vehicle only (the limit is one)
    assert plate.vehicle is not None and plate.vehicle.box == (0.0, 0.0, 200.0, 200.0)
    # The vehicle's crop (its box and 5% margin, clipped: 210 x 210 from the origin) filled
    # a 320-pixel mosaic cell: the plate's box comes back scaled by 210 / 320.
    assert plate.box == pytest.approx((26.2, 98.4, 59.1, 108.3), abs=0.06)


def test_auto_search_looks_at_a_large_vehicle_alone_and_small_ones_in_a_mosaic() -> None:
    # A 420-pixel vehicle in a 600-pixel frame would shrink in a 320-pixel mosaic cell below
    # its size in the frame's search: its crop is searched alone, filling the input.
    class Shapes(_SeesOnlyInCrops):
        def __init__(self) -> None:
            super().__init__([])
            self.shapes: list[tuple[int, ...]] = []

        def locate(self, region: np.ndarray) -> Detections:
            self.shapes.append(region.shape[:2])
            return super().locate(region)

    locator = Shapes()
    engine = Engine(
        FakeVehicles([((0, 0, 420, 300), 0.9), ((450, 0, 550, 100), 0.8)]),
        locator,
        FakeReader({100: [TextRead("5AU5341", 1, 1)]}),
        PlateFormats(Formats(), "cz"),
        search="auto",
    )
    plates = engine.read(_frame()).plates
    # the frame, the large vehicle's own crop (its box and 5% margin), then the mosaic of
    # the small one (a 2x2 mosaic: this locator takes square inputs only)
    assert locator.shapes == [(400, 600), (315, 441), (640, 640)]
    large = [p for p in plates if p.vehicle is not None and p.vehicle.box[2] == 420.0]
    assert [p.box for p in large] == [(40.0, 150.0, 90.0, 165.0)]


def test_a_plate_inside_a_car_box_and_a_motorcycle_box_belongs_to_the_motorcycle() -> None:
    class Mixed(FakeVehicles):
        def detect(self, frame: np.ndarray, scale: float = 1.0) -> Detections:
            car = boxes([((0, 0, 300, 300), 0.9)], COCO_CLASSES, class_id=2)
            bike = boxes([((180, 150, 320, 300), 0.7)], COCO_CLASSES, class_id=3)
            return Detections(
                np.concatenate([car.boxes, bike.boxes]),
                np.concatenate([car.scores, bike.scores]),
                np.concatenate([car.class_ids, bike.class_ids]),
                COCO_CLASSES,
            )

    engine = Engine(
        Mixed([]),
        FakePlates([((220, 250, 260, 280), 0.7)]),
        FakeReader({100: [TextRead("5AU5341", 1, 1)]}),
        PlateFormats(Formats(), "cz"),
    )
    (plate,) = engine.read(_frame()).plates
    assert plate.vehicle is not None and plate.vehicle.type == "motorcycle"


def test_the_words_of_one_plate_boxed_apart_are_read_as_one_plate() -> None:
    engine = _engine(
        cars=[],
        plates=[((10, 100, 60, 130), 0.7), ((70, 101, 120, 131), 0.6), ((400, 100, 450, 130), 0.6)],
        reads=[TextRead("5AU5341", 1, 1)],
    )
    boxes_read = sorted(p.box for p in engine.read(_frame()).plates)
    # The first two sit side by side on one row: one plate; the third is far away: its own.
    assert boxes_read == [(10.0, 100.0, 120.0, 131.0), (400.0, 100.0, 450.0, 130.0)]


def test_the_words_of_one_plate_in_overlapping_boxes_are_one_plate() -> None:
    engine = _engine(
        cars=[],
        # KCT7 and 708 of KCT 708: the second box starts 12 px inside the first.
        plates=[((10, 100, 80, 124), 0.7), ((68, 101, 110, 125), 0.6)],
        reads=[TextRead("5AU5341", 1, 1)],
    )
    assert [p.box for p in engine.read(_frame()).plates] == [(10.0, 100.0, 110.0, 125.0)]


def _plate_photo(width: int, height: int) -> np.ndarray:
    return np.full((height, width, 3), 100, np.uint8)


def test_a_photo_of_a_plate_alone_is_read_whole_when_the_detector_finds_nothing() -> None:
    engine = _engine(cars=[], plates=[], reads=[TextRead("5AU5341", 0.9, 1)])
    (plate,) = engine.read(_plate_photo(208, 60)).plates
    assert (plate.text, plate.valid, plate.box) == ("5AU5341", True, (0.0, 0.0, 208.0, 60.0))
    assert plate.vehicle is None
    assert plate.box_score == pytest.approx(0.5)


def test_a_plate_photo_read_whole_must_read_like_a_plate() -> None:
    engine = _engine(cars=[], plates=[], reads=[TextRead("PASSATCC", 0.9, 1)])
    assert engine.read(_plate_photo(208, 60)).plates == []


def _two_word_photo() -> np.ndarray:
    """A 208x60 plate photo whose left word is grey 60 and right word grey 140: read whole,
    the crop's mean is 100."""
    photo = np.full((60, 208, 3), 60, np.uint8)
    photo[:, 104:] = 140
    return photo


def test_a_plate_photo_whose_detector_boxed_one_word_is_read_whole() -> None:
    engine = Engine(
        FakeVehicles([]),
        FakePlates([((120, 10, 200, 50), 0.7)]),  # the right word only
        FakeReader({100: [TextRead("5AU5341", 0.9, 1)], 140: [TextRead("5341", 0.9, 1)]}),
        PlateFormats(Formats(), "cz"),
    )
    (plate,) = engine.read(_two_word_photo()).plates
    assert (plate.text, plate.box) == ("5AU5341", (0.0, 0.0, 208.0, 60.0))
    # A whole reading that is no plate leaves the word's reading as it was.
    engine.reader = FakeReader(
        {100: [TextRead("PASSATCC", 0.9, 1)], 140: [TextRead("5341", 0.9, 1)]}
    )
    (plate,) = engine.read(_two_word_photo()).plates
    assert (plate.text, plate.box) == ("5341", (120.0, 10.0, 200.0, 50.0))


def test_a_plate_photo_whose_detector_boxed_most_of_it_is_not_read_again() -> None:
    photo = np.full((60, 208, 3), 140, np.uint8)
    photo[:, :16] = 60  # read whole, the crop's mean would be 133
    reader = FakeReader({133: [TextRead("5AU5341", 0.9, 1)], 140: [TextRead("5341", 0.9, 1)]})
    engine = Engine(
        FakeVehicles([]),
        FakePlates([((20, 10, 200, 50), 0.7)]),  # 87% of the width
        reader,
        PlateFormats(Formats(), "cz"),
    )
    read = [(p.text, p.box) for p in engine.read(photo).plates]
    assert read == [("5341", (20.0, 10.0, 200.0, 50.0))]
    # nor is one whose plate is small in it (a scene, not a photo of a plate)
    engine.plates = FakePlates([((150, 20, 200, 36), 0.7)])
    assert [p.box for p in engine.read(photo).plates] == [(150.0, 20.0, 200.0, 36.0)]


@pytest.mark.parametrize("size", [(1920, 1080), (900, 100), (100, 300)])
def test_frames_that_are_not_plate_shaped_are_not_read_whole(size: tuple[int, int]) -> None:
    engine = _engine(cars=[], plates=[], reads=[TextRead("5AU5341", 0.9, 1)])
    assert engine.read(_plate_photo(*size)).plates == []


def test_a_frame_with_a_vehicle_is_not_read_whole() -> None:
    engine = _engine(cars=[((0, 0, 200, 60), 0.9)], plates=[], reads=[TextRead("5AU5341", 0.9, 1)])
    assert engine.read(_plate_photo(208, 60)).plates == []
