"""Fixtures for tests that run the real models on the real sample photographs.

They need ``alpr models fetch`` and ``python -m bench.samples`` to have run (the test target
does both first). A missing cache fails these tests with the command to run: it never
skips them, so a run without models cannot pass unnoticed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.manifest import ModelStore, alpr_home


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
def engine(model_store: ModelStore) -> Iterator[object]:
    from edge.engine.factory import build_engine

    yield build_engine(store=model_store)
