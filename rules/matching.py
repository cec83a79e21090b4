"""Watch-list matching: exact, OCR-fuzzy and regular expressions, fast on large lists.

The fuzzy distance is an edit distance in which swapping characters that OCR engines confuse
(O/0, I/1, B/8, S/5, ...) costs :data:`CONFUSION_COST` instead of 1. Candidates come from a
symmetric-deletion index over the OCR-folded plates (``streams.plates.search_key``), so a
100,000-plate list costs a few dictionary look-ups per read, and each candidate is then
checked with the full distance.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from streams.plates import OCR_CONFUSIONS, search_key

#: Cost of substituting one character for another that OCR confuses it with.
CONFUSION_COST = 0.25

_FOLD = {**OCR_CONFUSIONS}


def _fold(char: str) -> str:
    return _FOLD.get(char, char)


def ocr_distance(a: str, b: str) -> float:
    """Edit distance between two normalised plates, OCR confusions costing 0.25."""
    previous = [float(j) for j in range(len(b) + 1)]
    for i, ca in enumerate(a, 1):
        current = [float(i)]
        for j, cb in enumerate(b, 1):
            if ca == cb:
                swap = 0.0
            elif _fold(ca) == _fold(cb):
                swap = CONFUSION_COST
            else:
                swap = 1.0
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + swap))
        previous = current
    return previous[-1]


def _deletions(text: str, depth: int) -> set[str]:
    found = {text}
    frontier = {text}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        found |= frontier
    return found


@dataclass
class Watchlist:
    """Plates to look for, and how: ``exact``, ``fuzzy`` (``max_distance``) or ``regex``."""

    plates: list[str]
    mode: str = "exact"
    max_distance: float = 1.0
    _exact: set[str] = field(default_factory=set, init=False, repr=False)
    _index: dict[str, set[str]] = field(default_factory=dict, init=False, repr=False)
    _patterns: list[re.Pattern[str]] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in ("exact", "fuzzy", "regex"):
            raise ValueError(f"mode must be exact, fuzzy or regex, got {self.mode!r}")
        if self.mode == "regex":
            self._patterns = [re.compile(p) for p in self.plates]
            return
        self._exact = set(self.plates)
        if self.mode == "fuzzy":
            index: dict[str, set[str]] = defaultdict(set)
            for plate in self._exact:
                for variant in _deletions(search_key(plate), self._depth):
                    index[variant].add(plate)
            self._index = dict(index)

    @property
    def _depth(self) -> int:
        return min(2, int(self.max_distance))

    def match(self, plate: str) -> str | None:
        """The listed plate (or pattern) ``plate`` matches, the closest one if several."""
        if self.mode == "regex":
            return next((p.pattern for p in self._patterns if p.fullmatch(plate)), None)
        if plate in self._exact:
            return plate
        if self.mode == "exact":
            return None
        candidates: set[str] = set()
        for variant in _deletions(search_key(plate), self._depth):
            candidates |= self._index.get(variant, set())
        scored = sorted((ocr_distance(plate, c), c) for c in candidates)
        best = next(((d, c) for d, c in scored if d <= self.max_distance), None)
        return None if best is None else best[1]


def read_plates_csv(lines: Iterable[str]) -> list[str]:
    """Plates from CSV lines: the first column, skipping blanks, ``#`` comments and a
    ``plate`` header."""
    from streams.plates import normalise_plate

    plates = []
    for line in lines:
        cell = line.split(",", 1)[0].strip().strip('"')
        if not cell or cell.startswith("#") or cell.lower() == "plate":
            continue
        plates.append(normalise_plate(cell))
    return plates
