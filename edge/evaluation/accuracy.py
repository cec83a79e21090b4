"""Plate-reading accuracy of one engine configuration on a labelled folder: the measure the
accuracy harness (``python -m bench.accuracy``) prints and the model registry promotes by.

Each image is read by the engine (or, ``at_box``, only by the reader at each labelled box,
through ``Engine.read_at``); each labelled plate is matched with the closest read
(:func:`edge.evaluation.labels.match`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.config import EngineConfig
from edge.evaluation.labels import Label, Outcome, Read, load_set, match
from edge.formats import PlateFormats
from edge.video.region import RegionLearner, learner_for

#: Called per image with its name and, per runner, the outcomes and the false reads.
ImageReport = Callable[[str, list[tuple[list[Outcome], list[Read]]]], None]


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

    def regions(self) -> Counter[str]:
        """Of the exact reads of plates whose region is labelled, how many the engine named
        right, wrong, or did not name (see ``Outcome.region_kind``)."""
        return Counter(k for o in self.outcomes if (k := o.region_kind) is not None)

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
        regions = self.regions()
        named = (
            f"\n    region of {sum(regions.values())} exact reads with a labelled region: "
            f"right {regions['right']}, wrong {regions['wrong']}, unnamed {regions['unnamed']}"
            if regions
            else ""
        )
        return (
            f"exact {self.exact}/{self.plates} ({self.accuracy:.3f})  CER {self.cer:.4f}  "
            f"found {self.recall:.3f}  false reads {self.false_reads}  "
            f"{median:.0f} ms/image (p50)\n    failures: {failures}{named}"
        )


class Runner:
    """One engine configuration, reading images whole or at the labelled boxes."""

    def __init__(
        self,
        config: Path | EngineConfig | None,
        region: str | None,
        at_box: bool,
        name: str | None = None,
        learn_region: bool = False,
    ) -> None:
        from edge.config import load_engine_config
        from edge.engine.factory import build_engine

        if isinstance(config, EngineConfig):
            engine_config = config
        else:
            engine_config = load_engine_config(config)
        self.name = name or (config.name if isinstance(config, Path) else "default")
        self.engine = build_engine(engine_config)
        self.formats = (
            PlateFormats(engine_config.formats, region) if region else self.engine.formats
        )
        self.at_box = at_box
        # Read as one camera's stream (see start_set): its learner, per set.
        self.learn_region = learn_region
        self.learner: RegionLearner | None = None

    def start_set(self) -> None:
        """A new set: with ``learn_region``, a camera that has learnt nothing yet, learning
        (as a camera worker does, see edge/video/region.py) from each read's region, in the
        set's file order, when its layouts span several countries."""
        self.learner = learner_for(self.formats) if self.learn_region else None

    def read(self, image: Any, labels: list[Label]) -> tuple[list[Read], float]:
        """The reads of ``image`` and the time they took, after one untimed read of it: a
        runtime's first run at a new input size (OpenVINO prepares its kernels) would
        otherwise be charged to whichever configuration meets that size first."""
        formats = self.formats
        if self.learner is not None:
            formats = formats.preferring(self.learner.country())
        self._read(image, labels, formats)
        started = time.perf_counter()
        reads = self._read(image, labels, formats)
        took = (time.perf_counter() - started) * 1000.0
        if self.learner is not None:
            for read in reads:
                self.learner.add(read.region)
        return reads, took

    def _read(self, image: Any, labels: list[Label], formats: PlateFormats) -> list[Read]:
        if self.at_box:
            reads = []
            for label in labels:
                if label.box is None:
                    raise SystemExit(f"{label.file}: --at-box needs a box for every plate")
                plate = self.engine.read_at(image, label.box, 1.0, formats)
                if plate is not None:
                    reads.append(Read(plate.text, plate.box, plate.region))
        else:
            plates = self.engine.read(image, formats).plates
            reads = [Read(p.text, p.box, p.region) for p in plates]
        return reads


def _fold(text: str | None, fold_o0: bool) -> str | None:
    return text.replace("O", "0") if text is not None and fold_o0 else text


def evaluate_set(
    directory: Path,
    runners: list[Runner],
    fold_o0: bool = False,
    report: ImageReport | None = None,
) -> list[Tally]:
    """Every runner over one labelled folder; ``report`` hears each image's outcomes."""
    from edge.reading import load_image

    labels = load_set(directory)
    tallies = [Tally() for _ in runners]
    for runner in runners:
        runner.start_set()
    for name, plate_labels in labels.items():
        try:
            image = load_image(directory / name)
        except ValueError as exc:
            raise SystemExit(f"{directory / name}: {exc}") from None
        if fold_o0:
            plate_labels = [
                Label(x.file, _fold(x.text, True) or "", x.box, x.lines, x.region)
                for x in plate_labels
            ]
        per_runner = []
        for runner, tally in zip(runners, tallies, strict=True):
            reads, ms = runner.read(image, plate_labels)
            reads = [Read(_fold(r.text, fold_o0) or "", r.box, r.region) for r in reads]
            outcomes, extra = match(plate_labels, reads)
            tally.images += 1
            tally.outcomes += outcomes
            tally.false_reads += len(extra)
            tally.ms.append(ms)
            per_runner.append((outcomes, extra))
        if report is not None:
            report(name, per_runner)
    return tallies
