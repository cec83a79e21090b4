"""Fixtures for tests that run the real models on the real sample photographs.

They need ``alpr models fetch`` and ``python -m bench.samples`` to have run (the test target
does both first). A missing cache fails these tests with the command to run: it never
skips them, so a run without models cannot pass unnoticed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.manifest import ModelStore, alpr_home
from tests.support.engine import BASELINE


@pytest.fixture(scope="session")
def model_store() -> ModelStore:
    store = ModelStore()
    missing = [name for name in store.manifest.models if not store.available(name)]
    if missing:
        pytest.fail(f"models {missing} are not in {store.root}: run `alpr models fetch` first")
    return store


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    directory = alpr_home() / "samples" / "plates"
    if not (directory / "labels.tsv").is_file():
        pytest.fail(f"no labelled set in {directory}: run `python -m bench.samples` first")
    return directory


@pytest.fixture(scope="session")
def plate_crop(samples_dir: Path) -> np.ndarray:
    """A real rectified plate crop, ``AD799KB``."""
    image = cv2.imread(str(samples_dir / "fast-plate-ocr-plate-1.png"))
    assert image is not None
    return image


@pytest.fixture(scope="session")
def engine(model_store: ModelStore) -> Iterator[object]:
    from edge.engine.factory import build_engine

    yield build_engine(BASELINE, store=model_store)


@pytest.fixture(scope="session")
def smoke_model(tmp_path_factory: pytest.TempPathFactory, model_store: ModelStore) -> Path:
    """PP-OCR fine-tuned for a few steps on a few synthetic lines (the CI smoke run): a real
    fine-tuned recognizer folder, trained once for every module that needs one."""
    from edge.training.ppocr import PpOcrTrainSettings, train_ppocr

    out = tmp_path_factory.mktemp("smoke") / "plate-ocr-ppocr"
    settings = PpOcrTrainSettings(
        out=out,
        base=model_store.verified("text_rec"),
        steps=3,
        batch=8,
        validate_every=3,
        synthetic_validation=32,
        regions=("de",),
        two_line_share=0.0,
    )
    seen: list[tuple[int, dict[str, float]]] = []
    train_ppocr(settings, lambda step, figures: seen.append((step, figures)))
    assert [step for step, _ in seen] == [0, 1, 2, 3]
    assert all(np.isfinite(figures["loss"]) for step, figures in seen if step)
    return out
