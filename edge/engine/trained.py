"""Where the engine finds a recognizer trained by the project: a model folder named in the
settings, or the model registry's current version; both checked by sha256 before use."""

from __future__ import annotations

import json
from pathlib import Path

from edge.config import PpOcr, SlotOcr
from edge.manifest import ModelStore, verify

MODEL_FILE = "model.onnx"
CARD_FILE = "model.json"


def trained_model(folder: Path) -> Path:
    """``folder``'s ``model.onnx``, verified against the sha256 its ``model.json`` records."""
    model, card = folder / MODEL_FILE, folder / CARD_FILE
    if not model.is_file() or not card.is_file():
        raise FileNotFoundError(
            f"{folder} is not a trained model folder: it needs {MODEL_FILE} and {CARD_FILE} "
            "(as `alpr train ocr --out` writes them)"
        )
    expected = json.loads(card.read_text(encoding="utf-8")).get("sha256")
    if not isinstance(expected, str):
        raise ValueError(f"{card} records no sha256 of {MODEL_FILE}")
    verify(model, expected)
    return model


def recognizer_model(ocr: SlotOcr) -> Path:
    """The verified model file the slot recognizer of ``ocr`` reads with: its folder when
    ``path`` is set, else the registry's current version of ``model``."""
    return trained_model(ocr.path) if ocr.path else registered_model(ocr.model)


def ppocr_model(ocr: PpOcr, store: ModelStore) -> Path:
    """The verified model file the PP-OCR reader of ``ocr`` reads with: a fine-tuned
    recognizer's folder when ``path`` is set, else the registry's current version of
    ``registry`` when that is set, else the manifest's ``model``."""
    if ocr.path:
        return trained_model(ocr.path)
    if ocr.registry:
        return registered_model(ocr.registry)
    return store.verified(ocr.model)


def registered_model(name: str) -> Path:
    """The model file of the registry's current version of ``name``, sha256-verified."""
    from edge.registry import ModelRegistry, RegistryError

    registry = ModelRegistry()
    version = registry.current(name)
    if version is None:
        raise RegistryError(
            f"the model registry has no current version of {name!r}: train one with "
            "`alpr train ocr`, register and promote it (`alpr models register|promote`), or "
            "set ocr.path to a model folder"
        )
    # The registry checks the folder's model against the card and the registered sha256.
    return registry.path(version) / MODEL_FILE
