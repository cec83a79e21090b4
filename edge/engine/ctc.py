"""Greedy CTC decoding restricted to the characters a plate can hold."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

#: Characters that may stand between plate characters; decoded, then dropped.
SEPARATORS = " -.·:"


@dataclass(frozen=True)
class Decoded:
    """Decoded text and the mean probability of its characters (0 when empty)."""

    text: str
    confidence: float


class PlateAlphabet:
    """The columns of a recognition model's output that a plate decoder may pick.

    ``vocabulary`` is the model's class list with the CTC blank first. Lower-case letters
    count as their upper-case forms; separators break repeated characters and are dropped.
    """

    def __init__(self, vocabulary: Sequence[str], charset: str) -> None:
        if not vocabulary:
            raise ValueError("vocabulary must hold at least the blank")
        allowed = set(charset.upper())
        columns, symbols = [0], [""]
        for index, char in enumerate(vocabulary[1:], start=1):
            upper = char.upper()
            if len(char) == 1 and (upper in allowed or char in SEPARATORS):
                columns.append(index)
                symbols.append(upper if upper in allowed else " ")
        if not any(symbol not in ("", " ") for symbol in symbols):
            raise ValueError(f"no character of charset {charset!r} is in the vocabulary")
        self.columns = np.asarray(columns, dtype=np.intp)
        self.symbols = symbols
        self.size = len(vocabulary)
        # Plate characters in a fixed order; each model column's place among them (0: the
        # blank, which separators join), to fold the model's classes onto the plate's.
        self.charset = "".join(sorted({s for s in symbols if s not in ("", " ")}))
        place = {char: i + 1 for i, char in enumerate(self.charset)}
        targets = [place.get(symbol, 0) for symbol in symbols]
        self._first = _first_of_each(targets)
        self._rest = [(i, t) for i, t in enumerate(targets) if i not in self._first.values()]

    def plate_log_probs(self, probabilities: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """Per-step log-probabilities of the blank (or a separator) and each plate character,
        shape (steps, 1 + len(charset)); a character's case forms count as one."""
        if probabilities.ndim != 2 or probabilities.shape[1] != self.size:
            raise ValueError(
                f"probabilities must have shape (steps, {self.size}), got {probabilities.shape}"
            )
        restricted = probabilities[:, self.columns].astype(np.float64)
        folded = np.empty((len(restricted), len(self.charset) + 1))
        for target, column in self._first.items():
            folded[:, target] = restricted[:, column]
        for column, target in self._rest:
            np.maximum(folded[:, target], restricted[:, column], out=folded[:, target])
        return np.log(np.maximum(folded, 1e-12))

    def decode(self, probabilities: npt.NDArray[np.float32]) -> Decoded:
        """Decode one sequence of per-step class probabilities, shape (steps, classes)."""
        if probabilities.ndim != 2 or probabilities.shape[1] != self.size:
            raise ValueError(
                f"probabilities must have shape (steps, {self.size}), got {probabilities.shape}"
            )
        restricted = probabilities[:, self.columns]
        best = restricted.argmax(axis=1)
        scores = restricted[np.arange(len(best)), best]
        chars: list[str] = []
        confidences: list[float] = []
        previous = -1
        for step, choice in enumerate(best):
            if choice != previous and choice != 0:
                symbol = self.symbols[choice]
                if symbol != " ":
                    chars.append(symbol)
                    confidences.append(float(scores[step]))
            previous = int(choice)
        confidence = float(np.mean(confidences)) if confidences else 0.0
        return Decoded("".join(chars), confidence)


def _first_of_each(targets: list[int]) -> dict[int, int]:
    """The first column that maps to each target."""
    first: dict[int, int] = {}
    for column, target in enumerate(targets):
        first.setdefault(target, column)
    return first
