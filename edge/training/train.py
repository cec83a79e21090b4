"""Trains the slot plate recognizer on synthetic plates (and real crops where given), with
validation as it goes, and writes the model folder the engine and the registry take.

The folder holds ``model.onnx`` (:mod:`edge.training.export`), ``model.json`` (the model
card: slot spec, sha256 of the ONNX file, data sources, settings, licence, figures per
validation set) and ``params.npz`` (the weights, to fine-tune from with ``init``). The
weights kept are those of the validation pass with the most exact plates.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edge.engine.slots_input import SlotSpec
from edge.manifest import sha256_of
from edge.training.data import Batch, real_crops, synthetic_batch, synthetic_stream

LICENCE = (
    "Apache-2.0 (weights trained by the project on its own synthetic plates; fonts from "
    "Debian or matplotlib are only rendered, not shipped)"
)


class TrainSettings(BaseModel):
    """Settings of one training run; every field is recorded in the model card."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    out: Path = Field(description="Folder the model is written to")
    steps: int = Field(default=3000, ge=1, le=1_000_000, description="Optimiser steps")
    batch: int = Field(default=64, ge=4, le=1024, description="Plates per step")
    learning_rate: float = Field(default=2e-3, gt=0, le=0.1, description="Peak learning rate")
    warmup: int = Field(default=200, ge=0, le=100_000, description="Steps of linear warm-up")
    regions: tuple[str, ...] = Field(
        default=("any",), min_length=1, description="Regions or groups whose layouts are drawn"
    )
    two_line_share: float = Field(
        default=0.3, ge=0.0, le=1.0, description="Share of synthetic plates with two lines"
    )
    real: tuple[Path, ...] = Field(
        default=(), description="Labelled folders of real plates mixed into training"
    )
    real_share: float = Field(
        default=0.25, ge=0.0, le=0.9, description="Share of each batch from the real folders"
    )
    validation: tuple[Path, ...] = Field(
        default=(), description="Labelled folders of real plates to validate on"
    )
    validate_every: int = Field(default=500, ge=1, le=100_000, description="Steps between checks")
    synthetic_validation: int = Field(
        default=512, ge=32, le=20_000, description="Synthetic plates held out for validation"
    )
    workers: int = Field(
        default=1, ge=0, le=64, description="Processes that render plates (0: in the trainer)"
    )
    seed: int = Field(default=0, ge=0, description="Seed of the weights and of the data")
    init: Path | None = Field(default=None, description="A model folder to fine-tune from")


Progress = Callable[[int, dict[str, float]], None]


def train(settings: TrainSettings, progress: Progress | None = None) -> dict[str, Any]:
    """Runs the training and writes the model folder; returns the model card."""
    import jax
    import jax.numpy as jnp
    import optax

    from edge.training import model as net
    from edge.training.export import to_onnx

    spec = SlotSpec()
    started = time.monotonic()
    params = _initial(settings, spec)
    schedule = optax.warmup_cosine_decay_schedule(
        0.0, settings.learning_rate, min(settings.warmup, settings.steps - 1) or 1, settings.steps
    )
    optimiser = optax.chain(optax.clip_by_global_norm(5.0), optax.adamw(schedule, 1e-4))
    state = optimiser.init(params)

    @jax.jit
    def step(params: Any, state: Any, images: Any, labels: Any) -> tuple[Any, Any, Any]:
        value, grads = jax.value_and_grad(net.loss)(params, images, labels, spec)
        updates, state = optimiser.update(grads, state, params)
        return optax.apply_updates(params, updates), state, value

    predict = jax.jit(lambda p, x: jnp.argmax(net.logits(p, x, spec), axis=-1))
    checks = _validation_sets(settings, spec)
    batches = _batches(settings, spec)
    best: tuple[int, dict[str, dict[str, float]], Any] | None = None
    losses: list[float] = []
    for number in range(1, settings.steps + 1):
        batch = next(batches)
        params, state, value = step(
            params, state, jnp.asarray(_nhwc(batch.images)), jnp.asarray(batch.labels)
        )
        losses.append(float(value))
        if number % settings.validate_every == 0 or number == settings.steps:
            figures = {name: _score(predict, params, data, spec) for name, data in checks.items()}
            # Kept by the held-out synthetic plates only: the real folders are reported,
            # never used to pick weights, so their figures stay an honest measure.
            exact = int(figures["synthetic"]["exact"])
            if best is None or exact > best[0]:
                best = (exact, figures, jax.tree.map(np.asarray, params))
            if progress:
                flat = {f"{n}.exact_rate": f["exact_rate"] for n, f in figures.items()}
                progress(number, {"loss": float(np.mean(losses[-50:])), **flat})
        elif progress and number % 10 == 0:
            progress(number, {"loss": float(np.mean(losses[-50:]))})
    assert best is not None
    _, figures, kept = best
    return _write(settings, spec, kept, figures, time.monotonic() - started, to_onnx)


def _initial(settings: TrainSettings, spec: SlotSpec) -> Any:
    import jax.numpy as jnp

    from edge.training import model as net

    params: Any = net.init_params(spec, settings.seed)
    if settings.init is not None:
        stored = np.load(settings.init / "params.npz")
        params = {
            layer: {k: stored[f"{layer}.{k}"] for k in weights} for layer, weights in params.items()
        }
    return {layer: {k: jnp.asarray(v) for k, v in w.items()} for layer, w in params.items()}


def _batches(settings: TrainSettings, spec: SlotSpec) -> Iterator[Batch]:
    """Training batches: synthetic plates, with a share of real crops when given."""
    real = [real_crops(folder, spec) for folder in settings.real]
    pool = _joined(real) if real else None
    n_real = round(settings.batch * settings.real_share) if pool is not None else 0
    stream = synthetic_stream(
        settings.seed + 1,
        settings.batch - n_real,
        spec,
        settings.regions,
        settings.two_line_share,
        settings.workers,
    )
    rng = np.random.default_rng(settings.seed)
    for synthetic in stream:
        if pool is None or n_real == 0:
            yield synthetic
            continue
        pick = rng.integers(0, len(pool.texts), n_real)
        yield Batch(
            np.concatenate([synthetic.images, pool.images[pick]]),
            np.concatenate([synthetic.labels, pool.labels[pick]]),
            synthetic.texts + tuple(pool.texts[i] for i in pick),
            synthetic.lines + tuple(pool.lines[i] for i in pick),
        )


def _joined(batches: list[Batch]) -> Batch:
    return Batch(
        np.concatenate([b.images for b in batches]),
        np.concatenate([b.labels for b in batches]),
        tuple(t for b in batches for t in b.texts),
        tuple(n for b in batches for n in b.lines),
    )


def _validation_sets(settings: TrainSettings, spec: SlotSpec) -> dict[str, Batch]:
    """Held-out synthetic plates (a seed training never draws) and the real folders."""
    held_out = synthetic_batch(
        2**31 - 1 - settings.seed,
        settings.synthetic_validation,
        spec,
        settings.regions,
        settings.two_line_share,
    )
    sets = {"synthetic": held_out}
    for folder in settings.validation:
        sets[folder.name] = real_crops(folder, spec)
    return sets


def _score(predict: Any, params: Any, data: Batch, spec: SlotSpec) -> dict[str, float]:
    """Exact plates, character error rate and exact two-line plates of one set."""
    from edge.training.evaluate import read_figures

    texts = []
    for start in range(0, len(data.texts), 256):
        classes = np.asarray(predict(params, _nhwc(data.images[start : start + 256])))
        texts += [spec.decode(row) for row in classes]
    exact = [t == truth for t, truth in zip(texts, data.texts, strict=True)]
    two = [e for e, n in zip(exact, data.lines, strict=True) if n == 2]
    return {
        "plates": float(len(texts)),
        **read_figures(texts, data.texts),
        "two_line_plates": float(len(two)),
        "two_line_exact": float(sum(two)),
    }


def _nhwc(images: np.ndarray) -> np.ndarray:
    return images.transpose(0, 2, 3, 1)


def _write(
    settings: TrainSettings,
    spec: SlotSpec,
    params: Any,
    figures: dict[str, dict[str, float]],
    seconds: float,
    to_onnx: Callable[..., None],
) -> dict[str, Any]:
    from edge.training.synth import find_fonts

    out = settings.out
    out.mkdir(parents=True, exist_ok=True)
    np.savez(
        out / "params.npz",
        **{f"{layer}.{k}": np.asarray(v) for layer, w in params.items() for k, v in w.items()},
    )
    to_onnx(params, spec, out / "model.onnx", {"producer": "alpr train ocr"})
    card = {
        "name": "plate-ocr",
        "kind": "slots",
        "spec": {"height": spec.height, "width": spec.width, "slots": spec.slots},
        "alphabet": spec.alphabet,
        "sha256": sha256_of(out / "model.onnx"),
        "licence": LICENCE,
        "sources": {
            "synthetic": {
                "regions": list(settings.regions),
                "fonts": [p.name for p in find_fonts()],
            },
            "real": [str(p) for p in settings.real],
        },
        "settings": json.loads(settings.model_dump_json()),
        "figures": figures,
        "training_seconds": round(seconds, 1),
        "plates_seen": settings.steps * settings.batch,
    }
    (out / "model.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return card
