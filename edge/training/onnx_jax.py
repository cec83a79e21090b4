"""An ONNX graph run as a JAX function of its weights, so that a shipped model (PP-OCR's
recognizer) can be fine-tuned on the CPU without a second deep-learning framework, and its
trained weights written back into the same graph (:func:`with_weights`).

Only the operators of PP-OCRv6's recognition graph (opset 11) are covered; any other raises
``NotImplementedError`` naming it. Shape arithmetic (``Shape``, ``Slice`` of shapes,
``Concat`` of sizes ...) runs in numpy on the static shapes JAX traces with, so the function
jit-compiles per input shape. Batch normalisation runs in inference form (its statistics
are constants): fine-tuning with small batches must not move them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

#: Initializers that are weights to train: Paddle names them ``<layer>.w_0`` / ``.b_0``
#: (a batch norm's ``w_1`` / ``w_2`` are its running mean and variance: kept constant).
TRAINABLE_SUFFIXES = (".w_0", ".b_0")


class OnnxFunction:
    """``graph(params, x)``: the ONNX model at ``path`` evaluated with JAX, ``params``
    replacing its trainable initializers (:attr:`params` holds the shipped ones)."""

    def __init__(self, model: Any) -> None:
        from onnx import helper, numpy_helper

        self.model = model
        graph = model.graph
        constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        self.params: dict[str, np.ndarray] = {
            name: value
            for name, value in constants.items()
            if name.endswith(TRAINABLE_SUFFIXES) and value.dtype == np.float32
        }
        self.constants = {k: v for k, v in constants.items() if k not in self.params}
        self.nodes = [
            (
                node.op_type,
                list(node.input),
                list(node.output),
                {a.name: helper.get_attribute_value(a) for a in node.attribute},
            )
            for node in graph.node
        ]
        self.input_name = graph.input[0].name
        self.output_name = graph.output[0].name
        for op, *_ in self.nodes:
            if op not in _OPS:
                raise NotImplementedError(f"ONNX operator {op} is not supported by onnx_jax")

    @classmethod
    def load(cls, path: Path) -> OnnxFunction:
        import onnx

        return cls(onnx.load(str(path)))

    def producer_of_input(self, name: str) -> str:
        """The tensor that node output ``name`` is computed from (its first input)."""
        for _, inputs, outputs, _ in self.nodes:
            if name in outputs:
                return inputs[0]
        raise KeyError(f"no node computes {name!r}")

    def __call__(
        self,
        params: Mapping[str, Any],
        x: Any,
        output: str | None = None,
        frozen_below: str | None = None,
    ) -> Any:
        """The value of tensor ``output`` (the graph's output by default) for input ``x``;
        no gradient flows back through tensor ``frozen_below`` (the weights before it stay
        as they are, and their backward pass is not computed)."""
        import jax

        wanted = output or self.output_name
        values: dict[str, Any] = {**self.constants, **params, self.input_name: x, "": None}
        for op, inputs, outputs, attrs in self.nodes:
            result = _OPS[op]([values[i] for i in inputs], attrs)
            for name, value in zip(outputs, result, strict=True):
                values[name] = jax.lax.stop_gradient(value) if name == frozen_below else value
            if wanted in outputs:
                return values[wanted]
        return values[wanted]


def with_weights(model: Any, weights: Mapping[str, np.ndarray], metadata: Mapping[str, str]) -> Any:
    """A copy of ONNX ``model`` with ``weights`` as its initializers (shapes may change,
    e.g. a smaller output layer), the output's fixed class count dropped, and ``metadata``
    set."""
    import onnx
    from onnx import numpy_helper

    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for tensor in copy.graph.initializer:
        if tensor.name in weights:
            tensor.CopyFrom(
                numpy_helper.from_array(np.asarray(weights[tensor.name], np.float32), tensor.name)
            )
    del copy.graph.value_info[:]
    for out in copy.graph.output:
        dims = out.type.tensor_type.shape.dim
        if dims:
            dims[-1].Clear()
            dims[-1].dim_param = "classes"
    kept = {p.key: p.value for p in copy.metadata_props}
    kept.update(metadata)
    del copy.metadata_props[:]
    for key, value in kept.items():
        copy.metadata_props.add(key=key, value=value)
    return copy


# --- operators ---------------------------------------------------------------------------

Op = Callable[[list[Any], dict[str, Any]], list[Any]]


def _np(*values: Any) -> bool:
    return all(isinstance(v, np.ndarray | np.generic) for v in values)


def _xp(*values: Any) -> Any:
    import jax.numpy as jnp

    return np if _np(*values) else jnp


def _binary(name: str) -> Op:
    def op(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
        a, b = inputs
        return [getattr(_xp(a, b), name)(a, b)]

    return op


def _unary(fn: Callable[[Any], Any]) -> Op:
    return lambda inputs, attrs: [fn(inputs[0])]


def _conv(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    import jax

    x, w = inputs[0], inputs[1]
    strides = tuple(attrs.get("strides", [1, 1]))
    if attrs.get("auto_pad", b"NOTSET") == b"SAME_UPPER":
        padding: Any = "SAME"
    else:
        p = attrs.get("pads", [0, 0, 0, 0])
        padding = [(p[0], p[2]), (p[1], p[3])]
    out = jax.lax.conv_general_dilated(
        x,
        w,
        strides,
        padding,
        rhs_dilation=tuple(attrs.get("dilations", [1, 1])),
        feature_group_count=int(attrs.get("group", 1)),
        dimension_numbers=("NCHW", "OIHW", "NCHW"),
    )
    if len(inputs) > 2 and inputs[2] is not None:
        out = out + inputs[2].reshape(1, -1, 1, 1)
    return [out]


def _pool_padding(attrs: dict[str, Any]) -> Any:
    if attrs.get("auto_pad", b"NOTSET") == b"SAME_UPPER":
        return "SAME"
    p = attrs.get("pads", [0, 0, 0, 0])
    return [(0, 0), (0, 0), (p[0], p[2]), (p[1], p[3])]


def _max_pool(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    import jax
    import jax.numpy as jnp

    kh, kw = attrs["kernel_shape"]
    sh, sw = attrs.get("strides", [1, 1])
    out = jax.lax.reduce_window(
        inputs[0], -jnp.inf, jax.lax.max, (1, 1, kh, kw), (1, 1, sh, sw), _pool_padding(attrs)
    )
    return [out]


def _average_pool(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    import jax

    if any(attrs.get("pads", [0])) or attrs.get("auto_pad", b"NOTSET") != b"NOTSET":
        raise NotImplementedError("AveragePool with padding is not supported by onnx_jax")
    kh, kw = attrs["kernel_shape"]
    sh, sw = attrs.get("strides", [1, 1])
    total = jax.lax.reduce_window(
        inputs[0], 0.0, jax.lax.add, (1, 1, kh, kw), (1, 1, sh, sw), "VALID"
    )
    return [total / (kh * kw)]


def _batch_norm(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x, scale, bias, mean, var = inputs
    shape = (1, -1) + (1,) * (x.ndim - 2)
    factor = scale.reshape(shape) / np.sqrt(var.reshape(shape) + attrs.get("epsilon", 1e-5))
    return [(x - mean.reshape(shape)) * factor + bias.reshape(shape)]


def _reduce_mean(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x = inputs[0]
    axes = tuple(a % x.ndim for a in attrs.get("axes", range(x.ndim)))
    return [_xp(x).mean(x, axis=axes, keepdims=bool(attrs.get("keepdims", 1)))]


def _softmax(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    import jax

    x = inputs[0]
    axis = attrs.get("axis", 1) % x.ndim
    # opset 11: the input is flattened to 2-D at ``axis``
    return [jax.nn.softmax(x, axis=tuple(range(axis, x.ndim)))]


def _hard_sigmoid(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    import jax.numpy as jnp

    alpha, beta = attrs.get("alpha", 0.2), attrs.get("beta", 0.5)
    return [jnp.clip(alpha * inputs[0] + beta, 0.0, 1.0)]


def _slice(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x, starts, ends = inputs[:3]
    axes = inputs[3] if len(inputs) > 3 and inputs[3] is not None else range(len(starts))
    steps = inputs[4] if len(inputs) > 4 and inputs[4] is not None else [1] * len(starts)
    index: list[slice] = [slice(None)] * x.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        size = x.shape[int(axis)]
        index[int(axis)] = slice(
            int(np.clip(start, -size - 1, size)), int(np.clip(end, -size - 1, size)), int(step)
        )
    return [x[tuple(index)]]


def _reshape(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x, shape = inputs
    target = [int(x.shape[i]) if int(s) == 0 else int(s) for i, s in enumerate(shape)]
    return [x.reshape(target)]


def _concat(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    return [_xp(*inputs).concatenate(inputs, axis=attrs["axis"])]


def _squeeze(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x = inputs[0]
    return [_xp(x).squeeze(x, axis=tuple(attrs["axes"]))]


def _unsqueeze(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x = inputs[0]
    xp = _xp(x)
    for axis in sorted(attrs["axes"]):
        x = xp.expand_dims(x, axis)
    return [x]


def _transpose(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x = inputs[0]
    return [_xp(x).transpose(x, attrs.get("perm"))]


def _erf(x: Any) -> Any:
    import jax

    return jax.lax.erf(x)


def _sigmoid(x: Any) -> Any:
    import jax

    return jax.nn.sigmoid(x)


def _relu(x: Any) -> Any:
    import jax

    return jax.nn.relu(x)


def _sqrt(x: Any) -> Any:
    return _xp(x).sqrt(x)


_OPS: dict[str, Op] = {
    "Add": _binary("add"),
    "Sub": _binary("subtract"),
    "Mul": _binary("multiply"),
    "Div": _binary("divide"),
    "Pow": _binary("power"),
    "MatMul": _binary("matmul"),
    "Identity": _unary(lambda x: x),
    "Relu": _unary(_relu),
    "Sigmoid": _unary(_sigmoid),
    "Erf": _unary(_erf),
    "Sqrt": _unary(_sqrt),
    "HardSigmoid": _hard_sigmoid,
    "Conv": _conv,
    "MaxPool": _max_pool,
    "AveragePool": _average_pool,
    "BatchNormalization": _batch_norm,
    "ReduceMean": _reduce_mean,
    "Softmax": _softmax,
    "Shape": lambda inputs, attrs: [np.asarray(inputs[0].shape, np.int64)],
    "Slice": _slice,
    "Reshape": _reshape,
    "Concat": _concat,
    "Squeeze": _squeeze,
    "Unsqueeze": _unsqueeze,
    "Transpose": _transpose,
}
