"""Labelled plate sets: the label formats the harness reads, and how a read is judged.

Three label formats, one record (:class:`Label`) per plate:

- ``labels.tsv`` (the project's): ``file<TAB>plate[<TAB>x y w h|-<TAB>lines<TAB>...]``; a
  second column of ``plate,plate`` names several plates without boxes;
- OpenALPR-style: one ``IMAGE.txt`` beside each image, each line ``file x y w h plate``;
- a bare TSV ``file<TAB>plate,plate``.

Pure functions only: nothing here reads images or runs models.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from edge.formats import country_of, normalise

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
#: A read further than this (edit distance / expected length) from a plate is not a read of it.
MATCH_LIMIT = 0.5
#: A located box overlapping the labelled one this much (IoU) found the plate.
FOUND_IOU = 0.3

Box = tuple[float, float, float, float]
_BOXLIKE = re.compile(r"-|[-+0-9. ]+")


@dataclass(frozen=True)
class Label:
    """One labelled plate: its image, text, box (x1, y1, x2, y2), line count and region
    (lower case: ``ro``, ``us-ca``) if known."""

    file: str
    text: str
    box: Box | None = None
    lines: int | None = None
    region: str | None = None


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


def load_set(directory: Path) -> dict[str, list[Label]]:
    """The labels of a folder, by image file name, in whichever format it holds."""
    tsv = directory / "labels.tsv"
    if tsv.exists():
        return load_tsv(tsv)
    texts = sorted(p for p in directory.glob("*.txt") if _image_for(p) is not None)
    if texts:
        labels: dict[str, list[Label]] = {}
        for path in texts:
            image = _image_for(path)
            assert image is not None
            labels[image.name] = load_openalpr(path, image.name)
        return labels
    raise ValueError(f"{directory} holds no labels.tsv and no OpenALPR-style IMAGE.txt label files")


def load_tsv(path: Path) -> dict[str, list[Label]]:
    """Labels from a ``labels.tsv``; ``ValueError`` naming the line when one is malformed."""
    labels: dict[str, list[Label]] = defaultdict(list)
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) < 2 or not fields[1]:
            raise ValueError(f"{path}:{number}: expected 'file<TAB>plate', got {line!r}")
        box, lines, region = None, None, None
        # Older sets carry a free note in the third column; box, lines and region need the
        # form.
        if len(fields) > 2 and _BOXLIKE.fullmatch(fields[2]):
            try:
                box = _box(fields[2])
                lines = int(fields[3]) if len(fields) > 3 and fields[3] not in ("", "-") else None
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: {exc}") from None
            if len(fields) > 4 and fields[4] not in ("", "-"):
                region = fields[4].lower()
        texts = [normalise(t) for t in fields[1].split(",") if normalise(t)]
        if len(texts) > 1 and box is not None:
            raise ValueError(f"{path}:{number}: one box given for {len(texts)} plates")
        labels[fields[0]] += [Label(fields[0], t, box, lines, region) for t in texts]
    return dict(labels)


def load_openalpr(path: Path, image: str) -> list[Label]:
    """Labels from one OpenALPR-style ``.txt``: ``file x y w h plate`` per line."""
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 6:
            raise ValueError(f"{path}:{number}: expected 'file x y w h plate', got {line!r}")
        try:
            x, y, w, h = (float(v) for v in parts[1:5])
        except ValueError:
            raise ValueError(f"{path}:{number}: x y w h must be numbers, got {line!r}") from None
        found.append(Label(image, normalise("".join(parts[5:])), (x, y, x + w, y + h)))
    return found


def parse_box(field: str) -> tuple[float, float, float, float] | None:
    """A label's ``x y w h`` field (``-`` or empty: no box); ``ValueError`` saying why not."""
    if field in ("", "-"):
        return None
    try:
        x, y, w, h = (float(v) for v in field.split())
    except ValueError:
        raise ValueError(f"box must be 'x y w h' or '-', got {field!r}") from None
    if x < 0 or y < 0 or w <= 0 or h <= 0:
        raise ValueError(f"box must be 'x y w h' with x, y >= 0 and w, h > 0, got {field!r}")
    return (x, y, w, h)


def _box(field: str) -> Box | None:
    """The corners (x1, y1, x2, y2) of a label's ``x y w h`` field."""
    box = parse_box(field)
    return None if box is None else (box[0], box[1], box[0] + box[2], box[1] + box[3])


def _image_for(label: Path) -> Path | None:
    for suffix in IMAGE_SUFFIXES:
        for candidate in (label.with_suffix(suffix), label.with_suffix(suffix.upper())):
            if candidate.exists():
                return candidate
    return None


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class Read:
    """One plate the engine read: its text, box and region (see ``PlateRead.region``)."""

    text: str
    box: Box | None = None
    region: str | None = None


@dataclass(frozen=True)
class Outcome:
    """A labelled plate and what became of it."""

    label: Label
    read: str | None
    found: bool
    #: The region the engine named for its read (``None``: it named none, or no read).
    read_region: str | None = None

    @property
    def exact(self) -> bool:
        return self.read == self.label.text

    @property
    def region_kind(self) -> str | None:
        """For an exact read of a plate whose region is labelled: ``right`` when the engine
        named that region or its country (``us`` or ``us-ca`` for a ``us`` label, ``us`` for
        ``us-ca``), ``unnamed`` when it named none, else ``wrong``; ``None`` otherwise."""
        if not self.exact or self.label.region is None:
            return None
        if self.read_region is None:
            return "unnamed"
        same = country_of(self.read_region) == country_of(self.label.region)
        return "right" if same else "wrong"

    @property
    def errors(self) -> int:
        expected = self.label.text
        return len(expected) if self.read is None else edit_distance(expected, self.read)

    @property
    def kind(self) -> str:
        """``ok``, ``not found``, ``partial line``, ``missing chars``, ``extra chars`` or
        ``misread``."""
        return failure_kind(self.label, self.read, self.found)


def failure_kind(label: Label, read: str | None, found: bool = True) -> str:
    """What went wrong with a plate's read (``ok`` when nothing did)."""
    expected = label.text
    if read == expected:
        return "ok"
    if read is None:
        return "not found" if not found else "unread"
    distance = edit_distance(expected, read)
    if len(read) < len(expected) and distance == len(expected) - len(read):
        two_line = label.lines == 2 or len(read) <= 0.7 * len(expected)
        return "partial line" if two_line else "missing chars"
    if len(read) > len(expected) and distance == len(read) - len(expected):
        return "extra chars"
    return "misread"


def match(labels: list[Label], reads: list[Read]) -> tuple[list[Outcome], list[Read]]:
    """Pair labelled plates with reads, closest text first; the outcomes and the reads that
    match no plate. A plate with a box counts as found when a read's box overlaps it."""
    pairs = sorted(
        (edit_distance(label.text, read.text) / len(label.text), li, ri)
        for li, label in enumerate(labels)
        for ri, read in enumerate(reads)
    )
    matched: dict[int, int] = {}
    used: set[int] = set()
    for rate, li, ri in pairs:
        if rate <= MATCH_LIMIT and li not in matched and ri not in used:
            matched[li] = ri
            used.add(ri)
    outcomes = []
    for li, label in enumerate(labels):
        read = reads[matched[li]] if li in matched else None
        found = li in matched or (
            label.box is not None
            and any(r.box is not None and iou(label.box, r.box) >= FOUND_IOU for r in reads)
        )
        text, region = (None, None) if read is None else (read.text, read.region)
        outcomes.append(Outcome(label, text, found, region))
    return outcomes, [r for ri, r in enumerate(reads) if ri not in used]
