"""Images reserved as the project's independent check, which no labelled set may contain.

The reserved images are those of the OpenALPR benchmarks repository and of the PyPI package
``litealpr``. ``tests/data/reserved-hashes.txt`` lists their hashes, one per line as
``git <blob id>`` (what ``git hash-object`` prints) or ``sha256 <hex>``, then where it comes
from; ``#`` starts a comment. A file is reserved when either of its hashes is listed.

    python -m bench.reserved FILE [FILE...]

prints each reserved file and exits 1 if there is any.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

RESERVED_PATH = Path(__file__).resolve().parent.parent / "tests" / "data" / "reserved-hashes.txt"
_KINDS = {"git": re.compile(r"^[0-9a-f]{40}$"), "sha256": re.compile(r"^[0-9a-f]{64}$")}

Hash = tuple[str, str]


def parse_reserved(text: str, origin: str = "reserved-hashes.txt") -> dict[Hash, str]:
    """``(kind, hex) -> source`` from the text of a hash list; ``ValueError`` naming a bad line."""
    found: dict[Hash, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) < 2 or parts[0] not in _KINDS or not _KINDS[parts[0]].match(parts[1]):
            raise ValueError(
                f"{origin}:{number}: expected 'git <40 hex>' or 'sha256 <64 hex>', got {line!r}"
            )
        found[(parts[0], parts[1])] = " ".join(parts[2:]) or "unnamed"
    return found


def load_reserved(path: Path = RESERVED_PATH) -> dict[Hash, str]:
    """The committed list of reserved hashes."""
    return parse_reserved(path.read_text(encoding="utf-8"), str(path))


def hashes_of(data: bytes) -> tuple[Hash, Hash]:
    """The git blob id and the sha256 of some bytes."""
    blob = hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()
    return ("git", blob), ("sha256", hashlib.sha256(data).hexdigest())


def reserved_source(data: bytes, reserved: dict[Hash, str]) -> str | None:
    """Where the bytes are reserved from, or ``None`` if they may be used."""
    for key in hashes_of(data):
        if key in reserved:
            return reserved[key]
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Say which of the given files are reserved images (exit 1 if any)."
    )
    parser.add_argument("files", nargs="+", type=Path, help="image files to check")
    args = parser.parse_args(argv)
    reserved = load_reserved()
    bad = 0
    for path in args.files:
        source = reserved_source(path.read_bytes(), reserved)
        if source is not None:
            bad += 1
            print(f"reserved  {path} (from {source})")
    print(f"{len(args.files)} checked, {bad} reserved")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
