"""Letterbox, box and NMS maths."""

from __future__ import annotations

import numpy as np
import pytest

from edge.engine.geometry import (
    LETTERBOX_FILL,
    Letterbox,
    clip_boxes,
    crop,
    iou,
    letterbox,
    nms,
    overlap,
    pad_box,
)


def test_letterbox_scales_the_long_side_and_centres_the_short_one() -> None:
    image = np.zeros((100, 200, 3), np.uint8)
    boxed, geometry = letterbox(image, 64)
    assert boxed.shape == (64, 64, 3)
    assert geometry.scale == pytest.approx(0.32)
    assert geometry.pad_x == 0
    assert geometry.pad_y == 16
    assert (boxed[:16] == LETTERBOX_FILL).all()
    assert (boxed[16:48] == 0).all()
    assert (boxed[48:] == LETTERBOX_FILL).all()


def test_letterbox_round_trip_maps_model_boxes_back_to_source_pixels() -> None:
    image = np.zeros((1080, 1920, 3), np.uint8)
    _, geometry = letterbox(image, 640)
    source = np.asarray([[100.0, 200.0, 500.0, 400.0]], np.float32)
    model = source * geometry.scale + [geometry.pad_x, geometry.pad_y] * 2
    np.testing.assert_allclose(geometry.to_source(model), source, atol=1e-3)


def test_letterbox_to_a_multiple_keeps_the_aspect_and_pads_only_to_the_multiple() -> None:
    image = np.zeros((1080, 1920, 3), np.uint8)
    boxed, geometry = letterbox(image, 640, multiple=32)
    assert boxed.shape == (384, 640, 3)  # 640x360 scaled, rounded up to 384 rows
    assert geometry.scale == pytest.approx(1 / 3)
    assert (geometry.pad_x, geometry.pad_y) == (0, 12)
    assert (boxed[:12] == LETTERBOX_FILL).all() and (boxed[372:] == LETTERBOX_FILL).all()
    assert (boxed[12:372] == 0).all()
    source = np.asarray([[300.0, 90.0, 900.0, 600.0]], np.float32)
    model = source * geometry.scale + [geometry.pad_x, geometry.pad_y] * 2
    np.testing.assert_allclose(geometry.to_source(model), source, atol=1e-3)


def test_letterbox_to_a_multiple_of_a_tall_image_narrows_the_width() -> None:
    boxed, _ = letterbox(np.zeros((640, 100, 3), np.uint8), 640, multiple=32)
    assert boxed.shape == (640, 128, 3)


@pytest.mark.parametrize("multiple", [0, 7])
def test_letterbox_rejects_a_multiple_that_does_not_divide_the_size(multiple: int) -> None:
    with pytest.raises(ValueError, match="multiple must be a positive divisor"):
        letterbox(np.zeros((4, 4, 3), np.uint8), 640, multiple=multiple)


@pytest.mark.parametrize("size", [0, -5])
def test_letterbox_rejects_a_non_positive_size(size: int) -> None:
    with pytest.raises(ValueError, match="size must be positive"):
        letterbox(np.zeros((4, 4, 3), np.uint8), size)


def test_letterbox_to_source_undoes_padding_then_scale() -> None:
    geometry = Letterbox(scale=0.5, pad_x=10, pad_y=20)
    boxes = np.asarray([[10, 20, 60, 70]], np.float32)
    np.testing.assert_allclose(geometry.to_source(boxes), [[0, 0, 100, 100]])


def test_iou_of_identical_disjoint_and_half_overlapping_boxes() -> None:
    box = np.asarray([0, 0, 10, 10], np.float32)
    others = np.asarray([[0, 0, 10, 10], [20, 20, 30, 30], [5, 0, 15, 10]], np.float32)
    np.testing.assert_allclose(iou(box, others), [1.0, 0.0, 1 / 3], atol=1e-6)


def test_nms_keeps_the_best_of_overlapping_boxes_and_all_separate_ones() -> None:
    boxes = np.asarray(
        [[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 9, 10]], np.float32
    )
    scores = np.asarray([0.6, 0.9, 0.5, 0.3], np.float32)
    assert nms(boxes, scores, 0.5).tolist() == [1, 2]


def test_nms_with_threshold_one_keeps_everything_best_first() -> None:
    boxes = np.asarray([[0, 0, 10, 10], [0, 0, 10, 10]], np.float32)
    assert nms(boxes, np.asarray([0.1, 0.2], np.float32), 1.0).tolist() == [1, 0]


def test_nms_rejects_a_threshold_outside_zero_one() -> None:
    with pytest.raises(ValueError, match="iou_threshold"):
        nms(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), 1.5)


def test_overlap_is_measured_against_the_smaller_box() -> None:
    assert overlap((0, 0, 100, 100), (10, 10, 20, 20)) == 1.0
    assert overlap((0, 0, 10, 10), (5, 0, 15, 10)) == 0.5
    assert overlap((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0


def test_clip_pad_and_crop_stay_inside_the_image() -> None:
    clipped = clip_boxes(np.asarray([[-5, -5, 120, 50]], np.float32), 100, 40)
    assert clipped.tolist() == [[0, 0, 100, 40]]
    assert pad_box((10, 10, 30, 20), 0.5, 1.0) == (0, 0, 40, 30)
    image = np.zeros((40, 100, 3), np.uint8)
    assert crop(image, (-10, -10, 20.5, 15.2)).shape == (16, 21, 3)
