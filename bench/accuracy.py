"""Plate-reading accuracy on a labelled folder of images.

    python -m bench.accuracy DIR [--region R] [--config FILE]

DIR holds images and ``labels.tsv`` (file, expected text[, note]; one row per plate, ``#``
starts a comment). Every image is read by the engine; each expected plate is matched with
the closest unmatched read. Prints a line per plate, then exact-plate accuracy, character
error rate (a missed plate counts all its characters as errors), misses and false reads,
and last ``RESULT exact=<fraction> cer=<rate> n=<images>``.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

#: A read further than this (edit distance / expected length) from a plate is not a read of it.
MATCH_LIMIT = 0.5


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two strings."""
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


def load_labels(path: Path) -> dict[str, list[str]]:
    """Expected plate texts by file name, from a ``labels.tsv``."""
    labels: dict[str, list[str]] = defaultdict(list)
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) < 2 or not fields[1].strip():
            raise ValueError(f"{path}:{number}: expected 'file<TAB>text', got {line!r}")
        labels[fields[0].strip()].append(fields[1].strip().upper())
    return dict(labels)


@dataclass(frozen=True)
class PlateOutcome:
    """One expected plate and the read matched with it (``None``: missed)."""

    file: str
    expected: str
    read: str | None

    @property
    def errors(self) -> int:
        return len(self.expected) if self.read is None else edit_distance(self.expected, self.read)


def match(file: str, expected: list[str], reads: list[str]) -> tuple[list[PlateOutcome], int]:
    """Pair expected plates with reads, closest first; returns outcomes and false reads."""
    pairs = sorted(
        (edit_distance(e, r) / len(e), ei, ri)
        for ei, e in enumerate(expected)
        for ri, r in enumerate(reads)
    )
    matched: dict[int, int] = {}
    used: set[int] = set()
    for rate, ei, ri in pairs:
        if rate <= MATCH_LIMIT and ei not in matched and ri not in used:
            matched[ei] = ri
            used.add(ri)
    outcomes = [
        PlateOutcome(file, e, reads[matched[ei]] if ei in matched else None)
        for ei, e in enumerate(expected)
    ]
    return outcomes, len(reads) - len(used)


@dataclass(frozen=True)
class Summary:
    """Totals over the set."""

    images: int
    plates: int
    exact: int
    errors: int
    characters: int
    misses: int
    false_reads: int

    @property
    def accuracy(self) -> float:
        return self.exact / self.plates if self.plates else 0.0

    @property
    def cer(self) -> float:
        return self.errors / self.characters if self.characters else 0.0


def summarise(outcomes: list[PlateOutcome], false_reads: int, images: int) -> Summary:
    """Exact reads, character errors, misses and false reads of a run."""
    return Summary(
        images=images,
        plates=len(outcomes),
        exact=sum(o.read == o.expected for o in outcomes),
        errors=sum(o.errors for o in outcomes),
        characters=sum(len(o.expected) for o in outcomes),
        misses=sum(o.read is None for o in outcomes),
        false_reads=false_reads,
    )


def evaluate(directory: Path, region: str | None = None, config: Path | None = None) -> Summary:
    """Read every labelled image of ``directory`` and print the per-plate outcomes."""
    from edge.config import load_engine_config
    from edge.engine.factory import build_engine
    from edge.formats import PlateFormats
    from edge.reading import read_files

    labels = load_labels(directory / "labels.tsv")
    engine_config = load_engine_config(config)
    engine = build_engine(engine_config)
    formats = PlateFormats(engine_config.formats, region) if region else None
    outcomes: list[PlateOutcome] = []
    false_reads = 0
    files = [str(directory / name) for name in labels]
    for name, result in zip(labels, read_files(engine, files, formats), strict=True):
        if result.error is not None:
            raise SystemExit(f"{name}: {result.error}")
        reads = [p.text for p in result.plates]
        found, extra = match(name, labels[name], reads)
        outcomes += found
        false_reads += extra
        for outcome in found:
            mark = (
                "ok  "
                if outcome.read == outcome.expected
                else "MISS"
                if outcome.read is None
                else "BAD "
            )
            print(f"{mark} {name:32} expected {outcome.expected:12} read {outcome.read or '-'}")
        matched = {o.read for o in found}
        for read in reads:
            if read not in matched:
                print(f"FALSE {name:31} read {read} (matches no label)")
    return summarise(outcomes, false_reads, len(labels))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", type=Path, help="folder with images and labels.tsv")
    parser.add_argument("--region", default=None, help="plate formats to validate against")
    parser.add_argument("--config", type=Path, default=None, help="engine settings (YAML)")
    args = parser.parse_args(argv)
    summary = evaluate(args.dir, args.region, args.config)
    print(
        f"plates {summary.plates} in {summary.images} images: exact {summary.exact}/"
        f"{summary.plates} ({summary.accuracy:.3f}), CER {summary.cer:.4f}, "
        f"misses {summary.misses}, false reads {summary.false_reads}"
    )
    print(f"RESULT exact={summary.accuracy:.4f} cer={summary.cer:.4f} n={summary.images}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
