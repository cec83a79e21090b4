"""The recognizer's output restricted to the characters a plate can hold."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

#: Characters that may stand between plate characters; decoded, then dropped.
SEPARATORS = " -.·:"


class PlateAlphabet:
    """The columns of a recognition model's output that a plate decoder may pick.

    ``vocabulary`` is the model's class list with the CTC blank first. Lower-case letters
    count as their upper-case forms; separators count as the blank: they break repeated
    characters and are dropped (decoding: :mod:`edge.engine.constrained`).
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


def _first_of_each(targets: list[int]) -> dict[int, int]:
    """The first column that maps to each target."""
    first: dict[int, int] = {}
    for column, target in enumerate(targets):
        first.setdefault(target, column)
    return first
