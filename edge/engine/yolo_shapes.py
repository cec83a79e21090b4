"""A YOLOv8 ONNX graph freed of its square input: any height and width (multiples of 32).

Ultralytics exports a fixed ``1x3xSxS`` input and bakes the anchor grid of that size into the
head as constants: the anchor points (twice, shape ``1x2xN``), the stride of every anchor
(``1xN``) and two reshapes that name ``N``. A 16:9 frame letterboxed into 640x640 is 44% grey
padding that the network convolves for nothing. :func:`free_input_size` turns the anchor
constants into graph inputs (:func:`anchor_grid` computes them per input size, cached by the
caller), the reshapes' ``N`` into ``-1`` and the input's height and width into free
dimensions; the output keeps its ``1 x (4 + classes) x N`` layout, so decoding is unchanged.

The constants are recognised by value, not by node name: a graph whose constants are not the
anchor grid of its input size is left alone (:class:`FixedInput` says why).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

#: The strides of YOLOv8's three detection scales.
STRIDES = (8, 16, 32)
#: Names of the inputs that replace the anchor constants.
ANCHORS_INPUT = "anchor_points"
STRIDES_INPUT = "anchor_strides"


class FixedInput(ValueError):
    """The graph's head is not the YOLOv8 anchor layout this module knows."""


@dataclass(frozen=True)
class FreedModel:
    """A serialized graph that takes any input size, and what to feed it besides the image."""

    model: bytes
    image_input: str


def anchor_grid(height: int, width: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Anchor points ``1x2xN`` (cell centres, in grid units) and strides ``1xN`` of an input."""
    if height % STRIDES[-1] or width % STRIDES[-1] or height <= 0 or width <= 0:
        raise ValueError(
            f"input size must be positive multiples of {STRIDES[-1]}, got {height}x{width}"
        )
    points, strides = [], []
    for stride in STRIDES:
        rows, cols = height // stride, width // stride
        ys, xs = np.meshgrid(np.arange(rows) + 0.5, np.arange(cols) + 0.5, indexing="ij")
        points.append(np.stack([xs.ravel(), ys.ravel()]))
        strides.append(np.full(rows * cols, stride))
    return (
        np.concatenate(points, axis=1)[None].astype(np.float32),
        np.concatenate(strides)[None].astype(np.float32),
    )


def free_input_size(path: Path) -> FreedModel:
    """The model at ``path`` rewritten to take any input size; raises :class:`FixedInput`."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    if len(graph.input) != 1:
        raise FixedInput(f"expected one input, found {len(graph.input)}")
    image = graph.input[0]
    dims = image.type.tensor_type.shape.dim
    if len(dims) != 4 or not dims[2].dim_value or not dims[3].dim_value:
        raise FixedInput("the input is not a fixed 1x3xHxW image")
    points, strides = anchor_grid(dims[2].dim_value, dims[3].dim_value)
    count = points.shape[2]
    point_names, stride_names, reshapes = [], [], []
    for tensor in graph.initializer:
        value = numpy_helper.to_array(tensor)
        if value.shape == points.shape and np.allclose(value, points):
            point_names.append(tensor.name)
        elif value.shape == strides.shape and np.allclose(value, strides):
            stride_names.append(tensor.name)
        elif value.dtype == np.int64 and value.ndim == 1 and count in value.tolist():
            reshapes.append(tensor)
    shape_inputs = {i for n in graph.node if n.op_type == "Reshape" for i in n.input[1:]}
    reshapes = [t for t in reshapes if t.name in shape_inputs]
    if not point_names or len(stride_names) != 1 or not reshapes:
        raise FixedInput(
            f"head constants not found (anchor points {len(point_names)}, strides "
            f"{len(stride_names)}, reshapes {len(reshapes)})"
        )
    for tensor in reshapes:
        value = numpy_helper.to_array(tensor).copy()
        value[value == count] = -1
        tensor.CopyFrom(numpy_helper.from_array(value, tensor.name))
    renames = {name: ANCHORS_INPUT for name in point_names} | {stride_names[0]: STRIDES_INPUT}
    kept = [t for t in graph.initializer if t.name not in renames]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    for node in graph.node:
        for index, name in enumerate(node.input):
            if name in renames:
                node.input[index] = renames[name]
    graph.input.extend(
        [
            onnx.helper.make_tensor_value_info(
                ANCHORS_INPUT, onnx.TensorProto.FLOAT, [1, 2, "anchors"]
            ),
            onnx.helper.make_tensor_value_info(
                STRIDES_INPUT, onnx.TensorProto.FLOAT, [1, "anchors"]
            ),
        ]
    )
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    for output in graph.output:
        output.type.tensor_type.shape.dim[-1].dim_param = "anchors"
    del graph.value_info[:]
    return FreedModel(model.SerializeToString(), image.name)
