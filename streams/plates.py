"""Plate text: normalisation to the canonical key and the OCR-confusion search key.

The normalised plate keeps A-Z and 0-9 only (separators and case removed), so ``ab-12 c``
and ``AB12C`` are one plate. The search key also folds characters OCR engines confuse, so a
lookup of ``8OS`` finds reads of ``BO5``: both become ``805``.
"""

from __future__ import annotations

import re
import unicodedata

#: Characters a plate may carry between its letters and digits; dropped by normalisation.
SEPARATORS = " -._·•/"

#: Letter -> the digit OCR engines most often mistake it for (and back).
OCR_CONFUSIONS = {"O": "0", "Q": "0", "D": "0", "I": "1", "L": "1", "Z": "2", "S": "5",
                  "G": "6", "B": "8"}  # fmt: skip

_STRIP = str.maketrans("", "", SEPARATORS)
_FOLD = str.maketrans(OCR_CONFUSIONS)
_CANONICAL = re.compile(r"[A-Z0-9]*")


class PlateTextError(ValueError):
    """Plate text that cannot be normalised; ``empty`` tells an empty read from a bad one."""

    def __init__(self, message: str, *, empty: bool) -> None:
        super().__init__(message)
        self.empty = empty


def normalise_plate(text: str, *, min_length: int = 2, max_length: int = 12) -> str:
    """The canonical plate of OCR text, or ``PlateTextError`` naming what is wrong."""
    if min_length < 1 or max_length < min_length:
        raise ValueError(f"need 1 <= min_length <= max_length, got {min_length}, {max_length}")
    plate = unicodedata.normalize("NFKC", text).upper().translate(_STRIP)
    if not plate:
        raise PlateTextError(f"plate text {text!r} is empty", empty=True)
    if not _CANONICAL.fullmatch(plate):
        bad = sorted({c for c in plate if not ("A" <= c <= "Z" or "0" <= c <= "9")})
        raise PlateTextError(
            f"plate text {text!r} has characters outside A-Z, 0-9 and separators: {bad}",
            empty=False,
        )
    if not min_length <= len(plate) <= max_length:
        raise PlateTextError(
            f"plate {plate!r} has {len(plate)} characters, expected {min_length}..{max_length}",
            empty=False,
        )
    return plate


def search_key(plate: str) -> str:
    """``plate`` (already normalised) with OCR look-alike letters folded into digits."""
    return plate.translate(_FOLD)
