"""Finding the gap between the two text lines of a two-line (e.g. motorcycle) plate."""

from __future__ import annotations

import numpy as np

from edge.engine.geometry import Image


def row_profile(gray: Image) -> np.ndarray:
    """Mean horizontal-gradient energy per row: high across characters, low between lines."""
    gradient = np.abs(np.diff(gray.astype(np.float32), axis=1))
    profile = gradient.mean(axis=1)
    kernel = np.ones(3, np.float32) / 3
    return np.convolve(profile, kernel, mode="same")


def find_line_split(
    gray: Image, low: float = 0.3, high: float = 0.7, quiet: float = 0.5
) -> int | None:
    """The row between two text lines, searched within ``[low, high]`` of the height.

    Returns ``None`` when the quietest row there is not clearly quieter (at most ``quiet``
    of the busier side's peak, the lower of the two) than the text on both sides, i.e. when
    the crop does not look like two lines.
    """
    if gray.ndim != 2:
        raise ValueError(f"gray must be a 2-D image, got shape {gray.shape}")
    if not 0.0 < low < high < 1.0:
        raise ValueError(f"need 0 < low < high < 1, got low={low}, high={high}")
    height = gray.shape[0]
    if height < 8 or gray.shape[1] < 4:
        return None
    profile = row_profile(gray)
    start, stop = int(height * low), int(np.ceil(height * high))
    split = start + int(np.argmin(profile[start:stop]))
    above, below = profile[:split].max(initial=0.0), profile[split:].max(initial=0.0)
    if min(above, below) <= 0 or profile[split] > quiet * min(above, below):
        return None
    return split


#: Candidate split rows closer than this fraction of the height are one candidate.
SPLIT_SPACING = 0.06


def line_splits(crop: Image, most: int = 2) -> list[int]:
    """Rows worth trying as the gap of a two-line plate, best first (at most ``most``).

    The gradient profile's gap when it finds one clearly, and the quietest row of the middle
    band (0.35-0.6 of the height: top lines of two-line plates are usually the smaller) even
    when it is not clearly quiet: on small or blurred crops the profile rarely is, so the
    decoder, not this heuristic, decides whether the plate has two lines.
    """
    gray = _gray(crop)
    height = gray.shape[0]
    if height < 12 or gray.shape[1] < 8:
        return []
    found: list[int] = []
    clear = find_line_split(gray)
    if clear is not None:
        found.append(clear)
    profile = row_profile(gray)
    start, stop = int(height * 0.35), int(np.ceil(height * 0.6))
    found.append(start + int(np.argmin(profile[start:stop])))
    found.append(round(height * 0.45))
    splits: list[int] = []
    for row in found:
        if all(abs(row - kept) > SPLIT_SPACING * height for kept in splits):
            splits.append(row)
    return splits[:most]


def has_line_gap(crop: Image, quiet: float) -> bool:
    """Whether the crop (BGR or grey) shows a gap between two text lines at most ``quiet``
    as busy as the text rows (see :func:`find_line_split`)."""
    return find_line_split(_gray(crop), quiet=quiet) is not None


def _gray(crop: Image) -> Image:
    import cv2

    return cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
