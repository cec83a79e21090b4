"""Writes the trained recognizer as an ONNX graph, built node by node from its weights.

The graph takes the engine's NCHW input (N, 1, height, width) in [-1, 1] and answers
(N, slots, classes) probabilities. Weights trained in NHWC (:mod:`edge.training.model`) are
turned into ONNX's order here: convolution kernels HWIO -> OIHW, and the dense layer's rows
from (h, w, c) to (c, h, w), the order ONNX's Flatten gives. The slot specification rides in
the model's metadata too, so a model file alone says how to feed it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from edge.engine.slots_input import SlotSpec
from edge.training.model import CONVS, pooled_size

OPSET = 17
INPUT = "image"
OUTPUT = "probs"


def to_onnx(
    params: Mapping[str, Any], spec: SlotSpec, path: Path, metadata: dict[str, str]
) -> None:
    """Writes the ONNX model of ``params`` to ``path`` (deterministic bytes for equal inputs)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, weights = [], []
    current = INPUT
    for index, (_, pool) in enumerate(CONVS):
        kernel = np.asarray(params[f"conv{index}"]["w"]).transpose(3, 2, 0, 1)
        bias = np.asarray(params[f"conv{index}"]["b"])
        weights += [
            numpy_helper.from_array(np.ascontiguousarray(kernel), f"conv{index}.w"),
            numpy_helper.from_array(bias, f"conv{index}.b"),
        ]
        nodes.append(
            helper.make_node(
                "Conv",
                [current, f"conv{index}.w", f"conv{index}.b"],
                [f"conv{index}"],
                kernel_shape=[3, 3],
                pads=[1, 1, 1, 1],
            )
        )
        nodes.append(helper.make_node("Relu", [f"conv{index}"], [f"relu{index}"]))
        current = f"relu{index}"
        if pool:
            nodes.append(
                helper.make_node(
                    "MaxPool", [current], [f"pool{index}"], kernel_shape=[2, 2], strides=[2, 2]
                )
            )
            current = f"pool{index}"
    height, width = pooled_size(spec)
    channels = CONVS[-1][0]
    dense = np.asarray(params["dense"]["w"])
    dense = dense.reshape(height, width, channels, -1).transpose(2, 0, 1, 3).reshape(dense.shape)
    weights += [
        numpy_helper.from_array(np.ascontiguousarray(dense), "dense.w"),
        numpy_helper.from_array(np.asarray(params["dense"]["b"]), "dense.b"),
        numpy_helper.from_array(np.array([-1, spec.slots, spec.classes], np.int64), "shape"),
    ]
    nodes += [
        helper.make_node("Flatten", [current], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "dense.w", "dense.b"], ["dense"]),
        helper.make_node("Reshape", ["dense", "shape"], ["logits"]),
        helper.make_node("Softmax", ["logits"], [OUTPUT], axis=-1),
    ]
    graph = helper.make_graph(
        nodes,
        "plate-slots",
        [
            helper.make_tensor_value_info(
                INPUT, TensorProto.FLOAT, ["N", 1, spec.height, spec.width]
            )
        ],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["N", spec.slots, spec.classes])],
        weights,
    )
    model = helper.make_model(
        graph, producer_name="alpr-train", opset_imports=[helper.make_opsetid("", OPSET)]
    )
    model.ir_version = 8
    spec_fields = {"height": spec.height, "width": spec.width, "slots": spec.slots}
    entries = {"slot_spec": json.dumps(spec_fields), "alphabet": spec.alphabet, **metadata}
    for key, value in sorted(entries.items()):
        model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
