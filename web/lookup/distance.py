"""An edit distance between plates that knows which characters OCR engines confuse.

Swapping look-alikes (O/0, I/1, B/8, S/5, Z/2, G/6... the pairs ``streams.plates`` folds into
one search key) costs ``LOOKALIKE_COST``; any other substitution, insertion or deletion
costs 1. The alignment's edits are kept so a hit can say in words why it matched.

Candidates are found through the folded search key: a plate is a fuzzy match when its key is
within ``MAX_KEY_EDITS`` plain (Levenshtein) edits of the query's key, so any number of
look-alike swaps plus one other error. ``key_neighbours`` lists every such key, which lets a
store find them with an exact index lookup instead of a scan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from streams.plates import search_key

#: Cost of reading one character as its look-alike.
LOOKALIKE_COST = 0.25

#: Plain edits allowed between the search keys of the query and a fuzzy match.
MAX_KEY_EDITS = 1

#: Characters of folded search keys: letters that fold into digits never appear in one.
KEY_ALPHABET = "".join(sorted({search_key(c) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"}))

EditKind = Literal["lookalike", "substitute", "insert", "delete"]


@dataclass(frozen=True)
class Edit:
    """One edit turning the query into the plate, at a 1-based position of the plate."""

    kind: EditKind
    position: int
    query_char: str
    plate_char: str

    def describe(self) -> str:
        if self.kind == "lookalike":
            return f"{self.query_char} read as {self.plate_char} at {self.position}"
        if self.kind == "substitute":
            return f"{self.plate_char} for {self.query_char} at {self.position}"
        if self.kind == "insert":
            return f"extra {self.plate_char} at {self.position}"
        return f"missing {self.query_char} at {self.position}"


@dataclass(frozen=True)
class Alignment:
    """The cheapest way to turn a query into a plate."""

    cost: float
    edits: tuple[Edit, ...]

    @property
    def distance(self) -> int:
        """Number of edits, look-alike swaps included."""
        return len(self.edits)


def substitution_cost(a: str, b: str) -> float:
    if a == b:
        return 0.0
    return LOOKALIKE_COST if search_key(a) == search_key(b) else 1.0


def align(query: str, plate: str) -> Alignment:
    """Weighted Levenshtein alignment of two normalised plates, with its edits."""
    rows, cols = len(query) + 1, len(plate) + 1
    cost = [[0.0] * cols for _ in range(rows)]
    for i in range(1, rows):
        cost[i][0] = float(i)
    for j in range(1, cols):
        cost[0][j] = float(j)
    for i in range(1, rows):
        for j in range(1, cols):
            cost[i][j] = min(
                cost[i - 1][j - 1] + substitution_cost(query[i - 1], plate[j - 1]),
                cost[i - 1][j] + 1.0,
                cost[i][j - 1] + 1.0,
            )
    return Alignment(round(cost[-1][-1], 6), tuple(_backtrace(cost, query, plate)))


def _backtrace(cost: list[list[float]], query: str, plate: str) -> list[Edit]:
    # Walk back from the end preferring the diagonal, so ties resolve the same way each time.
    edits: list[Edit] = []
    i, j = len(query), len(plate)
    while i > 0 or j > 0:
        here = cost[i][j]
        if i > 0 and j > 0:
            step = substitution_cost(query[i - 1], plate[j - 1])
            if abs(cost[i - 1][j - 1] + step - here) < 1e-9:
                if step:
                    kind: EditKind = "substitute" if step == 1.0 else "lookalike"
                    edits.append(Edit(kind, j, query[i - 1], plate[j - 1]))
                i, j = i - 1, j - 1
                continue
        if i > 0 and abs(cost[i - 1][j] + 1.0 - here) < 1e-9:
            edits.append(Edit("delete", j + 1, query[i - 1], ""))
            i -= 1
            continue
        edits.append(Edit("insert", j, "", plate[j - 1]))
        j -= 1
    edits.reverse()
    return edits


def key_distance(a: str, b: str) -> int:
    """Plain Levenshtein distance (what Elasticsearch's ``fuzzy`` query counts)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j - 1] + (ca != cb), previous[j] + 1, current[j - 1] + 1))
        previous = current
    return previous[-1]


def key_neighbours(key: str, max_length: int = 12) -> list[str]:
    """Every search key within one plain edit of ``key`` (itself included), sorted."""
    found = {key}
    for i in range(len(key)):
        found.add(key[:i] + key[i + 1 :])
        for c in KEY_ALPHABET:
            found.add(key[:i] + c + key[i + 1 :])
    if len(key) < max_length:
        for i in range(len(key) + 1):
            for c in KEY_ALPHABET:
                found.add(key[:i] + c + key[i:])
    found.discard("")
    return sorted(found)
