"""The plate recognizer's input and output conventions, shared by training and reading.

The project's own recognizer (:mod:`edge.training`) reads a whole plate crop, one or two
lines, at a fixed size and answers one character per *slot*, left to right, top line first,
padded with the pad class after the last character. Training and the engine both prepare
crops with :func:`to_input`, so what the model learnt is what it is shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edge.engine.geometry import Image

#: Characters the recognizer answers; the pad class follows them.
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
PAD = "_"


@dataclass(frozen=True)
class SlotSpec:
    """Input size and output shape of a slot recognizer (kept in its ``model.json``)."""

    height: int = 64
    width: int = 160
    slots: int = 10
    alphabet: str = ALPHABET

    def __post_init__(self) -> None:
        if not 16 <= self.height <= 256 or self.height % 16:
            raise ValueError(f"height must be a multiple of 16 in [16, 256], got {self.height}")
        if not 32 <= self.width <= 512 or self.width % 16:
            raise ValueError(f"width must be a multiple of 16 in [32, 512], got {self.width}")
        if not 1 <= self.slots <= 20:
            raise ValueError(f"slots must be in [1, 20], got {self.slots}")
        if (
            not self.alphabet
            or PAD in self.alphabet
            or len(set(self.alphabet)) != len(self.alphabet)
        ):
            raise ValueError(f"alphabet must be distinct characters without {PAD!r}")

    @property
    def classes(self) -> int:
        """Output classes per slot: the alphabet and the pad."""
        return len(self.alphabet) + 1

    def encode(self, text: str) -> np.ndarray:
        """Class indices of ``text`` padded to the slots; ``ValueError`` if it cannot fit."""
        if len(text) > self.slots:
            raise ValueError(f"{text!r} has more than {self.slots} characters")
        unknown = sorted(set(text) - set(self.alphabet))
        if unknown:
            raise ValueError(f"{text!r} holds characters outside the alphabet: {unknown}")
        pad = len(self.alphabet)
        return np.array(
            [self.alphabet.index(c) for c in text] + [pad] * (self.slots - len(text)), np.int32
        )

    def decode(self, classes: Sequence[int] | np.ndarray) -> str:
        """The text of one row of class indices (pads dropped)."""
        return "".join(self.alphabet[c] for c in classes if c < len(self.alphabet))

    def to_input(self, crops: Sequence[Image]) -> np.ndarray:
        """BGR (or grey) crops as a float32 batch (N, 1, height, width) in [-1, 1]."""
        import cv2

        batch = np.empty((len(crops), 1, self.height, self.width), np.float32)
        for row, crop in enumerate(crops):
            grey = crop if crop.ndim == 2 else cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
            shrinking = grey.shape[0] > self.height or grey.shape[1] > self.width
            interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
            resized = cv2.resize(grey, (self.width, self.height), interpolation=interpolation)
            batch[row, 0] = resized.astype(np.float32) / 127.5 - 1.0
        return batch
