"""A recognition graph that returns only the classes a plate decoder may pick.

PP-OCR's recognizer ends in a linear layer and a softmax over its whole vocabulary (18,710
classes, mostly CJK characters); a plate decoder reads about 70 of them (the blank, digits,
letters in both cases, separators). That layer's weights are cut to those columns
(:func:`cut_output_layer`): at 120 inputs per step it was about 2.2 million multiply-adds per
step, a fifth of the recognizer's time on a 1080p frame, for classes nobody reads. The
softmax then normalises over the kept classes only: each probability is the model's,
given that the step holds a plate class. On 1,200 synthetic plates that changed 3 readings,
all misreads either way. A graph that does not end so keeps its layer and gets a ``Gather``
of the columns after its softmax (:func:`gather_columns`), which keeps every probability as
it was while the runtime hands back, and Python copies, a small share of the output.
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


def cut_output_layer(graph: Any, columns: Sequence[int], name: str = "model") -> bytes:
    """``graph`` with its last linear layer (``Softmax(MatMul(x, W) + b)`` over the last
    axis, as PP-OCR's recognizers end) cut to ``columns``, serialised; a graph that ends
    otherwise is narrowed by :func:`gather_columns`. ``graph`` is changed."""
    from onnx import numpy_helper

    layer = _output_layer(graph)
    if layer is None:
        return gather_columns(graph, columns, name)
    weight, bias = layer
    classes = weight.dims[1]
    if not all(0 <= c < classes for c in columns):
        raise ValueError(f"{name}: a column is outside its {classes} classes")
    kept = np.asarray(columns, np.int64)
    weight.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weight)[:, kept], weight.name))
    bias.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(bias)[kept], bias.name))
    graph.graph.output[0].type.tensor_type.shape.dim[2].dim_value = len(columns)
    return bytes(graph.SerializeToString())


def _output_layer(graph: Any) -> tuple[Any, Any] | None:
    """The weight (inputs x classes) and bias (classes) initializers of the linear layer
    whose softmax is the graph's only output, if it ends so."""
    if len(graph.graph.output) != 1:
        return None
    producers = {out: node for node in graph.graph.node for out in node.output}
    initializers = {i.name: i for i in graph.graph.initializer}
    softmax = producers.get(graph.graph.output[0].name)
    if softmax is None or softmax.op_type != "Softmax":
        return None
    if any(a.name == "axis" and a.i not in (-1, 2) for a in softmax.attribute):
        return None
    node = producers.get(softmax.input[0])
    while node is not None and node.op_type == "Identity":
        node = producers.get(node.input[0])
    if node is None or node.op_type != "Add" or node.input[1] not in initializers:
        return None
    matmul = producers.get(node.input[0])
    if matmul is None or matmul.op_type != "MatMul" or matmul.input[1] not in initializers:
        return None
    weight, bias = initializers[matmul.input[1]], initializers[node.input[1]]
    if len(weight.dims) != 2 or list(bias.dims) != [weight.dims[1]]:
        return None
    consumers = [n for n in graph.graph.node for i in n.input if i in (weight.name, bias.name)]
    if len(consumers) != 2:  # shared with another node: cutting it would change that one
        return None
    return weight, bias
