"""Plate-reading accuracy on labelled folders, one engine configuration or two side by side.

    python -m bench.accuracy DIR [DIR...] [--config FILE [--config FILE]] [--region R]
                             [--at-box] [--fold-o0] [--camera] [--quiet]

Each DIR holds images and labels (``labels.tsv``, OpenALPR-style ``IMAGE.txt`` files, or a
TSV of ``file<TAB>plate,plate``; see edge/evaluation/labels.py). Every image is read by the engine
(``--at-box``: only the reader, at each labelled box, through ``Engine.read_at``); each
labelled plate is matched with the closest read. Per set and configuration it prints:
detection recall (plates found, by box or by a matching read), exact reads, character
error rate (a missed plate counts all its characters), failures by kind (not found,
partial line, missing or extra characters, misread), false reads and time per image; where
labels name plates' regions (``labels.tsv``'s fifth column), of the exact reads how many
the engine named that region, another, or none (``PlateFormats.region_of``); with two
configurations, the plates where they differ. The last line is machine-readable:
``RESULT exact=<fraction> cer=<rate> n=<images>`` (of the first configuration, all sets).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edge.evaluation.accuracy import Runner, Tally, evaluate_set
from edge.evaluation.labels import Outcome, Read


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
    parser.add_argument(
        "--camera",
        action="store_true",
        help="read each set as one camera's stream, in file order: the engine learns the "
        "country most plates are from and prefers its layouts, as a camera worker does when "
        "its region spans several countries (formats.learn_region)",
    )
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
    runners = [Runner(c, args.region, args.at_box, learn_region=args.camera) for c in configs]
    totals = [Tally() for _ in runners]
    figures: dict[str, dict[str, float]] = {}
    for directory in args.dirs:
        print(f"set {directory.name} ({directory})", flush=True)
        tallies = evaluate_set(
            directory, runners, args.fold_o0, None if args.quiet else _print_image
        )
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
