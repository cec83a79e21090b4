"""The recognizer's output narrowed to the decoder's columns: the same probabilities, fewer
of them (edge/engine/output_columns.py), run by the real ONNX Runtime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from edge.engine.output_columns import gather_columns, graph_metadata, load_graph


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
