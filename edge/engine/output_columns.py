"""A recognition graph that returns only the classes a plate decoder may pick.

PP-OCR's recognizer ends in a softmax over its whole vocabulary (18,710 classes, mostly
CJK characters); a plate decoder reads about 70 of them (the blank, digits, letters in both
cases, separators). Appending a ``Gather`` of those columns after the softmax keeps every
probability the decoder sees exactly as it was (the softmax still normalises over the whole
vocabulary) while the runtime hands back, and Python copies, 0.4% of the output.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def load_graph(model: Path) -> Any:
    """The ONNX graph in ``model`` (an ``onnx.ModelProto``)."""
    import onnx

    return onnx.load(str(model))


def graph_metadata(graph: Any) -> dict[str, str]:
    """A loaded graph's metadata (a recognizer's character list)."""
    return {entry.key: entry.value for entry in graph.metadata_props}


def gather_columns(graph: Any, columns: Sequence[int], name: str = "model") -> bytes:
    """``graph`` (one output of shape (batch, steps, classes)) with its output narrowed to
    ``columns`` of the last axis, in that order, serialised; ``graph`` is changed."""
    from onnx import helper, numpy_helper

    if len(graph.graph.output) != 1:
        raise ValueError(f"{name}: expected one output, found {len(graph.graph.output)}")
    output = graph.graph.output[0]
    dims = output.type.tensor_type.shape.dim
    if len(dims) != 3:
        raise ValueError(f"{name}: expected a (batch, steps, classes) output, got {len(dims)} axes")
    classes = dims[2].dim_value
    if classes and not all(0 <= c < classes for c in columns):
        raise ValueError(f"{name}: a column is outside its {classes} classes")
    indices = numpy_helper.from_array(np.asarray(columns, np.int64), f"{output.name}_columns")
    narrowed = f"{output.name}_plate_columns"
    graph.graph.initializer.append(indices)
    graph.graph.node.append(
        helper.make_node("Gather", [output.name, indices.name], [narrowed], axis=2)
    )
    shape = [dims[0].dim_param or None, dims[1].dim_param or None, len(columns)]
    graph.graph.output.remove(output)
    graph.graph.output.append(
        helper.make_tensor_value_info(narrowed, output.type.tensor_type.elem_type, shape)
    )
    return bytes(graph.SerializeToString())
