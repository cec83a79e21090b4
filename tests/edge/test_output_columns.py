"""The recognizer's output narrowed to the decoder's columns (edge/engine/output_columns.py):
its last layer cut, or its softmax gathered; run by the real ONNX Runtime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from edge.engine.output_columns import (
    cut_output_layer,
    gather_columns,
    graph_metadata,
    load_graph,
)


def _softmax_model(path: Path, classes: int = 7) -> Path:
    """(batch, steps, classes) logits in, their softmax over the classes out, with metadata."""
    source = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "steps", classes])
    result = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "steps", classes])
    graph = helper.make_graph(
        [helper.make_node("Softmax", ["x"], ["y"], axis=2)], "softmax", [source], [result]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.metadata_props.add(key="character", value="a\nb")
    onnx.save(model, path)
    return path


def test_the_narrowed_output_holds_the_same_probabilities_of_the_chosen_columns(
    tmp_path: Path,
) -> None:
    graph = load_graph(_softmax_model(tmp_path / "rec.onnx"))
    assert graph_metadata(graph) == {"character": "a\nb"}
    narrowed = ort.InferenceSession(gather_columns(graph, [0, 5, 2]))
    full = ort.InferenceSession(str(tmp_path / "rec.onnx"))
    logits = np.random.default_rng(3).normal(size=(2, 4, 7)).astype(np.float32)
    (expected,) = full.run(None, {"x": logits})
    (got,) = narrowed.run(None, {"x": logits})
    assert got.shape == (2, 4, 3)
    # The softmax still normalises over every class: no renormalisation over the three.
    np.testing.assert_allclose(got, expected[:, :, [0, 5, 2]], rtol=1e-6)
    assert got.sum(axis=2).max() < 1.0


def test_a_column_outside_the_classes_is_refused(tmp_path: Path) -> None:
    graph = load_graph(_softmax_model(tmp_path / "rec.onnx"))
    with pytest.raises(ValueError, match="outside its 7 classes"):
        gather_columns(graph, [0, 7], "rec.onnx")


def _linear_softmax_model(path: Path, inputs: int = 5, classes: int = 7) -> Path:
    """(batch, steps, inputs) in, softmax(x @ W + b) over ``classes`` out, as PP-OCR ends
    (through an Identity, as its export has one)."""
    from onnx import numpy_helper

    rng = np.random.default_rng(7)
    weight = numpy_helper.from_array(rng.normal(size=(inputs, classes)).astype(np.float32), "w")
    bias = numpy_helper.from_array(rng.normal(size=classes).astype(np.float32), "b")
    source = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "steps", inputs])
    result = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "steps", classes])
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["xw"]),
        helper.make_node("Add", ["xw", "b"], ["logits"]),
        helper.make_node("Identity", ["logits"], ["same"]),
        helper.make_node("Softmax", ["same"], ["y"], axis=2),
    ]
    graph = helper.make_graph(nodes, "head", [source], [result], [weight, bias])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def test_a_cut_output_layer_gives_the_softmax_over_the_kept_columns(tmp_path: Path) -> None:
    path = _linear_softmax_model(tmp_path / "rec.onnx")
    cut = ort.InferenceSession(cut_output_layer(load_graph(path), [0, 5, 2]))
    full = ort.InferenceSession(str(path))
    x = np.random.default_rng(3).normal(size=(2, 4, 5)).astype(np.float32)
    (everything,) = full.run(None, {"x": x})
    (got,) = cut.run(None, {"x": x})
    assert got.shape == (2, 4, 3)
    # The model's probabilities given that the step holds one of the kept classes.
    kept = everything[:, :, [0, 5, 2]]
    np.testing.assert_allclose(got, kept / kept.sum(axis=2, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(got.sum(axis=2), 1.0, rtol=1e-5)


def test_a_graph_without_a_linear_layer_before_its_softmax_gets_the_gather(
    tmp_path: Path,
) -> None:
    path = _softmax_model(tmp_path / "rec.onnx")
    narrowed = ort.InferenceSession(cut_output_layer(load_graph(path), [0, 5, 2]))
    logits = np.random.default_rng(3).normal(size=(2, 4, 7)).astype(np.float32)
    (expected,) = ort.InferenceSession(str(path)).run(None, {"x": logits})
    (got,) = narrowed.run(None, {"x": logits})
    np.testing.assert_allclose(got, expected[:, :, [0, 5, 2]], rtol=1e-6)


def test_a_column_outside_the_layer_is_refused(tmp_path: Path) -> None:
    graph = load_graph(_linear_softmax_model(tmp_path / "rec.onnx"))
    with pytest.raises(ValueError, match="outside its 7 classes"):
        cut_output_layer(graph, [0, 7], "rec.onnx")
