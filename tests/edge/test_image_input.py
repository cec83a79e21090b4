"""The detector graph that takes a uint8 BGR frame computes what the float RGB graph did."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from edge.engine.image_input import BGR_INPUT, NotAnImageInput, take_bgr_bytes


def _graph(elem_type: int = TensorProto.FLOAT, channels: int = 3) -> bytes:
    """A 1x1 convolution with distinct weights per channel, so a channel swap shows, plus
    a second input that must be kept."""
    weights = np.asarray([[[[1.0]], [[10.0]], [[100.0]]]], np.float32)[:, :channels]
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["images", "w"], ["conv"]),
            helper.make_node("Add", ["conv", "offset"], ["out"]),
        ],
        "g",
        [
            helper.make_tensor_value_info("images", elem_type, [1, channels, "h", "w"]),
            helper.make_tensor_value_info("offset", TensorProto.FLOAT, [1]),
        ],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 1, "h", "w"])],
        [numpy_helper.from_array(weights, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    return model.SerializeToString()


def test_bgr_bytes_give_the_float_rgb_result() -> None:
    frame = np.random.default_rng(3).integers(0, 256, (1, 32, 64, 3), dtype=np.uint8)
    offset = np.asarray([0.5], np.float32)
    floats = ort.InferenceSession(_graph())
    expected = floats.run(
        None,
        {
            "images": frame[0][:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255.0,
            "offset": offset,
        },
    )[0]
    rewritten = take_bgr_bytes(_graph(), "images")
    session = ort.InferenceSession(rewritten)
    assert [i.name for i in session.get_inputs()] == [BGR_INPUT, "offset"]
    assert session.get_inputs()[0].type == "tensor(uint8)"
    assert session.get_inputs()[0].shape == [1, "h", "w", 3]
    got = session.run(None, {BGR_INPUT: frame, "offset": offset})[0]
    np.testing.assert_allclose(got, expected, rtol=1e-6)


@pytest.mark.parametrize(
    ("graph", "name", "reason"),
    [
        (_graph(), "pixels", "no input 'pixels'"),
        (_graph(), None, "has 2 inputs"),
        (_graph(elem_type=TensorProto.UINT8), "images", "not a 1x3xHxW float image"),
        (_graph(channels=1), "images", "not a 1x3xHxW float image"),
    ],
)
def test_other_inputs_are_refused(graph: bytes, name: str | None, reason: str) -> None:
    with pytest.raises(NotAnImageInput, match=reason):
        take_bgr_bytes(graph, name)


def test_the_graph_stays_valid() -> None:
    onnx.checker.check_model(onnx.load_from_string(take_bgr_bytes(_graph(), "images")))
