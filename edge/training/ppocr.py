"""Fine-tunes PP-OCRv6's small recognizer (the engine's default reader) on plate lines.

PP-OCR reads real text well but never learnt plate fonts, two-line layouts cut in half, or
that a plate holds only 0-9 and A-Z. Here its ONNX graph is run as a JAX function of its
weights (:mod:`edge.training.onnx_jax`), its output layer cut to the CTC blank, the plate
charset and the space (18,710 classes -> 38; the space keeps the reader's vocabulary
convention: blank, ``character``, space), and trained with CTC on synthetic plate lines cut as
the engine cuts them (:mod:`edge.training.line_data`). The backbone may stay frozen
(``freeze``): its backward pass is most of a step's time on a CPU.

The result is the same graph with the trained weights and the plate charset as its
``character`` metadata: input 3x48xW in [-1, 1], output N x T x 38 softmax, so
:class:`edge.engine.ocr.PpOcrReader` reads with it unchanged (``ocr: {type: ppocr, path:
OUT}``). The weights kept are those with the most exact held-out synthetic lines.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edge.manifest import sha256_of
from edge.training.line_data import WIDTH_BUCKET

LICENCE = (
    "Apache-2.0 (derived from PaddleOCR's PP-OCRv6 small recognition model, Apache-2.0, as "
    "shipped in rapidocr 3.10.0; fine-tuned by the project on its own synthetic plates)"
)
CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: Where PP-OCRv6 small's backbone ends (its last pooling) and its SVTR neck begins.
BACKBONE_OUTPUT = "p2o.pd_op.pool2d.1.0"
MODEL_NAME = "plate-ocr-ppocr"
#: Held-out lines read per forward pass.
VALIDATION_CHUNK = 32


class PpOcrTrainSettings(BaseModel):
    """Settings of one fine-tuning run; every field is recorded in the model card."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    out: Path = Field(description="Folder the model is written to")
    base: Path = Field(description="The PP-OCR recognition model (ONNX) to start from")
    steps: int = Field(default=600, ge=1, le=1_000_000, description="Optimiser steps")
    batch: int = Field(default=16, ge=2, le=1024, description="Lines per step")
    learning_rate: float = Field(default=2e-4, gt=0, le=0.01, description="Peak learning rate")
    warmup: int = Field(default=30, ge=0, le=100_000, description="Steps of linear warm-up")
    freeze: Literal["backbone", "none"] = Field(
        default="backbone", description="Weights kept as they are: the backbone's, or none"
    )
    regions: tuple[str, ...] = Field(
        default=("any",), min_length=1, description="Regions or groups whose layouts are drawn"
    )
    two_line_share: float = Field(
        default=0.35, ge=0.0, le=1.0, description="Share of synthetic plates with two lines"
    )
    stretch: float = Field(
        default=1.5,
        ge=1.0,
        le=3.0,
        description="Stretch of one-line crops, as the reader's ocr.stretch (split lines: 1)",
    )
    pad_width: int = Field(
        default=192, ge=8, le=1280, description="Lines padded to this width, as ocr.pad_width"
    )
    validate_every: int = Field(default=100, ge=1, le=100_000, description="Steps between checks")
    synthetic_validation: int = Field(
        default=384, ge=16, le=20_000, description="Synthetic lines held out for validation"
    )
    seed: int = Field(default=0, ge=0, description="Seed of the data")


Progress = Callable[[int, dict[str, float]], None]


def train_ppocr(settings: PpOcrTrainSettings, progress: Progress | None = None) -> dict[str, Any]:
    """Runs the fine-tuning and writes the model folder; returns the model card."""
    import jax
    import optax

    from edge.training.line_data import synthetic_lines, to_batch, training_lines
    from edge.training.onnx_jax import OnnxFunction

    started = time.monotonic()
    graph = OnnxFunction.load(settings.base)
    logits_name = graph.producer_of_input(graph.output_name)
    head = head_columns(graph.model)
    fixed, trainable = _split_params(graph, head, settings.freeze)
    frozen = BACKBONE_OUTPUT if settings.freeze == "backbone" else None

    def logits(params: Any, images: Any) -> Any:
        return graph({**fixed, **params}, images, logits_name, frozen)

    def loss(params: Any, images: Any, widths: Any, labels: Any) -> Any:
        out = logits(params, images)
        steps = _steps(widths, images.shape[3], out.shape[1])
        t = jax.numpy.arange(out.shape[1])[None, :]
        logit_pad = (t >= steps[:, None]).astype(out.dtype)
        label_pad = (labels == 0).astype(out.dtype)
        return optax.ctc_loss(out, logit_pad, labels, label_pad, blank_id=0).mean()

    schedule = optax.warmup_cosine_decay_schedule(
        0.0,
        settings.learning_rate,
        min(settings.warmup, settings.steps - 1) or 1,
        # optax needs a decay after the warm-up: one step more than a 1-step run takes.
        max(settings.steps, 2),
        settings.learning_rate * 0.05,
    )
    optimiser = optax.chain(optax.clip_by_global_norm(5.0), optax.adam(schedule))
    state = optimiser.init(trainable)

    @jax.jit
    def step(params: Any, state: Any, images: Any, widths: Any, labels: Any) -> Any:
        value, grads = jax.value_and_grad(loss)(params, images, widths, labels)
        updates, state = optimiser.update(grads, state, params)
        return optax.apply_updates(params, updates), state, value

    predict = jax.jit(logits)
    held_out = to_batch(
        synthetic_lines(
            2**31 - 1 - settings.seed,
            settings.synthetic_validation,
            settings.regions,
            settings.two_line_share,
            settings.stretch,
        ),
        CHARSET,
        settings.pad_width,
    )
    figures = _score(predict, trainable, held_out)
    base_figures = figures
    best = (figures["exact"], 0, figures, trainable)
    if progress:
        progress(0, _flat(figures))
    losses: list[float] = []
    seen = 0
    for number in range(1, settings.steps + 1):
        lines = training_lines(
            (settings.seed + 1) * 1_000_003 + number,
            settings.batch,
            settings.regions,
            settings.two_line_share,
            settings.stretch,
            CHARSET,
        )
        batch = to_batch(lines, CHARSET, settings.pad_width)
        seen += len(batch.texts)
        trainable, state, value = step(trainable, state, batch.images, batch.widths, batch.labels)
        losses.append(float(value))
        if number % settings.validate_every == 0 or number == settings.steps:
            figures = _score(predict, trainable, held_out)
            if figures["exact"] > best[0]:
                best = (figures["exact"], number, figures, jax.tree.map(np.asarray, trainable))
            if progress:
                progress(number, {"loss": float(np.mean(losses[-20:])), **_flat(figures)})
        elif progress:
            progress(number, {"loss": float(np.mean(losses[-20:]))})
    _, best_step, figures, kept = best
    weights = {**fixed, **{k: np.asarray(v) for k, v in kept.items()}}
    return _write(
        settings,
        graph,
        weights,
        {"synthetic_lines": figures, "synthetic_lines_base": base_figures},
        {
            "seconds": time.monotonic() - started,
            "lines_seen": seen,
            "best_step": best_step,
            "final_loss": float(np.mean(losses[-20:])) if losses else None,
        },
    )


def head_columns(model: Any, charset: str = CHARSET) -> list[int]:
    """The output columns of PP-OCR's vocabulary kept: the blank, ``charset`` (upper case)
    and the space, in that order."""
    metadata = {p.key: p.value for p in model.metadata_props}
    vocabulary = ["blank", *metadata["character"].splitlines(), " "]
    index = {char: i for i, char in reversed(list(enumerate(vocabulary)))}
    missing = [c for c in charset if c not in index]
    if missing:
        raise ValueError(f"the base model's vocabulary lacks {''.join(missing)!r}")
    return [0, *(index[c] for c in charset), len(vocabulary) - 1]


def _split_params(
    graph: Any, head: list[int], freeze: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(fixed, trainable) weights; the output layer cut to the ``head`` columns."""
    import jax.numpy as jnp

    params = dict(graph.params)
    weight, bias = _output_layer(graph)
    params[weight] = params[weight][:, head]
    params[bias] = params[bias][head]
    backbone = _weights_before(graph, BACKBONE_OUTPUT) if freeze == "backbone" else set()
    fixed = {k: jnp.asarray(v) for k, v in params.items() if k in backbone}
    trainable = {k: jnp.asarray(v) for k, v in params.items() if k not in backbone}
    return fixed, trainable


def _output_layer(graph: Any) -> tuple[str, str]:
    """The names of the last MatMul's weight and the bias added to it."""
    matmuls = [(inputs, outputs) for op, inputs, outputs, _ in graph.nodes if op == "MatMul"]
    inputs, outputs = matmuls[-1]
    for op, add_inputs, _, _ in graph.nodes:
        if op == "Add" and add_inputs[0] == outputs[0]:
            return inputs[1], add_inputs[1]
    raise ValueError("the base model's output layer has no bias")


def _weights_before(graph: Any, tensor: str) -> set[str]:
    """The trainable weights used by the nodes up to the one computing ``tensor``."""
    used: set[str] = set()
    for _, inputs, outputs, _ in graph.nodes:
        used.update(i for i in inputs if i in graph.params)
        if tensor in outputs:
            return used
    raise KeyError(f"no node computes {tensor!r}")


def _steps(widths: Any, batch_width: int, batch_steps: int) -> Any:
    """Output steps covering each line's own width, as the reader counts them."""
    import jax.numpy as jnp

    return jnp.clip(jnp.ceil(batch_steps * widths / batch_width), 1, batch_steps)


def _score(predict: Any, params: Any, data: Any) -> dict[str, float]:
    """Exact lines (all, of one-line plates, of two-line plates) and character error rate."""
    from edge.training.evaluate import read_figures

    # Read in chunks of lines of like width, each chunk only as wide as its widest line
    # (as the reader batches), so that few shapes are compiled and little is padding.
    order = np.argsort(data.widths, kind="stable")
    found: dict[int, str] = {}
    for start in range(0, len(order), VALIDATION_CHUNK):
        rows = order[start : start + VALIDATION_CHUNK]
        widths = data.widths[rows]
        width = -(-int(widths.max()) // WIDTH_BUCKET) * WIDTH_BUCKET
        out = np.asarray(predict(params, data.images[rows, :, :, :width]))
        found.update(zip(rows.tolist(), _texts(out, widths, width), strict=True))
    texts = [found[i] for i in range(len(data.texts))]
    exact = [t == truth for t, truth in zip(texts, data.texts, strict=True)]
    one = [e for e, n in zip(exact, data.plate_lines, strict=True) if n == 1]
    two = [e for e, n in zip(exact, data.plate_lines, strict=True) if n == 2]
    return {
        "lines": float(len(texts)),
        **read_figures(texts, data.texts),
        "one_line_lines": float(len(one)),
        "one_line_exact": float(sum(one)),
        "two_line_lines": float(len(two)),
        "two_line_exact": float(sum(two)),
    }


def _texts(logits: np.ndarray, widths: np.ndarray, batch_width: int) -> list[str]:
    """Best-path CTC texts of a batch's logits (blank 0, charset, space last), each read
    over the steps its own width covers."""
    steps = np.clip(np.ceil(logits.shape[1] * widths / batch_width), 1, logits.shape[1])
    symbols = ["", *CHARSET, ""]
    texts = []
    for row, n in zip(logits, steps, strict=True):
        best = row[: int(n)].argmax(axis=-1)
        kept = [int(c) for i, c in enumerate(best) if i == 0 or c != best[i - 1]]
        texts.append("".join(symbols[c] for c in kept))
    return texts


def _flat(figures: dict[str, float]) -> dict[str, float]:
    return {
        "exact_rate": figures["exact_rate"],
        "one_line": figures["one_line_exact"] / max(1.0, figures["one_line_lines"]),
        "two_line": figures["two_line_exact"] / max(1.0, figures["two_line_lines"]),
    }


def _write(
    settings: PpOcrTrainSettings,
    graph: Any,
    weights: dict[str, np.ndarray],
    figures: dict[str, dict[str, float]],
    run: dict[str, Any],
) -> dict[str, Any]:
    import onnx

    from edge.training.onnx_jax import with_weights
    from edge.training.synth import find_fonts

    out = settings.out
    out.mkdir(parents=True, exist_ok=True)
    model = with_weights(
        graph.model,
        weights,
        {"character": "\n".join(CHARSET), "producer": "alpr train ocr --base ppocr"},
    )
    onnx.save(model, str(out / "model.onnx"))
    card = {
        "name": MODEL_NAME,
        "kind": "ppocr",
        "base": {"file": settings.base.name, "sha256": sha256_of(settings.base)},
        "alphabet": CHARSET,
        "sha256": sha256_of(out / "model.onnx"),
        "licence": LICENCE,
        "sources": {
            "synthetic": {
                "regions": list(settings.regions),
                "fonts": [p.name for p in find_fonts()],
            },
            "real": [],
        },
        "settings": json.loads(settings.model_dump_json()),
        "figures": figures,
        "training_seconds": round(run["seconds"], 1),
        "lines_seen": run["lines_seen"],
        "plates_seen": run["lines_seen"],
        "best_step": run["best_step"],
        "final_loss": run["final_loss"],
    }
    (out / "model.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return card
