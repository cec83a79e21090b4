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


def find_line_split(gray: Image, low: float = 0.3, high: float = 0.7) -> int | None:
    """The row between two text lines, searched within ``[low, high]`` of the height.

    Returns ``None`` when the quietest row there is not clearly quieter than the text on
    both sides, i.e. when the crop does not look like two lines.
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
    if min(above, below) <= 0 or profile[split] > 0.5 * min(above, below):
        return None
    return split
