"""The reader's stages: which plates are read again, and which candidates survive.

The recognizer's part (``_decode``: line images to decoded candidates) is replaced by a
table of readings per line-image shape, so these tests are about the staging alone; the
real recognizer on real photos is in ``test_real_models``.
"""

from __future__ import annotations

import numpy as np

from edge.config import Formats, PpOcr
from edge.engine.decoder import TextRead
from edge.engine.ocr import PpOcrReader, whole_plates
from edge.formats import PlateFormats


def _settled(read: TextRead) -> bool:
    return read.valid and read.precise and read.confidence >= 0.9


def test_a_one_line_reading_held_whole_by_a_settled_two_line_reading_is_dropped() -> None:
    partial = TextRead("3470", 0.97, 1, True, "xx:0", True)
    whole = TextRead("97J3470", 0.95, 2, True, "vn:5", True)
    other = TextRead("97J3478", 0.96, 1, True, "vn:0", True)  # settled, not held whole
    assert whole_plates([partial, whole, other], _settled) == [whole, other]


def test_a_shorter_reading_of_one_line_but_for_one_character_is_dropped_too() -> None:
    # 59-S2 / 278.31 at 150 pixels: its text rows read the bottom line, the open 2 as L
    bottom = TextRead("L7831", 0.976, 1, True, "id:0", True)
    whole = TextRead("59S227831", 0.948, 2, True, "vn:3", True)
    assert whole_plates([bottom, whole], _settled) == [whole]
    # two characters aside, or as long as the plate, it is another plate's reading
    kept = [
        TextRead("LZ831", 0.97, 1, True, "id:0", True),
        TextRead("59S227832", 0.95, 1, True, "xx:0", True),
    ]
    assert whole_plates([*kept, whole], _settled) == [*kept, whole]


def test_a_settled_two_line_reading_outranks_unsettled_one_line_readings() -> None:
    # one-line readings of a two-line plate mix both lines; read from several crops they
    # would outvote the two-line reading
    mixed = [TextRead("222", 0.54, 1, True, "xx:1", False), TextRead("222", 0.49, 1, True)]
    whole = TextRead("22L985042", 1.0, 2, True, "vn:3", True)
    settled_other = TextRead("ABC123", 0.95, 1, True, "xx:0", True)
    assert whole_plates([*mixed, whole, settled_other], _settled) == [whole, settled_other]


def test_an_unsettled_two_line_reading_removes_nothing() -> None:
    partial = TextRead("WC5327", 0.95, 1, True, "de:0", True)
    junk = TextRead("OTEWC5327", 0.78, 2, True, "in:1", True)
    assert whole_plates([partial, junk], _settled) == [partial, junk]


def test_on_a_square_plate_a_precise_two_line_reading_outranks_the_lines_it_holds() -> None:
    # no reading settled: the one-line readings are each one line of the plate
    bottom = [TextRead("2940", 0.85, 1, True, "xx:1", True), TextRead("294", 0.6, 1, True)]
    whole = TextRead("80SJ2940", 0.88, 2, True, "vn:4", True)
    other = TextRead("8052940", 0.7, 1, True, "xx:1", True)  # precise, not held whole: kept
    vague = TextRead("4175", 0.97, 1, True, "us:5", False)  # fits only a catch-all: dropped
    assert whole_plates([*bottom, whole, other, vague], _settled, square=True) == [whole, other]
    # on a wide plate, or beside a settled reading, nothing changes
    assert whole_plates([*bottom, whole], _settled) == [*bottom, whole]
    settled = TextRead("AB1234", 0.95, 1, True, "xx:0", True)
    assert whole_plates([*bottom, whole, settled], _settled, square=True) == [
        *bottom,
        whole,
        settled,
    ]
    # an imprecise two-line reading (a catch-all layout) outranks nothing
    vague = TextRead("80SJ2940", 0.88, 2, True, "xx:2", False)
    assert whole_plates([*bottom, vague], _settled, square=True) == [*bottom, vague]


class _Table(PpOcrReader):
    """A PpOcrReader whose recognition is a table: a group of line images gives the reading
    listed for its first image's width (one line) or its line count (two lines)."""

    def __init__(
        self, one_line: dict[int, TextRead], two_line: TextRead | None, gap_quiet: float = 0.7
    ) -> None:
        self.config = PpOcr(gap_quiet=gap_quiet)
        self.one_line, self.two_line = one_line, two_line
        self.groups: list[int] = []
        #: The height of each one-line group's image, in the order read.
        self.heights: list[int] = []

    def _decode(self, plates, formats, aspects):  # type: ignore[no-untyped-def,override]
        found = []
        for groups in plates:
            self.groups += [len(g) for g in groups]
            self.heights += [g[0][0].shape[0] for g in groups if len(g) == 1]
            found.append(
                [self.two_line if len(g) == 2 else self.one_line[g[0][0].shape[1]] for g in groups]
            )
        return found


def _plate(height: int, width: int) -> np.ndarray:
    image = np.full((height, width, 3), 200, np.uint8)
    image[height // 5 : height // 2 - 2, width // 4 : 3 * width // 4] = 20  # top line
    image[height // 2 + 2 : 4 * height // 5, width // 8 : 7 * width // 8] = 20  # bottom line
    return image


def _one_line_plate(height: int, width: int) -> np.ndarray:
    image = np.full((height, width, 3), 200, np.uint8)
    image[height // 4 : 3 * height // 4, width // 8 : 7 * width // 8] = 20
    return image


FORMATS = PlateFormats(Formats())


def test_a_settled_wide_plate_costs_one_recognition() -> None:
    reader = _Table({200: TextRead("AB123CD", 0.99, 1, True, "it:0", True)}, None)
    (found,) = reader.read_many([[_plate(50, 200)]], FORMATS)
    assert [c.text for c in found] == ["AB123CD"]
    assert reader.groups == [1]


def test_a_square_plate_is_read_as_two_lines_although_one_line_settled() -> None:
    partial = TextRead("3470", 0.97, 1, True, "xx:0", True)
    whole = TextRead("97J3470", 0.96, 2, True, "vn:5", True)
    reader = _Table({60: partial}, whole)
    (found,) = reader.read_many([[_plate(50, 60)]], FORMATS)
    assert reader.groups[0] == 1 and 2 in reader.groups  # stage 2 skipped, splits read
    assert [c.text for c in found] == ["97J3470"] * (len(reader.groups) - 1)


def test_after_a_settled_one_line_reading_only_settled_two_line_readings_are_kept() -> None:
    settled = TextRead("WC5327", 0.95, 1, True, "de:0", True)
    junk = TextRead("OTEWC5327", 0.78, 2, True, "in:1", True)
    reader = _Table({85: settled}, junk)
    (found,) = reader.read_many([[_plate(50, 85)]], FORMATS)
    assert 2 in reader.groups
    assert [c.text for c in found] == ["WC5327"]


def test_where_no_two_line_layout_is_enabled_a_split_counts_only_as_one_line() -> None:
    # A square plate is still read at split rows (a split may hold a state name over the
    # registration, read as that line alone: see decode_plate), but a two-line reading,
    # which no enabled layout can take, is no candidate.
    junk = TextRead("LA1EE", 0.95, 2, False)
    reader = _Table({60: TextRead("ABC1234", 0.8, 1, True, "us:0", True)}, junk)
    (found,) = reader.read_many([[_plate(50, 60)]], PlateFormats(Formats(region="us")))
    assert reader.groups[0] == 1 and 2 in reader.groups
    assert {c.text for c in found} == {"ABC1234"}


def test_square_plates_are_not_reread_when_square_aspect_is_off() -> None:
    # 7ABC123 (California) fits no line of a two-line layout: it cannot be half a plate
    reader = _Table({60: TextRead("7ABC123", 0.97, 1, True, "us:0", True)}, None)
    reader.config = PpOcr(square_aspect=0.5, gap_quiet=0)
    (found,) = reader.read_many([[_plate(50, 60)]], FORMATS)
    assert reader.groups == [1] and [c.text for c in found] == ["7ABC123"]


def test_a_plate_narrower_than_two_lines_with_a_gap_between_lines_is_read_as_square() -> None:
    # 50x110: wider than square_aspect (1.8), narrower than two_line_aspect (2.6); the
    # one-line reading mixes both lines and settles, but the row profile shows the gap
    mixed = TextRead("HR2418UX", 0.97, 1, True, "xx:0", True)
    whole = TextRead("HR24AUX1418", 0.95, 2, True, "in:1", True)
    reader = _Table({110: mixed}, whole)
    (found,) = reader.read_many([[_plate(50, 110)]], FORMATS)
    assert reader.groups[0] == 1 and 2 in reader.groups
    assert "HR24AUX1418" in [c.text for c in found]
    # one line of text, no gap: the settled reading costs one recognition
    reader = _Table({110: mixed}, whole)
    (found,) = reader.read_many([[_one_line_plate(50, 110)]], FORMATS)
    assert reader.groups == [1] and [c.text for c in found] == ["HR2418UX"]
    # gap_quiet 0 turns the gap test off
    reader = _Table({110: mixed}, whole, gap_quiet=0)
    (found,) = reader.read_many([[_plate(50, 110)]], FORMATS)
    assert reader.groups == [1]


def test_a_settled_reading_that_may_be_half_a_plate_is_checked_by_its_split() -> None:
    # 50x110: wider than square_aspect, narrower than two_line_aspect; YCF5284 fits the
    # bottom line of an Indian two-line layout; the gap test, which would read the plate
    # as square, is off: this is about the reading alone
    half = TextRead("YCF5284", 0.97, 1, True, "in:0", True)
    whole = TextRead("JH63YCF5284", 0.95, 2, True, "in:1", True)
    reader = _Table({110: half}, whole, gap_quiet=0)
    (found,) = reader.read_many([[_plate(50, 110)]], FORMATS)
    assert reader.groups[0] == 1 and 2 in reader.groups
    assert [c.text for c in found] == ["JH63YCF5284"]
    # a settled two-line reading that does not hold the one-line reading is not taken
    other = TextRead("MH12AB3456", 0.95, 2, True, "in:1", True)
    reader = _Table({110: half}, other, gap_quiet=0)
    (found,) = reader.read_many([[_plate(50, 110)]], FORMATS)
    assert [c.text for c in found] == ["YCF5284"]
    # nor one that did not settle
    reader = _Table({110: half}, TextRead("JH63YCF5284", 0.7, 2, True, "in:1", True), 0)
    (found,) = reader.read_many([[_plate(50, 110)]], FORMATS)
    assert [c.text for c in found] == ["YCF5284"]


def test_a_settled_reading_that_cannot_be_half_a_plate_costs_one_recognition() -> None:
    reader = _Table({110: TextRead("7ABC123", 0.97, 1, True, "us:0", True)}, None)
    (found,) = reader.read_many([[_one_line_plate(50, 110)]], FORMATS)
    assert reader.groups == [1] and [c.text for c in found] == ["7ABC123"]


def test_the_other_crops_are_split_only_when_the_first_crops_split_did_not_settle() -> None:
    partial = TextRead("3470", 0.97, 1, True, "xx:0", True)
    whole = TextRead("97J3470", 0.96, 2, True, "vn:5", True)
    crops = [_plate(50, 60), _plate(54, 64), _plate(46, 58)]
    reader = _Table({60: partial, 64: partial, 58: partial}, whole)
    reader.read_many([crops], FORMATS)
    first_crop_splits = len(reader.groups) - 1
    assert reader.groups[0] == 1 and 1 <= first_crop_splits <= 2  # splits of crop 0 only
    unsure = TextRead("97J3470", 0.70, 2, True, "vn:5", True)
    reader = _Table({60: partial, 64: partial, 58: partial}, unsure)
    reader.read_many([crops], FORMATS)
    assert len(reader.groups) - 1 > first_crop_splits  # then the other crops' splits too


def test_no_crop_is_split_when_split_crops_is_zero() -> None:
    reader = _Table({60: TextRead("3470", 0.6, 1, True, "xx:0", True)}, None)
    reader.config = PpOcr(split_crops=0)
    reader.read_many([[_plate(50, 60)]], FORMATS)
    assert 2 not in reader.groups


def test_the_lines_of_a_split_reach_past_the_split_row() -> None:
    reader = _Table({}, None)
    reader.config = PpOcr(split_overlap=0.04)
    crop = _plate(50, 60)
    pairs = reader._splits([crop])
    assert pairs
    for (top, _), (bottom, _) in pairs:
        assert top.shape[0] + bottom.shape[0] == 50 + 2 * 2  # 4% of 50 rows each way
    reader.config = PpOcr()  # the default: no overlap
    for (top, _), (bottom, _) in reader._splits([crop]):
        assert top.shape[0] + bottom.shape[0] == 50


def _us_plate(height: int, width: int) -> np.ndarray:
    """A US-shaped plate: a thin state name at the top, big characters in the middle."""
    image = np.full((height, width, 3), 220, np.uint8)
    image[height // 12 : height // 6 : 2, width // 3 : 2 * width // 3 : 3] = 90
    for x in range(width // 10, 9 * width // 10, width // 8):
        image[height // 3 : 3 * height // 4, x : x + width // 20] = 20  # character strokes
    return image


def test_a_us_shaped_plate_is_read_first_at_its_text_rows_then_whole() -> None:
    unsure = TextRead("LESD877", 0.6, 1, True, "de:0", True)
    reader = _Table({120: unsure}, None, gap_quiet=0)
    reader.config = PpOcr(gap_quiet=0, square_aspect=0.5)
    reader.read_many([[_us_plate(60, 120)]], FORMATS)
    # first the rows of the characters (without the state name), then the crop whole
    assert 20 <= reader.heights[0] < 60 and reader.heights[1] == 60
    # a long plate, or rows_aspect 0, is read whole from the first
    reader = _Table({300: unsure}, None, gap_quiet=0)
    reader.config = PpOcr(gap_quiet=0, square_aspect=0.5)
    reader.read_many([[_us_plate(60, 300)]], FORMATS)
    assert reader.heights[0] == 60
    reader = _Table({120: unsure}, None, gap_quiet=0)
    reader.config = PpOcr(gap_quiet=0, square_aspect=0.5, rows_aspect=0)
    reader.read_many([[_us_plate(60, 120)]], FORMATS)
    assert reader.heights[0] == 60


def test_an_unsettled_plate_without_a_line_gap_is_not_tried_at_split_rows() -> None:
    # 50x110, between square_aspect and two_line_aspect, one line of text: the gap test
    # saw no second line, so the unsettled reading costs two rounds, not four
    unsure = TextRead("PASSATCC", 0.8, 1, True, "us:5", False)
    whole = TextRead("PA55ATCC", 0.95, 2, True, "xx:0", True)
    reader = _Table({110: unsure}, whole)
    (found,) = reader.read_many([[_one_line_plate(50, 110)]], FORMATS)
    assert 2 not in reader.groups and {c.text for c in found} == {"PASSATCC"}
    # with the gap test off, its splits are read as before
    reader = _Table({110: unsure}, whole, gap_quiet=0)
    reader.read_many([[_one_line_plate(50, 110)]], FORMATS)
    assert 2 in reader.groups
