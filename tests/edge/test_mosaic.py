"""Packing vehicle crops into one detector input and mapping detections back."""

from __future__ import annotations

import numpy as np
import pytest

from edge.engine.detections import Detection
from edge.engine.mosaic import pack, unpack


def test_regions_fill_cells_and_detections_map_back_to_frame_pixels() -> None:
    frame = np.zeros((400, 800, 3), np.uint8)
    frame[100:200, 100:300] = 255  # region 0: 200 x 100
    image, cells = pack(frame, [(100, 100, 300, 200), (500, 0, 660, 320)])
    assert image.shape == (640, 640, 3)
    assert cells[0].scale == pytest.approx(1.6) and (cells[1].x, cells[1].y) == (320, 0)
    assert image[10, 10].tolist() == [255, 255, 255]
    found = [
        Detection((32.0, 16.0, 64.0, 32.0), 0.9, "plate"),  # cell 0
        Detection((330.0, 10.0, 350.0, 20.0), 0.8, "plate"),  # cell 1 (scale 1.0)
    ]
    (i0, d0), (i1, d1) = unpack(found, cells)
    assert (i0, i1) == (0, 1)
    assert d0.box == pytest.approx((120.0, 110.0, 140.0, 120.0))
    assert d1.box == pytest.approx((510.0, 10.0, 530.0, 20.0))


@pytest.mark.parametrize(
    ("count", "shape"),
    [(1, (320, 320, 3)), (2, (320, 640, 3)), (3, (640, 640, 3)), (4, (640, 640, 3))],
)
def test_a_compact_mosaic_leaves_out_the_rows_and_columns_no_region_needs(
    count: int, shape: tuple[int, int, int]
) -> None:
    frame = np.zeros((400, 800, 3), np.uint8)
    image, cells = pack(frame, [(0, 0, 100, 100)] * count, compact=True)
    assert image.shape == shape
    assert [(c.x, c.y) for c in cells] == [(0, 0), (320, 0), (0, 320), (320, 320)][:count]


def test_detections_in_a_compact_strip_map_back_to_their_vehicle() -> None:
    frame = np.zeros((400, 800, 3), np.uint8)
    image, cells = pack(frame, [(0, 0, 160, 160), (400, 200, 560, 360)], compact=True)
    assert image.shape == (320, 640, 3)
    ((index, found),) = unpack([Detection((340.0, 100.0, 380.0, 120.0), 0.7, "plate")], cells)
    assert index == 1
    assert found.box == pytest.approx((410.0, 250.0, 430.0, 260.0))


def test_too_many_regions_or_one_outside_the_frame_is_refused() -> None:
    frame = np.zeros((100, 100, 3), np.uint8)
    with pytest.raises(ValueError, match="regions must number 1 to 4"):
        pack(frame, [(0, 0, 10, 10)] * 5)
    with pytest.raises(ValueError, match="outside the frame"):
        pack(frame, [(200, 200, 300, 300)])
