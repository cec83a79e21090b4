"""The EU country band: the blue strip at a plate's left edge, cut off before reading.

Its letters (D, NL, HR, ...) are not part of the registration, and a text recognizer reads
them as a first character (``PRK248AH``). The band is found by colour: in most of the middle
rows, a run of saturated blue that starts near the left edge and is as wide as a band,
before a ground that is not blue.
"""

from __future__ import annotations

import numpy as np

from edge.engine.geometry import Image

#: OpenCV hue range (0-180) of the band's blue, and the least saturation and value.
BLUE_HUE = (95, 130)
MIN_SATURATION = 70
MIN_VALUE = 40
#: The band starts within this share of the width (a loose box leaves some background
#: before it) and is at most this wide.
BAND_START = 0.15
BAND_WIDTH = (0.04, 0.2)
#: The band must show in this share of the middle rows.
BAND_ROWS = 0.5
#: Most share of blue in the middle rows right of the band: a band stands before a light
#: ground, while on a blue plate (older California plates: yellow on blue) every row's blue
#: run stops at the first character, as wide as a band, and the cut took that character's
#: left half (``LKCM356`` of 1KCM356).
MAX_BLUE_AFTER = 0.25
#: Least share of blue between the band rows' median start and the cut: a band is a filled
#: strip (0.8-1.0 on the local sets' EU plates), while blue characters beside a bluish shadow
#: (``2CPT952``: blue text on a white Californian plate) make runs as wide as a band with
#: the ground showing between them (0.52), and the cut took the 2.
BAND_FILL = 0.65
#: Where the band's right edge slants (a turned plate), the cut is at this quantile of the
#: rows' edges (the median: further cut more of the first character than they saved).
EDGE_QUANTILE = 0.5


def band_width(crop: Image) -> int:
    """Columns of a country band at the crop's left edge (0 when there is none).

    Row by row through the middle half of the crop: a run of blue pixels that starts near
    the left edge and is as wide as a band. A turned or slanted plate moves the run from row
    to row, so each row is measured on its own and the cut taken across them."""
    import cv2

    height, width = crop.shape[:2]
    if crop.ndim != 3 or height < 8 or width < 16:
        return 0
    middle = crop[height // 4 : height - height // 4]
    hsv = cv2.cvtColor(middle, cv2.COLOR_BGR2HSV)
    blue = (
        (hsv[..., 0] >= BLUE_HUE[0])
        & (hsv[..., 0] <= BLUE_HUE[1])
        & (hsv[..., 1] >= MIN_SATURATION)
        & (hsv[..., 2] >= MIN_VALUE)
    )
    limit = int(width * BAND_START) + 1
    near_left = blue[:, :limit]
    has_start = near_left.any(axis=1)
    starts = near_left.argmax(axis=1)
    # Each row's run ends at its first non-blue column from its start on (or the edge).
    after_start = np.arange(width)[None, :] >= starts[:, None]
    gaps = ~blue & after_start
    stops = np.where(gaps.any(axis=1), gaps.argmax(axis=1), width)
    runs = stops - starts
    band_rows = has_start & (runs >= BAND_WIDTH[0] * width) & (runs <= BAND_WIDTH[1] * width)
    if band_rows.sum() < BAND_ROWS * len(blue):
        return 0
    cut = int(np.ceil(np.quantile(stops[band_rows], EDGE_QUANTILE)))
    if cut < width and blue[:, cut:].mean() > MAX_BLUE_AFTER:
        return 0
    start = int(np.median(starts[band_rows]))
    if blue[:, start:cut].mean() < BAND_FILL:
        return 0
    return cut


def cut_country_band(crop: Image) -> Image:
    """The crop without its country band (the crop itself when it has none)."""
    cut = band_width(crop)
    return crop[:, cut:] if cut else crop
