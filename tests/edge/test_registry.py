"""The model registry on MLflow (embedded SQLite and files in a temporary ``$ALPR_HOME``):
registering, listing, promotion by measured figures, rollback, sha256 checks, the
``alpr models`` commands and the engine reading with the current version.

One tiny model is trained for the module (two steps); its copies differ in their cards'
names and evaluation figures, so each test works on a model name of its own."""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from edge.cli import models_group
from edge.config import EngineConfig, SlotOcr
from edge.engine.factory import build_engine
from edge.engine.slot_reader import SlotReader
from edge.manifest import ChecksumError, ModelStore, alpr_home, sha256_of
from edge.registry import (
    Figures,
    ModelRegistry,
    PromotionRefused,
    RegistryError,
    SetComparison,
    compare,
)

# The vehicle and plate models come from the real cache, not from the module's $ALPR_HOME.
MODELS_HOME = alpr_home()


def _figures(exact_rate: float, cer: float, plates: int = 50) -> dict[str, float]:
    return {
        "plates": plates,
        "exact": round(exact_rate * plates),
        "exact_rate": exact_rate,
        "cer": cer,
        "two_line_plates": 4,
        "two_line_exact": 2,
        "ms_per_image": 9.0,
    }


BASELINE: Figures = {"plates": _figures(0.70, 0.080), "eu-cars": _figures(0.60, 0.100)}
GOOD: Figures = {"plates": _figures(0.80, 0.050), "eu-cars": _figures(0.64, 0.090)}
BETTER: Figures = {"plates": _figures(0.86, 0.040), "eu-cars": _figures(0.70, 0.070)}
# Better on one set, worse on the other: 4 points fewer exact reads and 0.010 more CER.
MIXED: Figures = {"plates": _figures(0.90, 0.030), "eu-cars": _figures(0.60, 0.080)}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh ``$ALPR_HOME`` for the module, so the registry starts empty."""
    directory = tmp_path_factory.mktemp("alpr-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ALPR_HOME", str(directory))
        patch.delenv("ALPR_REGISTRY_URI", raising=False)
        yield directory


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real model folder from a two-step training run."""
    from edge.training.train import TrainSettings, train

    out = tmp_path_factory.mktemp("trained") / "plate-ocr"
    train(
        TrainSettings(
            out=out, steps=2, batch=8, synthetic_validation=32, validate_every=2, workers=0
        )
    )
    return out


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a network connection fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"the registry tried to reach the network: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _variant(trained: Path, where: Path, name: str, evaluation: dict[str, Figures] | None) -> Path:
    """A copy of the trained folder whose card has ``name`` and ``evaluation``."""
    folder = where / f"{name}-{len(list(where.iterdir()))}"
    shutil.copytree(trained, folder)
    card = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    card["name"] = name
    if evaluation is None:
        card.pop("evaluation", None)
    else:
        card["evaluation"] = evaluation
    (folder / "model.json").write_text(json.dumps(card), encoding="utf-8")
    return folder


def _measured(trained: Figures) -> dict[str, Figures]:
    return {"current": BASELINE, "trained": trained}


def test_a_candidate_worse_on_one_set_is_worse_and_says_by_how_much() -> None:
    plates, eu_cars = compare(MIXED, GOOD)
    assert not plates.worse
    assert eu_cars.worse
    assert eu_cars.exact_rate_change == pytest.approx(-0.04)
    assert eu_cars.cer_change == pytest.approx(-0.01)
    assert "-4.0 points" in eu_cars.describe() and "WORSE" in eu_cars.describe()
    assert "+10.0 points" in plates.describe() and "WORSE" not in plates.describe()


def test_a_higher_cer_alone_is_worse_and_equal_figures_are_not() -> None:
    same_rate = {"plates": _figures(0.80, 0.051)}
    (higher_cer,) = compare(same_rate, {"plates": _figures(0.80, 0.050)})
    assert higher_cer.worse and "(+0.001)" in higher_cer.describe()
    assert not any(c.worse for c in compare(GOOD, GOOD))


def test_a_set_the_candidate_was_not_measured_on_is_worse_and_a_new_set_is_not() -> None:
    comparisons = compare({"new-set": _figures(0.5, 0.2)}, {"plates": _figures(0.7, 0.08)})
    assert [(c.name, c.worse) for c in comparisons] == [("plates", True), ("new-set", False)]
    assert "not measured" in comparisons[0].describe()
    assert SetComparison("x", _figures(0.5, 0.1), None).exact_rate_change == 0.0


def test_registered_versions_are_listed_promoted_and_rolled_back(
    home: Path, trained: Path, tmp_path: Path, no_network: None
) -> None:
    registry = ModelRegistry()
    assert registry.uri == f"sqlite:///{home / 'registry' / 'mlflow.db'}"
    assert registry.current("round-trip") is None
    first = registry.register(_variant(trained, tmp_path, "round-trip", _measured(GOOD)))
    second = registry.register(_variant(trained, tmp_path, "round-trip", _measured(BETTER)))

    assert [v.version for v in registry.versions("round-trip")] == [1, 2]
    assert "round-trip" in registry.names()
    card = json.loads((trained / "model.json").read_text(encoding="utf-8"))
    assert first.sha256 == card["sha256"] == sha256_of(trained / "model.onnx")
    assert first.tags["licence"] == card["licence"]
    assert json.loads(first.tags["sources"]) == card["sources"]
    assert json.loads(first.tags["settings"])["steps"] == 2
    assert json.loads(first.tags["figures"]) == card["figures"]
    assert second.evaluation["trained"] == BETTER

    promoted = registry.promote("round-trip", 1)
    assert promoted.against.startswith("the baseline") and not promoted.forced
    assert [c.name for c in promoted.comparisons] == ["plates", "eu-cars"]
    assert registry.current("round-trip") == registry.version("round-trip", 1)
    assert registry.promote("round-trip", 2).against == "round-trip version 1"
    assert registry.current("round-trip") == registry.version("round-trip", 2)

    folder = registry.path(second)
    assert folder.is_relative_to(home / "registry")
    assert sha256_of(folder / "model.onnx") == second.sha256

    assert registry.rollback("round-trip") == registry.version("round-trip", 1)
    assert registry.rollback("round-trip") is None
    assert registry.current("round-trip") is None
    with pytest.raises(RegistryError, match="no promotion to roll back"):
        registry.rollback("round-trip")


def test_a_promotion_that_reads_worse_is_refused_unless_forced(
    home: Path, trained: Path, tmp_path: Path
) -> None:
    registry = ModelRegistry()
    registry.register(_variant(trained, tmp_path, "guarded", _measured(GOOD)))
    registry.register(_variant(trained, tmp_path, "guarded", _measured(MIXED)))
    registry.promote("guarded", 1)

    with pytest.raises(PromotionRefused) as refused:
        registry.promote("guarded", 2)
    message = str(refused.value)
    assert "worse than guarded version 1 on 1 of 2 evaluation sets" in message
    assert "eu-cars" in message and "-4.0 points" in message and "--force" in message
    assert registry.current("guarded") == registry.version("guarded", 1)

    forced = registry.promote("guarded", 2, force=True)
    assert forced.forced
    current = registry.current("guarded")
    assert current is not None and current.version == 2
    assert "eu-cars" in current.tags["forced"] and "promoted" in current.tags


def test_a_version_without_figures_is_measured_at_promotion_and_they_are_recorded(
    home: Path, trained: Path, tmp_path: Path
) -> None:
    registry = ModelRegistry()
    registry.register(_variant(trained, tmp_path, "unmeasured", None))
    measured: list[Path] = []

    def measure(folder: Path) -> dict[str, Figures]:
        measured.append(folder)
        return _measured(GOOD)

    registry.promote("unmeasured", 1, measure=measure)
    assert measured == [registry.path(registry.version("unmeasured", 1))]
    assert registry.version("unmeasured", 1).evaluation == _measured(GOOD)

    # Figures of the model without the baseline's beside them: measured again, both.
    registry.register(_variant(trained, tmp_path, "no-baseline", {"trained": GOOD}))
    promoted = registry.promote("no-baseline", 1, measure=measure)
    assert len(measured) == 2 and promoted.comparisons[0].reference == BASELINE["plates"]


def test_a_tampered_registered_model_is_refused(home: Path, trained: Path, tmp_path: Path) -> None:
    registry = ModelRegistry()
    version = registry.register(_variant(trained, tmp_path, "tampered", _measured(GOOD)))
    folder = registry.path(version)
    with (folder / "model.onnx").open("ab") as model:
        model.write(b"\0")
    with pytest.raises(ChecksumError, match="checksum mismatch"):
        registry.path(version)
    # A card rewritten to match the changed file still differs from the registered sha256.
    card = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    card["sha256"] = sha256_of(folder / "model.onnx")
    (folder / "model.json").write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(ChecksumError, match=version.sha256):
        registry.path(version)


def test_unknown_models_and_versions_are_named_in_the_error(home: Path) -> None:
    registry = ModelRegistry()
    with pytest.raises(RegistryError, match="no model 'nothing-here'"):
        registry.promote("nothing-here", 1)
    with pytest.raises(RegistryError, match="not a registry name"):
        registry.versions("no'quotes")


def test_models_commands_register_list_promote_and_rollback(
    home: Path, trained: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    good = _variant(trained, tmp_path, "cli-ocr", _measured(GOOD))
    mixed = _variant(trained, tmp_path, "cli-ocr", _measured(MIXED))
    for folder in (good, mixed):
        result = runner.invoke(models_group, ["register", str(folder)])
        assert result.exit_code == 0, result.output
    assert "registered cli-ocr version 2" in result.output

    result = runner.invoke(models_group, ["promote", "cli-ocr", "1"])
    assert result.exit_code == 0, result.output
    assert "compared with the baseline" in result.output and "+10.0 points" in result.output

    result = runner.invoke(models_group, ["promote", "cli-ocr", "2"])
    assert result.exit_code == 1
    assert "refused" in result.output and "eu-cars" in result.output
    assert "-4.0 points" in result.output

    result = runner.invoke(models_group, ["list"])
    assert result.exit_code == 0, result.output
    assert "text_rec" in result.output and "baseline" in result.output
    sha = sha256_of(trained / "model.onnx")[:12]
    assert f"* cli-ocr v1   sha256 {sha}" in result.output
    assert "exact: plates 80.0% eu-cars 64.0%" in result.output

    result = runner.invoke(models_group, ["promote", "cli-ocr", "2", "--force"])
    assert result.exit_code == 0 and "forced" in result.output
    result = runner.invoke(models_group, ["rollback", "cli-ocr"])
    assert result.exit_code == 0 and "cli-ocr version 1 is current again" in result.output

    result = runner.invoke(models_group, ["promote", "cli-ocr", "9"])
    assert result.exit_code == 1 and "has no version 9 (registered versions: 1, 2)" in result.output
    result = runner.invoke(models_group, ["register", str(tmp_path)])
    assert result.exit_code == 1 and "not a trained model folder" in result.output


def test_the_engine_reads_with_the_registrys_current_version(
    home: Path, trained: Path, tmp_path: Path
) -> None:
    config, model_store = EngineConfig(ocr=SlotOcr()), ModelStore(MODELS_HOME)
    registry = ModelRegistry()
    version = registry.register(_variant(trained, tmp_path, "plate-ocr", _measured(GOOD)))
    with pytest.raises(RegistryError, match="no current version of 'plate-ocr'"):
        build_engine(config, store=model_store)

    registry.promote("plate-ocr", version.version)
    engine = build_engine(config, store=model_store)
    assert isinstance(engine.reader, SlotReader)
    assert (
        engine.reader.spec.slots
        == json.loads((trained / "model.json").read_text(encoding="utf-8"))["spec"]["slots"]
    )

    with (registry.path(version) / "model.onnx").open("ab") as model:
        model.write(b"\0")
    with pytest.raises(RegistryError, match="refusing to read with it"):
        build_engine(config, store=model_store)
