"""The detection container: shape checks and the backend adapters."""

from __future__ import annotations

import numpy as np
import pytest

from edge.engine.detections import Detections
from edge.engine.geometry import Letterbox


def _yolo_output(rows: list[list[float]]) -> np.ndarray:
    """A (1, 4 + classes, anchors) head from rows of cx, cy, w, h, class scores..."""
    return np.asarray(rows, np.float32).T[None]


def test_shape_mismatch_names_what_was_expected_and_what_came() -> None:
    with pytest.raises(ValueError, match=r"boxes must have shape \(2, 4\), got \(2, 5\)"):
        Detections(
            np.zeros((2, 5), np.float32),
            np.zeros(2, np.float32),
            np.zeros(2, np.int64),
            ("car",),
        )
    with pytest.raises(ValueError, match="class_ids must have shape"):
        Detections(
            np.zeros((2, 4), np.float32), np.zeros(2, np.float32), np.zeros(3, np.int64), ("a",)
        )
    with pytest.raises(ValueError, match=r"class_ids must lie within \[0, 0\]"):
        Detections(
            np.zeros((1, 4), np.float32), np.zeros(1, np.float32), np.ones(1, np.int64), ("a",)
        )


def test_from_yolov8_decodes_centres_scales_back_and_suppresses_duplicates() -> None:
    output = _yolo_output(
        [
            [60, 60, 20, 20, 0.9, 0.1],  # class 0, kept
            [61, 61, 20, 20, 0.8, 0.1],  # duplicate of the first: suppressed
            [200, 100, 40, 20, 0.1, 0.7],  # class 1, kept
            [300, 300, 10, 10, 0.2, 0.1],  # below min_score
        ]
    )
    found = Detections.from_yolov8(
        output, Letterbox(scale=0.5, pad_x=0, pad_y=0), (1000, 1000), ("a", "b"), 0.5, 0.5
    )
    assert len(found) == 2
    first, second = list(found)
    assert (first.label, first.box) == ("a", (100.0, 100.0, 140.0, 140.0))
    assert first.score == pytest.approx(0.9)
    assert (second.label, second.box) == ("b", (360.0, 180.0, 440.0, 220.0))


def test_from_yolov8_keeps_only_the_classes_asked_for_and_overlaps_across_classes() -> None:
    output = _yolo_output([[50, 50, 20, 20, 0.9, 0.0], [50, 50, 20, 20, 0.0, 0.8]])
    both = Detections.from_yolov8(output, Letterbox(1, 0, 0), (100, 100), ("a", "b"), 0.5, 0.5)
    assert sorted(d.label for d in both) == ["a", "b"]
    only_b = Detections.from_yolov8(
        output, Letterbox(1, 0, 0), (100, 100), ("a", "b"), 0.5, 0.5, keep_classes=[1]
    )
    assert [d.label for d in only_b] == ["b"]


def test_from_yolov8_rejects_a_head_for_another_number_of_classes() -> None:
    with pytest.raises(ValueError, match=r"must have shape \(1, 5, anchors\) for 1 classes"):
        Detections.from_yolov8(
            np.zeros((1, 84, 10), np.float32), Letterbox(1, 0, 0), (10, 10), ("p",), 0.5, 0.5
        )


def test_from_quads_boxes_quadrilaterals_and_shifted_moves_them() -> None:
    quads = np.asarray([[[10, 5], [50, 8], [49, 20], [11, 18]]], np.float32)
    found = Detections.from_quads(quads, [0.7], "plate")
    assert next(iter(found)).box == (10.0, 5.0, 50.0, 20.0)
    moved = found.shifted(100, 200)
    assert next(iter(moved)).box == (110.0, 205.0, 150.0, 220.0)
    with pytest.raises(ValueError, match="1 quadrilaterals but 2 scores"):
        Detections.from_quads(quads, [0.7, 0.1], "plate")


def test_select_and_empty() -> None:
    empty = Detections.empty(("car",))
    assert len(empty) == 0
    quads = np.asarray([[[0, 0], [1, 0], [1, 1], [0, 1]], [[5, 5], [6, 5], [6, 6], [5, 6]]])
    found = Detections.from_quads(quads.astype(np.float32), [0.1, 0.2], "t")
    assert [d.score for d in found.select(np.asarray([1]))] == [pytest.approx(0.2)]
