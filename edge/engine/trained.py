"""Where the engine finds a recognizer trained by the project: a model folder named in the
settings, or the model registry's current version; both checked by sha256 before use.

The registry's current version is read from the embedded store's pointer
(:mod:`edge.registry_pointer`), so an engine starts without importing MLflow; a store written
before pointers existed gets one at the first start. With ``ALPR_REGISTRY_URI`` naming a
tracking server the server is asked at every start instead (slower: MLflow is imported).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from edge.config import PpOcr, SlotOcr
from edge.manifest import ModelStore, sha256_of, verify
from edge.registry import ModelRegistry, RegistryError
from edge.registry_pointer import (
    CurrentVersion,
    local_database,
    pointer_path,
    read_pointer,
    registry_uri,
)

logger = logging.getLogger(__name__)

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
    ``registry`` when there is one, else the manifest's ``model`` (always with ``registry``
    null). Which one, and why, is logged."""
    if ocr.path:
        logger.info("reading plates with the fine-tuned recognizer in %s (ocr.path)", ocr.path)
        return trained_model(ocr.path)
    if ocr.registry is None:
        logger.info(
            "ocr.registry is null: reading plates with the manifest's %s (the baseline)",
            ocr.model,
        )
        return store.verified(ocr.model)
    current = current_version(ocr.registry)
    if current is None:
        logger.info(
            "no current %s in the registry: reading plates with the manifest's %s",
            ocr.registry,
            ocr.model,
        )
        return store.verified(ocr.model)
    logger.info("reading plates with %s, the registry's current (%s)", current, current.model)
    return current.model


def registered_model(name: str) -> Path:
    """The model file of the registry's current version of ``name``, sha256-verified."""
    current = current_version(name)
    if current is None:
        raise RegistryError(
            f"the model registry has no current version of {name!r}: train one with "
            "`alpr train ocr`, register and promote it (`alpr models register|promote`), or "
            "set ocr.path to a model folder"
        )
    return current.model


def current_version(name: str) -> CurrentVersion | None:
    """The registry's current version of ``name``, its model file checked against the sha256
    the registry recorded; ``None`` when no version is current (or there is no registry)."""
    uri = registry_uri()
    pointer = pointer_path(uri)
    if pointer is None:
        return _asked_server(name, uri)
    versions = read_pointer(pointer)
    if versions is None:
        database = local_database(uri)
        if database is None or not database.is_file():
            return None
        # A store promoted into before pointers existed: ask MLflow once, write the pointer.
        logger.info("writing the registry's pointer %s (once) from %s", pointer, database)
        versions = ModelRegistry(uri).write_pointer()
    current = versions.get(name)
    if current is not None:
        _check(current, pointer)
    return current


def _asked_server(name: str, uri: str) -> CurrentVersion | None:
    """The slow path: a tracking server has no pointer, its current version may change from
    any machine; MLflow is imported and the model downloaded once, then checked."""
    registry = ModelRegistry(uri)
    version = registry.current(name)
    if version is None:
        return None
    model = registry.path(version) / MODEL_FILE
    return CurrentVersion(name, version.version, version.sha256, model)


def _check(current: CurrentVersion, pointer: Path) -> None:
    """Raises ``RegistryError`` unless ``current``'s model file has the sha256 it records."""
    remedy = (
        f"delete {pointer} to have it written again from the registry at the next start (the "
        "model is checked again), or set `ocr: {registry: null}` to read with the manifest's "
        "recognizer"
    )
    if not current.model.is_file():
        raise RegistryError(
            f"the registry's current {current} points at {current.model}, which is missing "
            f"(pointer {pointer}): {remedy}"
        )
    actual = sha256_of(current.model)
    if actual != current.sha256:
        raise RegistryError(
            f"the registry's current {current}: {current.model} has sha256 {actual}, not "
            f"{current.sha256} as registered (pointer {pointer}); refusing to read with it: "
            f"{remedy}"
        )
