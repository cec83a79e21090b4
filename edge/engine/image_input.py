"""A detector graph that takes the camera's bytes: a ``1xHxWx3`` uint8 BGR image.

YOLOv8 exports take ``1x3xHxW`` float RGB in [0, 1]. Converting a 640x384 frame to that in
numpy (channel flip, transpose, float cast, divide) and handing the runtime four bytes per
value instead of one costs about 4 ms per detector run on this project's 2-core machine,
a fifth of the run itself. :func:`take_bgr_bytes` prepends the same conversion to the graph
(Cast, channel reverse, Transpose, Mul), where the runtime does it in one fused pass: the
caller feeds the letterboxed frame as it is.
"""

from __future__ import annotations

import numpy as np

#: The new image input's name.
BGR_INPUT = "bgr_image"


class NotAnImageInput(ValueError):
    """The graph's input is not a ``1x3xHxW`` float image."""


def take_bgr_bytes(serialized: bytes, image_input: str | None = None) -> bytes:
    """``serialized`` (an ONNX model) with ``image_input`` (``1x3xHxW`` float RGB in [0, 1];
    ``None``: the graph's only input) replaced by :data:`BGR_INPUT`, ``1xHxWx3`` uint8 BGR;
    other inputs are kept."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load_from_string(serialized)
    graph = model.graph
    if image_input is None:
        if len(graph.input) != 1:
            raise NotAnImageInput(f"the graph has {len(graph.input)} inputs, name the image's")
        image_input = graph.input[0].name
    inputs = {i.name: i for i in graph.input}
    if image_input not in inputs:
        raise NotAnImageInput(f"the graph has no input {image_input!r}")
    image = inputs[image_input]
    tensor_type = image.type.tensor_type
    dims = tensor_type.shape.dim
    if tensor_type.elem_type != TensorProto.FLOAT or len(dims) != 4 or dims[1].dim_value != 3:
        raise NotAnImageInput(f"{image_input!r} is not a 1x3xHxW float image")
    height = dims[2].dim_param or dims[2].dim_value
    width = dims[3].dim_param or dims[3].dim_value
    prefix = "bgr_input_"
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.asarray([2, 1, 0], np.int64), prefix + "rgb"),
            numpy_helper.from_array(np.asarray(1.0 / 255.0, np.float32), prefix + "scale"),
        ]
    )
    nodes = [
        helper.make_node("Cast", [BGR_INPUT], [prefix + "float"], to=TensorProto.FLOAT),
        helper.make_node(
            "Gather", [prefix + "float", prefix + "rgb"], [prefix + "rgb_hwc"], axis=3
        ),
        helper.make_node("Transpose", [prefix + "rgb_hwc"], [prefix + "chw"], perm=[0, 3, 1, 2]),
        helper.make_node("Mul", [prefix + "chw", prefix + "scale"], [image_input]),
    ]
    kept = list(graph.node)
    del graph.node[:]
    graph.node.extend([*nodes, *kept])
    position = list(graph.input).index(image)
    graph.input.remove(image)
    graph.input.insert(
        position,
        helper.make_tensor_value_info(BGR_INPUT, TensorProto.UINT8, [1, height, width, 3]),
    )
    return model.SerializeToString()
