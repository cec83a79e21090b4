"""Plate-reading accuracy on labelled folders, one engine configuration or two side by side.

    python -m bench.accuracy DIR [DIR...] [--config FILE [--config FILE]] [--region R]
                             [--at-box] [--fold-o0] [--quiet]

Each DIR holds images and labels (``labels.tsv``, OpenALPR-style ``IMAGE.txt`` files, or a
TSV of ``file<TAB>plate,plate``; see bench/labels.py). Every image is read by the engine
(``--at-box``: only the reader, at each labelled box, through ``Engine.read_at``); each
labelled plate is matched with the closest read. Per set and configuration it prints:
detection recall (plates found, by box or by a matching read), exact reads, character
error rate (a missed plate counts all its characters), failures by kind (not found,
partial line, missing or extra characters, misread), false reads and time per image; with
two configurations, the plates where they differ. The last line is machine-readable:
``RESULT exact=<fraction> cer=<rate> n=<images>`` (of the first configuration, all sets).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.labels import Label, Outcome, Read, load_set, match


@dataclass
class Tally:
    """The outcomes of one configuration on one set."""

    images: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    false_reads: int = 0
    ms: list[float] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.images += other.images
        self.outcomes += other.outcomes
        self.false_reads += other.false_reads
        self.ms += other.ms

    @property
    def plates(self) -> int:
        return len(self.outcomes)

    @property
    def exact(self) -> int:
        return sum(o.exact for o in self.outcomes)

    @property
    def accuracy(self) -> float:
        return self.exact / self.plates if self.plates else 0.0

    @property
    def cer(self) -> float:
        characters = sum(len(o.label.text) for o in self.outcomes)
        return sum(o.errors for o in self.outcomes) / characters if characters else 0.0

    @property
    def recall(self) -> float:
        return sum(o.found for o in self.outcomes) / self.plates if self.plates else 0.0

    def figures(self) -> dict[str, float]:
        """The set's figures as numbers (for a baseline file)."""
        return {
            "images": self.images,
            "plates": self.plates,
            "exact": round(self.accuracy, 4),
            "cer": round(self.cer, 4),
            "found": round(self.recall, 4),
            "false_reads": self.false_reads,
        }

    def summary(self) -> str:
        kinds = Counter(o.kind for o in self.outcomes if not o.exact)
        failures = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) or "none"
        median = sorted(self.ms)[len(self.ms) // 2] if self.ms else 0.0
        return (
            f"exact {self.exact}/{self.plates} ({self.accuracy:.3f})  CER {self.cer:.4f}  "
            f"found {self.recall:.3f}  false reads {self.false_reads}  "
            f"{median:.0f} ms/image (p50)\n    failures: {failures}"
        )


class Runner:
    """One engine configuration, reading images whole or at the labelled boxes."""

    def __init__(self, config: Path | None, region: str | None, at_box: bool) -> None:
        from edge.config import load_engine_config
        from edge.engine.factory import build_engine
        from edge.formats import PlateFormats

        engine_config = load_engine_config(config)
        self.name = config.name if config else "default"
        self.engine = build_engine(engine_config)
        self.formats = PlateFormats(engine_config.formats, region) if region else None
        self.at_box = at_box

    def read(self, image: Any, labels: list[Label]) -> tuple[list[Read], float]:
        started = time.perf_counter()
        if self.at_box:
            reads = []
            for label in labels:
                if label.box is None:
                    raise SystemExit(f"{label.file}: --at-box needs a box for every plate")
                plate = self.engine.read_at(image, label.box, 1.0, self.formats)
                if plate is not None:
                    reads.append(Read(plate.text, plate.box))
        else:
            plates = self.engine.read(image, self.formats).plates
            reads = [Read(p.text, p.box) for p in plates]
        return reads, (time.perf_counter() - started) * 1000.0


def _fold(text: str | None, fold_o0: bool) -> str | None:
    return text.replace("O", "0") if text is not None and fold_o0 else text


def evaluate_set(directory: Path, runners: list[Runner], fold_o0: bool, quiet: bool) -> list[Tally]:
    """Every runner over one labelled folder; prints a line per plate that any got wrong."""
    from edge.reading import load_image

    labels = load_set(directory)
    tallies = [Tally() for _ in runners]
    for name, plate_labels in labels.items():
        try:
            image = load_image(directory / name)
        except ValueError as exc:
            raise SystemExit(f"{directory / name}: {exc}") from None
        if fold_o0:
            plate_labels = [
                Label(x.file, _fold(x.text, True) or "", x.box, x.lines) for x in plate_labels
            ]
        per_runner = []
        for runner, tally in zip(runners, tallies, strict=True):
            reads, ms = runner.read(image, plate_labels)
            reads = [Read(_fold(r.text, fold_o0) or "", r.box) for r in reads]
            outcomes, extra = match(plate_labels, reads)
            tally.images += 1
            tally.outcomes += outcomes
            tally.false_reads += len(extra)
            tally.ms.append(ms)
            per_runner.append((outcomes, extra))
        if not quiet:
            _print_image(name, per_runner)
    return tallies


def _print_image(name: str, per_runner: list[tuple[list[Outcome], list[Read]]]) -> None:
    first, _ = per_runner[0]
    for index, outcome in enumerate(first):
        others = [outcomes[index] for outcomes, _ in per_runner]
        if all(o.exact for o in others):
            continue
        reads = "  |  ".join(f"{o.read or '-':12} {o.kind}" for o in others)
        print(f"  {name:40} expected {outcome.label.text:12} read {reads}")
    for number, (_, extra) in enumerate(per_runner):
        for read in extra:
            print(f"  {name:40} config {number + 1} false read {read.text}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Prints per set and configuration; the last line is RESULT exact= cer= n=.",
    )
    parser.add_argument("dirs", nargs="+", type=Path, help="labelled folders (one set each)")
    parser.add_argument(
        "--config",
        action="append",
        type=Path,
        default=[],
        help="engine settings (YAML); give it twice to compare two configurations",
    )
    parser.add_argument("--region", default=None, help="plate formats to decode with")
    parser.add_argument(
        "--at-box", action="store_true", help="read only at the labelled boxes (the reader alone)"
    )
    parser.add_argument("--fold-o0", action="store_true", help="count the letter O as zero")
    parser.add_argument("--quiet", action="store_true", help="no line per wrong plate")
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="also write each set's figures (of the first configuration) to this JSON file",
    )
    args = parser.parse_args(argv)
    if len(args.config) > 2:
        parser.error("--config: at most two configurations")
    for directory in args.dirs:
        if not directory.is_dir():
            parser.error(f"{directory}: not a folder")
    configs: list[Path | None] = list(args.config) or [None]
    runners = [Runner(c, args.region, args.at_box) for c in configs]
    totals = [Tally() for _ in runners]
    figures: dict[str, dict[str, float]] = {}
    for directory in args.dirs:
        print(f"set {directory.name} ({directory})", flush=True)
        tallies = evaluate_set(directory, runners, args.fold_o0, args.quiet)
        for runner, tally, total in zip(runners, tallies, totals, strict=True):
            print(f"  [{runner.name}] {tally.images} images: {tally.summary()}", flush=True)
            total.add(tally)
        figures[directory.name] = tallies[0].figures()
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    if len(args.dirs) > 1:
        for runner, total in zip(runners, totals, strict=True):
            print(f"all sets [{runner.name}] {total.images} images: {total.summary()}")
    first = totals[0]
    print(f"RESULT exact={first.accuracy:.4f} cer={first.cer:.4f} n={first.images}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
