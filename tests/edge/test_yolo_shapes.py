"""A YOLOv8-style ONNX graph freed of its square input (``edge.engine.yolo_shapes``).

The graphs here are small stand-ins built with the ONNX helper: they have the head constants
an Ultralytics export bakes in (anchor points, strides, a reshape naming the anchor count),
run by the real ONNX Runtime. The real detectors are checked in ``test_real_models``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from edge.engine.yolo_shapes import (
    ANCHORS_INPUT,
    STRIDES_INPUT,
    FixedInput,
    anchor_grid,
    free_input_size,
)

SIZE = 64


def test_anchor_grid_of_640_has_the_8400_cell_centres_of_three_scales() -> None:
    points, strides = anchor_grid(640, 640)
    assert points.shape == (1, 2, 8400) and strides.shape == (1, 8400)
    assert points[0, :, 0].tolist() == [0.5, 0.5]
    assert points[0, :, 1].tolist() == [1.5, 0.5]  # x runs first along a row
    assert points[0, :, 80].tolist() == [0.5, 1.5]
    assert strides[0, :6400].tolist() == [8.0] * 6400
    assert strides[0, 6400:8000].tolist() == [16.0] * 1600
    assert strides[0, 8000:].tolist() == [32.0] * 400
    assert points[0, :, -1].tolist() == [19.5, 19.5]


def test_anchor_grid_of_a_wide_input_follows_its_rows_and_columns() -> None:
    points, _ = anchor_grid(384, 640)
    assert points.shape == (1, 2, 48 * 80 + 24 * 40 + 12 * 20)
    assert points[0, :, 80].tolist() == [0.5, 1.5]
    assert points[0, :, 48 * 80 - 1].tolist() == [79.5, 47.5]


@pytest.mark.parametrize(("height", "width"), [(0, 640), (100, 640), (640, 33)])
def test_anchor_grid_refuses_a_size_that_is_not_a_multiple_of_32(height: int, width: int) -> None:
    with pytest.raises(ValueError, match="multiples of 32"):
        anchor_grid(height, width)


def _head_model(path: Path, with_constants: bool = True) -> Path:
    """A YOLOv8-like head: per scale, the image averaged over each cell (as 'features'),
    flattened and joined; output = mean feature + anchor point x stride (1x2xN)."""
    points, strides = anchor_grid(SIZE, SIZE)
    count = points.shape[2]
    nodes, inits = [], []
    parts = []
    for stride in (8, 16, 32):
        pooled, flat = f"pool{stride}", f"flat{stride}"
        nodes.append(
            helper.make_node(
                "AveragePool", ["images"], [pooled], kernel_shape=[stride] * 2, strides=[stride] * 2
            )
        )
        nodes.append(helper.make_node("Reshape", [pooled, "flat_shape"], [flat]))
        parts.append(flat)
    inits.append(numpy_helper.from_array(np.asarray([1, 3, -1], np.int64), "flat_shape"))
    nodes.append(helper.make_node("Concat", parts, ["joined"], axis=2))
    inits.append(numpy_helper.from_array(np.asarray([1, 3, count], np.int64), "head_shape"))
    nodes.append(helper.make_node("Reshape", ["joined", "head_shape"], ["head"]))
    inits += [
        numpy_helper.from_array(np.asarray([0], np.int64), "zero"),
        numpy_helper.from_array(np.asarray([2], np.int64), "two"),
        numpy_helper.from_array(np.asarray([1], np.int64), "axis"),
    ]
    nodes.append(helper.make_node("Slice", ["head", "zero", "two", "axis"], ["features"]))
    anchors = points if with_constants else points + 0.25
    inits.append(numpy_helper.from_array(anchors, "anchors_const"))
    inits.append(numpy_helper.from_array(strides, "strides_const"))
    nodes.append(helper.make_node("Add", ["features", "anchors_const"], ["placed"]))
    nodes.append(helper.make_node("Mul", ["placed", "strides_const"], ["output0"]))
    graph = helper.make_graph(
        nodes,
        "head",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 2, count])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _expected(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[2:]
    points, strides = anchor_grid(height, width)
    features = []
    for stride in (8, 16, 32):
        cells = image[0, :2].reshape(2, height // stride, stride, width // stride, stride)
        features.append(cells.mean(axis=(2, 4)).reshape(2, -1))
    return ((np.concatenate(features, axis=1)[None] + points) * strides).astype(np.float32)


def test_the_freed_graph_reads_any_multiple_of_32_and_the_square_as_before(
    tmp_path: Path,
) -> None:
    path = _head_model(tmp_path / "head.onnx")
    freed = free_input_size(path)
    session = ort.InferenceSession(freed.model, providers=["CPUExecutionProvider"])
    original = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(7)
    square = rng.random((1, 3, SIZE, SIZE), dtype=np.float32)
    points, strides = anchor_grid(SIZE, SIZE)
    (freed_out,) = session.run(
        None, {freed.image_input: square, ANCHORS_INPUT: points, STRIDES_INPUT: strides}
    )
    (original_out,) = original.run(None, {"images": square})
    np.testing.assert_allclose(freed_out, original_out, rtol=1e-6)
    wide = rng.random((1, 3, 32, 96), dtype=np.float32)
    points, strides = anchor_grid(32, 96)
    (wide_out,) = session.run(
        None, {freed.image_input: wide, ANCHORS_INPUT: points, STRIDES_INPUT: strides}
    )
    assert wide_out.shape == (1, 2, 4 * 12 + 2 * 6 + 1 * 3)
    np.testing.assert_allclose(wide_out, _expected(wide), rtol=1e-5)


def test_a_graph_whose_constants_are_not_its_anchor_grid_is_left_alone(tmp_path: Path) -> None:
    path = _head_model(tmp_path / "other.onnx", with_constants=False)
    with pytest.raises(FixedInput, match="head constants not found"):
        free_input_size(path)
