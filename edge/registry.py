"""The model registry: every recognizer the project trains, on MLflow, with the figures that
decide which one the engine reads with.

A registered version is a copy of a model folder (``model.onnx``, ``model.json``, ...) in the
registry's artifact store, tagged with the card's sha256, licence, data sources, settings,
validation figures and its figures on the evaluation sets. The alias ``current`` marks the
version the engine loads (:func:`edge.engine.trained.current_version`), always by sha256;
while no version is current the engine keeps the manifest's PP-OCR recognizer, the baseline.
Whenever the current version of a model changes, the embedded store rewrites its pointer
(:mod:`edge.registry_pointer`), which the engine reads at start without importing MLflow.

Promotion is by measurement: a candidate that reads worse than the current version (or, with
none current, than the baseline) on any evaluation set, by exact-read rate or by character
error rate, is refused with the differences per set (:func:`compare`); ``force`` overrides
and is recorded on the version. Every promotion is kept in a history, so ``rollback`` goes
back to the version that was current before.

The default store is embedded: SQLite and an artifact folder under ``$ALPR_HOME/registry``,
no server and no network. ``ALPR_REGISTRY_URI`` (or ``uri``) names a site's tracking server
instead. MLflow's usage telemetry is turned off unless the environment asks for it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from edge.manifest import alpr_home, verify
from edge.registry_pointer import (
    CurrentVersion,
    local_database,
    pointer_path,
    registry_uri,
    write_pointer,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion as MlflowVersion

# MLflow starts its usage reporting when it is imported, unless this says no: the registry
# must work offline, and says nothing about a site to anyone. Import this module before mlflow.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

CURRENT = "current"
_HISTORY_TAG = "alpr.current_history"
_NAME = re.compile(r"^[A-Za-z0-9][\w.-]{0,99}$")
#: A set's figures (plates, exact, exact_rate, cer, two_line_plates, ...) per set name.
Figures = dict[str, dict[str, float]]
#: Measures a model folder on the evaluation sets: {"current": baseline, "trained": model}.
Measure = Callable[[Path], dict[str, Figures]]


class RegistryError(RuntimeError):
    """A registry request that cannot be carried out; the message says why."""


@dataclass(frozen=True)
class SetComparison:
    """A candidate's figures on one evaluation set beside the reference's."""

    name: str
    candidate: Mapping[str, float] | None
    reference: Mapping[str, float] | None

    @property
    def exact_rate_change(self) -> float:
        """Candidate minus reference exact-read rate (0 when either is unmeasured)."""
        if self.candidate is None or self.reference is None:
            return 0.0
        return self.candidate["exact_rate"] - self.reference["exact_rate"]

    @property
    def cer_change(self) -> float:
        """Candidate minus reference character error rate (0 when either is unmeasured)."""
        if self.candidate is None or self.reference is None:
            return 0.0
        return self.candidate["cer"] - self.reference["cer"]

    @property
    def worse(self) -> bool:
        """Unmeasured where the reference was measured, or a lower exact rate or higher CER."""
        if self.candidate is None:
            return self.reference is not None
        # The figures are rounded to four places; a difference below that is none.
        return self.exact_rate_change < -1e-9 or self.cer_change > 1e-9

    def describe(self) -> str:
        """One line: both figures and by how much they differ."""
        if self.candidate is None:
            return f"{self.name:14} not measured for the candidate: WORSE"
        if self.reference is None:
            return f"{self.name:14} exact {self.candidate['exact_rate']:.1%} (a set new to it)"
        c, r = self.candidate, self.reference
        return (
            f"{self.name:14} exact {c['exact_rate']:6.1%} vs {r['exact_rate']:6.1%} "
            f"({100 * self.exact_rate_change:+.1f} points), cer {c['cer']:.3f} vs "
            f"{r['cer']:.3f} ({self.cer_change:+.3f}){': WORSE' if self.worse else ''}"
        )


def compare(candidate: Figures, reference: Figures) -> list[SetComparison]:
    """The candidate's figures beside the reference's, set by set (the reference's sets first)."""
    names = list(reference) + [n for n in candidate if n not in reference]
    return [SetComparison(n, candidate.get(n), reference.get(n)) for n in names]


class PromotionRefused(RegistryError):
    """A candidate that reads worse than the reference on at least one set."""

    def __init__(self, candidate: str, against: str, comparisons: list[SetComparison]) -> None:
        worse = [c for c in comparisons if c.worse]
        lines = "\n".join(f"  {c.describe()}" for c in comparisons)
        super().__init__(
            f"refused: {candidate} reads worse than {against} on {len(worse)} of "
            f"{len(comparisons)} evaluation sets:\n{lines}\n"
            "(--force promotes it anyway; the override is recorded on the version)"
        )
        self.comparisons = comparisons


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of a model."""

    name: str
    version: int
    sha256: str
    source: str
    created: float
    tags: Mapping[str, str]

    @classmethod
    def from_mlflow(cls, version: MlflowVersion) -> ModelVersion:
        tags = dict(version.tags or {})
        return cls(
            name=version.name,
            version=int(version.version),
            sha256=tags.get("sha256", ""),
            source=version.source or "",
            created=(version.creation_timestamp or 0) / 1000,
            tags=tags,
        )

    @property
    def evaluation(self) -> dict[str, Figures]:
        """Figures on the evaluation sets: ``trained`` (this model) and ``current`` (the
        recognizer it was measured beside); empty when it was never measured."""
        return json.loads(self.tags.get("evaluation") or "{}")

    def __str__(self) -> str:
        return f"{self.name} version {self.version}"


@dataclass(frozen=True)
class Promotion:
    """What a promotion compared and whether it was forced."""

    version: ModelVersion
    against: str
    comparisons: list[SetComparison]
    forced: bool


class ModelRegistry:
    """Registered models on MLflow: register, list, promote by measurement, roll back."""

    def __init__(self, uri: str | None = None, home: Path | None = None) -> None:
        self.root = (home or alpr_home()) / "registry"
        self.uri = uri or registry_uri(home)
        self._client: MlflowClient | None = None

    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            try:
                from mlflow import MlflowClient
            except ImportError:
                raise RegistryError(
                    "the model registry needs MLflow: install the project's `registry` extra "
                    "(pip install -e '.[registry]')"
                ) from None
            database = self._local_database()
            if database is not None:
                database.parent.mkdir(parents=True, exist_ok=True)
            self._client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        return self._client

    def register(self, folder: Path) -> ModelVersion:
        """Copies the model folder in as a new version of its card's name (sha256-checked)."""
        from edge.engine.trained import CARD_FILE, trained_model

        trained_model(folder)
        card: dict[str, Any] = json.loads((folder / CARD_FILE).read_text(encoding="utf-8"))
        name = _checked_name(str(card.get("name", "")))
        run_id = self._logged_run(name, folder, card)
        artifacts = self.client.get_run(run_id).info.artifact_uri
        if self._known(name) is None:
            self.client.create_registered_model(name, description=f"{card.get('kind')} model")
        created = self.client.create_model_version(
            name, f"{artifacts}/model", run_id=run_id, tags=_version_tags(card, folder)
        )
        return ModelVersion.from_mlflow(created)

    def names(self) -> list[str]:
        """The names of the registered models."""
        if self._empty():
            return []
        return sorted(m.name for m in self.client.search_registered_models())

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of ``name``, oldest first."""
        if self._empty() or self._known(name) is None:
            return []
        found = self.client.search_model_versions(f"name='{_checked_name(name)}'")
        return sorted((ModelVersion.from_mlflow(v) for v in found), key=lambda v: v.version)

    def version(self, name: str, version: int) -> ModelVersion:
        """Version ``version`` of ``name``; ``RegistryError`` listing the versions if absent."""
        versions = self.versions(name)
        if not versions:
            raise RegistryError(f"no model {name!r} in the registry ({self.uri})")
        for found in versions:
            if found.version == version:
                return found
        known = ", ".join(str(v.version) for v in versions)
        raise RegistryError(f"{name} has no version {version} (registered versions: {known})")

    def current(self, name: str) -> ModelVersion | None:
        """The version of ``name`` marked current, or ``None`` (the engine keeps PP-OCR)."""
        model = None if self._empty() else self._known(name)
        if model is None or CURRENT not in model.aliases:
            return None
        return self.version(name, int(model.aliases[CURRENT]))

    def promote(
        self, name: str, version: int, force: bool = False, measure: Measure | None = None
    ) -> Promotion:
        """Marks ``version`` current if it reads at least as well as the current version (with
        none, the baseline PP-OCR) on every evaluation set; ``PromotionRefused`` otherwise,
        unless ``force``. A version without figures is measured now (:func:`measure_on_sets`
        unless ``measure`` is given) and its figures recorded."""
        candidate = self.version(name, version)
        current = self.current(name)
        if current is not None and current.version == version:
            raise RegistryError(f"{candidate} is already current")
        # With no version current the baseline's figures must come from the same measurement.
        needed = ("trained",) if current else ("trained", "current")
        figures = self._evaluation(candidate, needed, measure, force)
        if current is None:
            against = "the baseline (the manifest's PP-OCR)"
            reference = figures.get("current") if figures else None
        else:
            against = str(current)
            measured = self._evaluation(current, ("trained",), measure, force)
            reference = measured.get("trained") if measured else None
        trained = figures.get("trained") if figures else None
        comparisons = compare(trained or {}, reference or {}) if trained and reference else []
        refused = not comparisons or any(c.worse for c in comparisons)
        if refused and not force:
            if not comparisons:
                raise RegistryError(f"{candidate} cannot be compared with {against}: unmeasured")
            raise PromotionRefused(str(candidate), against, comparisons)
        self._mark_current(candidate, against, comparisons, forced=refused)
        return Promotion(candidate, against, comparisons, forced=refused)

    def rollback(self, name: str) -> ModelVersion | None:
        """Makes the previously current version current again; ``None`` when there was none
        before, and the engine is back on the baseline."""
        history = self._history(name)
        if not history:
            raise RegistryError(f"{name} has no promotion to roll back")
        rolled_back, history = history[-1], history[:-1]
        self.client.set_model_version_tag(name, str(rolled_back), "rolled_back", _now())
        self.client.set_registered_model_tag(name, _HISTORY_TAG, json.dumps(history))
        if not history:
            self.client.delete_registered_model_alias(name, CURRENT)
            self.write_pointer()
            return None
        self.client.set_registered_model_alias(name, CURRENT, str(history[-1]))
        self.write_pointer()
        return self.version(name, history[-1])

    def path(self, version: ModelVersion) -> Path:
        """The local folder of ``version``'s files, checked against its registered sha256
        (downloaded into ``$ALPR_HOME/registry/downloads`` from a remote store)."""
        from edge.engine.trained import trained_model

        folder = self._folder(version)
        if not version.sha256:
            raise RegistryError(f"{version} records no sha256")
        verify(trained_model(folder), version.sha256)
        return folder

    def write_pointer(self) -> dict[str, CurrentVersion]:
        """Rewrites the embedded store's pointer to the current versions (the engine's fast
        path at start) from the registry, and returns them; a server's store has no pointer."""
        from edge.engine.trained import MODEL_FILE

        path = pointer_path(self.uri)
        if path is None:
            return {}
        current = [c for c in map(self.current, self.names()) if c is not None]
        # The files are checked where they are read, by the engine, against these sha256s.
        versions = {
            c.name: CurrentVersion(c.name, c.version, c.sha256, self._folder(c) / MODEL_FILE)
            for c in current
        }
        write_pointer(path, versions.values())
        return versions

    def _folder(self, version: ModelVersion) -> Path:
        """The local folder of ``version``'s files, downloaded first from a remote store."""
        from edge.engine.trained import MODEL_FILE

        folder = _local_path(version.source)
        if folder is None:
            folder = self.root / "downloads" / version.name / str(version.version)
            if not (folder / MODEL_FILE).is_file():
                self._download(version, folder)
        return folder

    def _evaluation(
        self,
        version: ModelVersion,
        needed: tuple[str, ...],
        measure: Measure | None,
        force: bool,
    ) -> dict[str, Figures] | None:
        """The version's evaluation figures, measured now (and recorded) when one of the
        ``needed`` readers (``trained``, ``current``) has none."""
        if all(version.evaluation.get(reader) for reader in needed):
            return version.evaluation
        try:
            figures = (measure or measure_on_sets)(self.path(version))
        except FileNotFoundError as exc:
            if force:
                return None
            raise RegistryError(
                f"{version} cannot be measured: {exc}; --force promotes it unmeasured"
            ) from None
        self.client.set_model_version_tag(
            version.name, str(version.version), "evaluation", json.dumps(figures)
        )
        return figures

    def _mark_current(
        self, version: ModelVersion, against: str, comparisons: list[SetComparison], forced: bool
    ) -> None:
        name, number = version.name, str(version.version)
        self.client.set_registered_model_alias(name, CURRENT, number)
        history = [*self._history(name), version.version]
        self.client.set_registered_model_tag(name, _HISTORY_TAG, json.dumps(history))
        self.client.set_model_version_tag(name, number, "promoted", f"{_now()} over {against}")
        if forced:
            worse = "; ".join(c.describe() for c in comparisons if c.worse) or "unmeasured"
            self.client.set_model_version_tag(name, number, "forced", f"{_now()}: {worse}")
        self.write_pointer()

    def _history(self, name: str) -> list[int]:
        model = None if self._empty() else self._known(name)
        if model is None:
            raise RegistryError(f"no model {name!r} in the registry ({self.uri})")
        return [int(v) for v in json.loads(model.tags.get(_HISTORY_TAG) or "[]")]

    def _known(self, name: str) -> Any:
        """The registered model ``name``, or ``None``."""
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode

        try:
            return self.client.get_registered_model(_checked_name(name))
        except MlflowException as exc:
            if exc.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
                return None
            raise

    def _logged_run(self, name: str, folder: Path, card: dict[str, Any]) -> str:
        """A run holding the folder's files, settings (params) and figures (metrics)."""
        from mlflow.entities import Metric, Param

        experiment = self.client.get_experiment_by_name(name)
        if experiment is None:
            location = self._local_database()
            artifacts = (location.parent / "artifacts").as_uri() if location else None
            experiment_id = self.client.create_experiment(name, artifact_location=artifacts)
        else:
            experiment_id = experiment.experiment_id
        run = self.client.create_run(experiment_id, run_name=f"{name} {card['sha256'][:12]}")
        run_id = run.info.run_id
        stamp = int(time.time() * 1000)
        params = [Param(_key(k), str(v)[:6000]) for k, v in _flat(card.get("settings", {}))]
        metrics = [
            Metric(_key(k), float(v), stamp, 0)
            for k, v in _flat({"validation": card.get("figures", {}), **_measured(card)})
            if isinstance(v, int | float) and not isinstance(v, bool)
        ]
        for start in range(0, max(len(params), len(metrics)), 100):
            self.client.log_batch(
                run_id, params=params[start : start + 100], metrics=metrics[start : start + 100]
            )
        self.client.log_artifacts(run_id, str(folder), "model")
        self.client.set_terminated(run_id)
        return run_id

    def _download(self, version: ModelVersion, folder: Path) -> None:
        from mlflow.artifacts import download_artifacts

        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        fetched = download_artifacts(
            artifact_uri=version.source, dst_path=str(partial), tracking_uri=self.uri
        )
        Path(fetched).rename(folder)
        shutil.rmtree(partial, ignore_errors=True)

    def _local_database(self) -> Path | None:
        """The SQLite file of a local store, or ``None`` for a server."""
        return local_database(self.uri)

    def _empty(self) -> bool:
        """A local store that was never written: read without creating it."""
        database = self._local_database()
        return database is not None and not database.is_file()


def measure_on_sets(folder: Path) -> dict[str, Figures]:
    """The model in ``folder`` (``trained``) and the baseline engine's PP-OCR (``current``) on
    the evaluation sets, as ``alpr train ocr`` records them; ``FileNotFoundError`` when the
    sets are not fetched."""
    from edge.config import EngineConfig, PpOcr
    from edge.evaluation.sets import evaluation_sets
    from edge.training.evaluate import evaluate, with_model

    sets = evaluation_sets()
    # The manifest's recognizer, not the registry's current version the default engine reads.
    baseline = EngineConfig(ocr=PpOcr(registry=None))
    return evaluate({"current": baseline, "trained": with_model(baseline, folder)}, sets)


def _checked_name(name: str) -> str:
    if not _NAME.match(name):
        raise RegistryError(
            f"model name {name!r} is not a registry name (letters, digits, '.', '_', '-')"
        )
    return name


def _version_tags(card: dict[str, Any], folder: Path) -> dict[str, str]:
    tags = {
        "sha256": card["sha256"],
        "kind": str(card.get("kind", "")),
        "licence": str(card.get("licence", "")),
        "sources": json.dumps(card.get("sources", {})),
        "settings": json.dumps(card.get("settings", {})),
        "figures": json.dumps(card.get("figures", {})),
        "registered_from": str(folder.resolve()),
    }
    if card.get("evaluation"):
        tags["evaluation"] = json.dumps(card["evaluation"])
    return tags


def _measured(card: dict[str, Any]) -> dict[str, Any]:
    evaluation = card.get("evaluation") or {}
    return {"evaluation": evaluation["trained"]} if evaluation.get("trained") else {}


def _flat(tree: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested mappings as dotted keys; lists and other leaves as they are."""
    flat: list[tuple[str, Any]] = []
    for key, value in tree.items():
        if isinstance(value, Mapping):
            flat.extend(_flat(value, f"{prefix}{key}."))
        else:
            flat.append((f"{prefix}{key}", value))
    return flat


def _key(key: str) -> str:
    """``key`` with the characters MLflow refuses in param and metric names replaced."""
    return re.sub(r"[^\w.\- /]", "_", key)[:250]


def _local_path(uri: str) -> Path | None:
    parsed = urlparse(uri)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
