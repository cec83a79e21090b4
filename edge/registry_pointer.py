"""The registry's pointer to its current versions: a small JSON file the engine reads at start
instead of asking MLflow, whose import alone takes seconds.

``current.json`` beside the embedded store's database (``$ALPR_HOME/registry/current.json`` by
default) maps each model name with a current version to that version's number, its registered
sha256 and its model file::

    {"plate-ocr-ppocr": {"version": 1, "sha256": "2cd3...", "model": "/.../model/model.onnx"}}

:class:`edge.registry.ModelRegistry` rewrites it whole, from what the registry holds, whenever
a current version changes (promote, rollback): into a temporary file renamed over the old one,
so a reader sees the old pointer or the new one, never part of one. It records, it does not
vouch: the engine checks the model file against the sha256 before reading with it
(:func:`edge.engine.trained.current_version`).

Only an embedded store (a ``sqlite:///`` URI) has a pointer. With ``ALPR_REGISTRY_URI`` naming a
tracking server, other machines promote too and a local file would go stale, so the engine
asks the server at every start (the slow path: MLflow is imported, the model downloaded once).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from edge.manifest import alpr_home

URI_ENV = "ALPR_REGISTRY_URI"
POINTER_FILE = "current.json"


@dataclass(frozen=True)
class CurrentVersion:
    """The current version of a registered model, as the pointer records it."""

    name: str
    version: int
    sha256: str
    model: Path

    def __str__(self) -> str:
        return f"{self.name} version {self.version}"


def registry_uri(home: Path | None = None) -> str:
    """``ALPR_REGISTRY_URI``, else the embedded store: SQLite in ``<home>/registry``."""
    root = (home or alpr_home()) / "registry"
    return os.environ.get(URI_ENV) or f"sqlite:///{root / 'mlflow.db'}"


def local_database(uri: str) -> Path | None:
    """The SQLite file of an embedded store, or ``None`` for a server."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri.removeprefix("sqlite:///"))


def pointer_path(uri: str) -> Path | None:
    """Where the pointer of the store at ``uri`` lives; ``None`` for a server, which has none."""
    database = local_database(uri)
    return None if database is None else database.parent / POINTER_FILE


def read_pointer(path: Path) -> dict[str, CurrentVersion] | None:
    """The current versions by name; ``None`` when no pointer was written yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        entries = json.loads(text)
        return {
            name: CurrentVersion(name, int(e["version"]), str(e["sha256"]), Path(e["model"]))
            for name, e in entries.items()
        }
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(
            f"{path} is not a registry pointer ({exc!r}); delete it and it is written again "
            "from the registry at the next engine start"
        ) from None


def write_pointer(path: Path, versions: Iterable[CurrentVersion]) -> None:
    """Replaces the pointer at ``path`` with ``versions``, atomically."""
    entries = {
        v.name: {"version": v.version, "sha256": v.sha256, "model": str(v.model)}
        for v in sorted(versions, key=lambda v: v.name)
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(
            temporary, 0o644
        )  # mkstemp's 0600 would hide it from an engine run as another user
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(entries, out, indent=2)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
