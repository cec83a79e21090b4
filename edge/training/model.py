"""The plate recognizer network, in JAX: a small CNN that answers one class per slot.

Why this shape: a plate is short (at most ten characters here) and may have two lines, so
the network classifies every character slot from the whole plate's features instead of
reading a line left to right (CTC). Two-line plates then need no line splitting, and the
slots map one to one onto the positions of a plate layout, which the decoder uses. Six 3x3
convolutions with ReLU and 2x2 max pooling bring a 64x160 grey crop to 4x10 cells of 128
features; one dense layer maps them to slots x classes. Every operation has an ONNX twin
(Conv, Relu, MaxPool, Flatten, Gemm, Reshape, Softmax), so :mod:`edge.training.export`
writes the graph by hand and ONNX Runtime runs it on the edge without JAX. JAX computes in
NHWC (about a fifth faster than NCHW on this machine's CPU); the export turns the weights
into ONNX's NCHW order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from edge.engine.slots_input import SlotSpec

#: (output channels, pool after it) of each 3x3 convolution.
CONVS: tuple[tuple[int, bool], ...] = (
    (32, True),
    (64, True),
    (96, False),
    (96, True),
    (128, False),
    (128, True),
)

Params = dict[str, Any]


def pooled_size(spec: SlotSpec) -> tuple[int, int]:
    pools = sum(1 for _, pool in CONVS if pool)
    return spec.height // 2**pools, spec.width // 2**pools


def init_params(spec: SlotSpec, seed: int = 0) -> Params:
    """He-initialised weights, as numpy arrays (JAX takes them as they are)."""
    rng = np.random.default_rng(seed)
    params: Params = {}
    channels = 1
    for index, (out, _) in enumerate(CONVS):
        scale = np.sqrt(2.0 / (channels * 9))
        params[f"conv{index}"] = {
            "w": (rng.standard_normal((3, 3, channels, out)) * scale).astype(np.float32),
            "b": np.zeros(out, np.float32),
        }
        channels = out
    height, width = pooled_size(spec)
    features = channels * height * width
    params["dense"] = {
        "w": (
            rng.standard_normal((features, spec.slots * spec.classes)) * np.sqrt(1.0 / features)
        ).astype(np.float32),
        "b": np.zeros(spec.slots * spec.classes, np.float32),
    }
    return params


def logits(params: Mapping[str, Any], images: Any, spec: SlotSpec) -> Any:
    """(N, slots, classes) logits of a (N, height, width, 1) batch (NHWC)."""
    import jax
    import jax.numpy as jnp

    x = images
    for index, (_, pool) in enumerate(CONVS):
        layer = params[f"conv{index}"]
        x = jax.lax.conv_general_dilated(
            x, layer["w"], (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
        x = jax.nn.relu(x + layer["b"])
        if pool:
            x = jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    x = x.reshape(x.shape[0], -1)
    x = x @ params["dense"]["w"] + params["dense"]["b"]
    return x.reshape(x.shape[0], spec.slots, spec.classes)


def loss(params: Mapping[str, Any], images: Any, labels: Any, spec: SlotSpec) -> Any:
    """Mean cross-entropy over slots and plates."""
    import jax
    import jax.numpy as jnp

    log_probs = jax.nn.log_softmax(logits(params, images, spec), axis=-1)
    picked = jnp.take_along_axis(log_probs, labels[..., None], axis=-1)[..., 0]
    return -picked.mean()
