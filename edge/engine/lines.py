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


#: A row is part of the text band when its gradient energy reaches this share of a busy
#: row's: the rows' energy at this quantile (not the busiest row: a line of small, dense
#: writing outdoes big characters row by row, and would set the bar above them).
TEXT_ROW_LEVEL = 0.5
TEXT_ROW_QUANTILE = 0.75
#: The text band is widened by this share of its height on each side (strokes' ends).
TEXT_ROW_GROW = 0.15
#: A text band worth cutting to spans this range of the crop's height: narrower is a
#: stripe of frame text or a sticker, wider is the crop itself.
TEXT_ROW_SPAN = (0.3, 0.85)
#: Another run of busy rows at least this share of the longest one's height is a second line
#: of characters (a two-line plate: 59-U1 over 561.41), not a state's name: no text band.
TEXT_ROW_TWIN = 0.6


def text_rows(crop: Image) -> tuple[int, int] | None:
    """The rows (top, bottom) of a plate crop's main line of characters, or ``None`` when
    they fill the crop or cannot be told apart.

    A US plate holds its characters in the middle half of its height, between the state's
    name, stickers and frame text; read whole, the recognizer sees small characters among
    other writing and misreads their font (``LESD877`` of 4ESD877). The band is the longest
    run of rows whose horizontal-gradient energy (:func:`row_profile`) reaches
    :data:`TEXT_ROW_LEVEL` of a busy row's (the :data:`TEXT_ROW_QUANTILE` of the rows),
    widened by :data:`TEXT_ROW_GROW`.
    """
    gray = _gray(crop)
    height = gray.shape[0]
    if height < 12 or gray.shape[1] < 8:
        return None
    profile = row_profile(gray)
    busy = float(np.quantile(profile, TEXT_ROW_QUANTILE))
    if busy <= 0:
        return None
    hot = np.concatenate([[False], profile >= TEXT_ROW_LEVEL * busy, [False]])
    edges = np.flatnonzero(np.diff(hot.astype(np.int8)))
    starts, stops = edges[0::2], edges[1::2]
    runs = stops - starts
    longest = int(np.argmax(runs))
    if np.sum(runs >= TEXT_ROW_TWIN * runs[longest]) > 1:
        return None
    top, bottom = int(starts[longest]), int(stops[longest])
    grow = round(TEXT_ROW_GROW * (bottom - top))
    top, bottom = max(0, top - grow), min(height, bottom + grow)
    low, high = TEXT_ROW_SPAN
    if not low * height <= bottom - top <= high * height:
        return None
    return top, bottom


def _gray(crop: Image) -> Image:
    import cv2

    return cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
