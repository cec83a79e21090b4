"""Build the labelled plate set from real photographs inside registry packages.

    python -m bench.samples [DIR]

Downloads the packages named in ``tests/data/plates/sources.yaml`` with pip, takes each
photo out, checks its sha256 and writes it with ``labels.tsv`` into DIR (default
``$ALPR_HOME/samples/plates``). Files already there with the right hash are kept, so a
second run only hashes them. Prints the directory last.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from edge.fetch import FetchError, fetch_artifacts
from edge.manifest import Artifact, ChecksumError, alpr_home

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "plates"


class Sample(Artifact):
    """A photo in a registry package, and the licence of that package."""

    licence: str = Field(description="Licence of the package that ships the photo")


class Samples(BaseModel):
    """Every photo of the labelled set."""

    model_config = ConfigDict(extra="forbid")

    samples: list[Sample]


def default_dir() -> Path:
    """``$ALPR_HOME/samples/plates``."""
    return alpr_home() / "samples" / "plates"


def build(target: Path, data: Path = DATA) -> Path:
    """Fetch every photo into ``target`` and copy the labels beside them."""
    listed = Samples.model_validate(yaml.safe_load((data / "sources.yaml").read_text("utf-8")))
    print(f"samples -> {target}", flush=True)
    fetch_artifacts(
        [(sample, target / sample.file) for sample in listed.samples],
        progress=lambda line: print(line, flush=True),
    )
    shutil.copyfile(data / "labels.tsv", target / "labels.tsv")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", nargs="?", type=Path, default=None, help="where to put the set")
    args = parser.parse_args(argv)
    try:
        print(build(args.dir or default_dir()))
    except (FetchError, ChecksumError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
