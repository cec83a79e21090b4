"""Which recognizer the default engine reads with: the registry's current plate-ocr-ppocr,
found through the registry's pointer, else the manifest's PP-OCRv6 (a fresh machine, CI);
``registry: null`` always the manifest's. Each test has a registry of its own (embedded MLflow
in a temporary ``$ALPR_HOME``) holding conftest's smoke fine-tuned model."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from edge.config import EngineConfig, NoVehicles, PpOcr, load_engine_config
from edge.engine.factory import build_engine
from edge.engine.ocr import PpOcrReader
from edge.engine.trained import ppocr_model
from edge.formats import PlateFormats
from edge.manifest import ModelStore, sha256_of
from edge.registry import ModelRegistry, RegistryError

NAME = "plate-ocr-ppocr"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty ``$ALPR_HOME``: no registry yet. (The models come from conftest's store.)
    OpenVINO's runtime, kept once per process with its compiled-model cache in
    ``$ALPR_HOME``, is set up again on each side, so no later test finds it in this one."""
    from edge.engine.openvino_session import _core

    directory = tmp_path / "home"
    monkeypatch.setenv("ALPR_HOME", str(directory))
    monkeypatch.delenv("ALPR_REGISTRY_URI", raising=False)
    _core.cache_clear()
    yield directory
    _core.cache_clear()


@pytest.fixture
def registry(home: Path, smoke_model: Path, tmp_path: Path) -> ModelRegistry:
    """A registry holding two versions of plate-ocr-ppocr (the smoke model, figures equal to
    the baseline's so that promotion takes them), neither promoted."""
    registry = ModelRegistry()
    for number in (1, 2):
        registry.register(_candidate(smoke_model, tmp_path / f"candidate-{number}"))
    return registry


#: Figures on the evaluation sets equal to the baseline's: a promotion takes them.
AS_GOOD = {"plate-crops": {"plates": 1, "exact": 1, "exact_rate": 1.0, "cer": 0.0}}


def _candidate(smoke_model: Path, folder: Path, trained: object = AS_GOOD) -> Path:
    """A copy of the smoke model in ``folder``, its card holding ``trained`` figures (and
    the baseline's as the current ones) as `alpr train ocr --evaluate` records them."""
    shutil.copytree(smoke_model, folder)
    card = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    assert card["name"] == NAME
    card["evaluation"] = {"current": AS_GOOD, "trained": trained}
    (folder / "model.json").write_text(json.dumps(card), encoding="utf-8")
    return folder


def _pointer(home: Path) -> dict[str, dict[str, object]]:
    return dict(json.loads((home / "registry" / "current.json").read_text(encoding="utf-8")))


def _model_of(registry: ModelRegistry, version: int) -> Path:
    return registry.path(registry.version(NAME, version)) / "model.onnx"


def test_a_fresh_machine_reads_with_the_manifests_recognizer(
    home: Path, model_store: ModelStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edge.engine.trained")
    assert PpOcr().registry == NAME
    assert ppocr_model(PpOcr(), model_store) == model_store.path("text_rec")
    assert f"no current {NAME} in the registry: reading plates with the manifest's text_rec" in (
        caplog.text
    )
    assert not (home / "registry").exists(), "reading created a registry"


def test_the_promoted_version_is_read_and_promotions_and_rollbacks_move_the_pointer(
    registry: ModelRegistry,
    home: Path,
    model_store: ModelStore,
    plate_crop: np.ndarray,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="edge.engine.trained")
    # Registered, none current: the manifest's, and the pointer says so.
    assert ppocr_model(PpOcr(), model_store) == model_store.path("text_rec")
    assert _pointer(home) == {}

    registry.promote(NAME, 1)
    first = _model_of(registry, 1)
    sha = sha256_of(first)
    assert _pointer(home) == {NAME: {"version": 1, "sha256": sha, "model": str(first)}}
    assert ppocr_model(PpOcr(), model_store) == first
    assert f"reading plates with {NAME} version 1, the registry's current" in caplog.text

    registry.promote(NAME, 2)
    assert _pointer(home)[NAME]["version"] == 2
    assert ppocr_model(PpOcr(), model_store) == _model_of(registry, 2)

    assert registry.rollback(NAME) == registry.version(NAME, 1)
    assert _pointer(home)[NAME] == {"version": 1, "sha256": sha, "model": str(first)}
    config = EngineConfig(vehicles=NoVehicles())
    engine = build_engine(config, store=model_store)
    assert isinstance(engine.reader, PpOcrReader)
    reads = engine.reader.read([plate_crop], PlateFormats(config.formats))
    assert reads and reads[0].text == "AD799KB"

    assert registry.rollback(NAME) is None
    assert _pointer(home) == {}
    assert ppocr_model(PpOcr(), model_store) == model_store.path("text_rec")


def test_registry_null_reads_with_the_manifests_recognizer_even_with_one_current(
    registry: ModelRegistry,
    model_store: ModelStore,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="edge.engine.trained")
    registry.promote(NAME, 1)
    settings = tmp_path / "engine.yaml"
    settings.write_text("ocr:\n  registry: null\n", encoding="utf-8")
    ocr = load_engine_config(settings).ocr
    assert isinstance(ocr, PpOcr) and ocr.registry is None
    assert ppocr_model(ocr, model_store) == model_store.path("text_rec")
    assert "ocr.registry is null: reading plates with the manifest's text_rec" in caplog.text


def test_a_pointer_whose_model_fails_its_sha256_is_an_error_not_a_fallback(
    registry: ModelRegistry, home: Path, model_store: ModelStore
) -> None:
    registry.promote(NAME, 1)
    pointer = home / "registry" / "current.json"
    recorded = _pointer(home)
    recorded[NAME]["sha256"] = "0" * 64
    pointer.write_text(json.dumps(recorded), encoding="utf-8")
    config = EngineConfig(vehicles=NoVehicles())
    with pytest.raises(RegistryError) as error:
        build_engine(config, store=model_store)
    message = str(error.value)
    assert f"the registry's current {NAME} version 1" in message
    assert f"not {'0' * 64} as registered (pointer {pointer})" in message
    assert "registry: null" in message

    # The pointer as the registry wrote it, but the model file changed since.
    first = _model_of(registry, 1)
    registry.promote(NAME, 2)
    with first.open("ab") as model:
        model.write(b"\0")
    registry.rollback(NAME)
    with pytest.raises(RegistryError, match="refusing to read with it"):
        build_engine(config, store=model_store)


def test_a_registry_promoted_before_pointers_gets_one_at_the_first_start(
    registry: ModelRegistry, home: Path, model_store: ModelStore
) -> None:
    registry.promote(NAME, 1)
    pointer = home / "registry" / "current.json"
    pointer.unlink()
    assert ppocr_model(PpOcr(), model_store) == _model_of(registry, 1)
    assert _pointer(home)[NAME]["version"] == 1


def test_the_engine_finds_the_current_version_without_importing_mlflow(
    registry: ModelRegistry, home: Path
) -> None:
    """A process of its own, as `alpr read` starts: the pointer is all it reads."""
    registry.promote(NAME, 1)
    script = (
        "import sys\n"
        "from edge.config import PpOcr\n"
        "from edge.engine.trained import ppocr_model\n"
        "from edge.manifest import ModelStore\n"
        "print(ppocr_model(PpOcr(), ModelStore()))\n"
        "print('mlflow' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "ALPR_HOME": str(home)},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [str(_model_of(registry, 1)), "False"]


def test_register_with_promote_makes_a_model_the_default_as_make_train_does(
    home: Path, smoke_model: Path, tmp_path: Path, model_store: ModelStore
) -> None:
    """`alpr models register --promote FOLDER` (the last step of `make train`): registered,
    promoted by measurement (figures equal to the baseline's: taken), and from then on the
    default engine's recognizer."""
    from click.testing import CliRunner

    from edge.cli import models_group

    folder = _candidate(smoke_model, tmp_path / "trained")
    result = CliRunner().invoke(models_group, ["register", "--promote", str(folder)])
    assert result.exit_code == 0, result.output
    assert f"{NAME} version 1 is current" in result.output
    assert _pointer(home)[NAME]["version"] == 1
    expected = _model_of(ModelRegistry(), 1)
    assert ppocr_model(PpOcr(), model_store) == expected
    assert sha256_of(expected) == sha256_of(smoke_model / "model.onnx")
    # A worse candidate is registered but not promoted, and the command fails.
    worse = _candidate(
        smoke_model,
        tmp_path / "worse",
        {"plate-crops": {"plates": 1, "exact": 0, "exact_rate": 0.0, "cer": 0.5}},
    )
    result = CliRunner().invoke(models_group, ["register", "--promote", str(worse)])
    assert result.exit_code == 1, result.output
    assert f"registered {NAME} version 2" in result.output
    assert _pointer(home)[NAME]["version"] == 1
