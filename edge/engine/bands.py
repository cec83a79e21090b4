"""The EU country band: the blue strip at a plate's left edge, cut off before reading.

Its letters (D, NL, HR, ...) are not part of the registration, and a text recognizer reads
them as a first character (``PRK248AH``). The band is found by colour: a run of columns at
the left edge where most pixels of the middle rows are saturated blue.
"""

from __future__ import annotations

import numpy as np

from edge.engine.geometry import Image

#: OpenCV hue range (0-180) of the band's blue, and the least saturation and value.
BLUE_HUE = (95, 130)
MIN_SATURATION = 90
MIN_VALUE = 50
#: A column is blue when this share of its middle rows is.
BLUE_SHARE = 0.5
#: The band starts within this share of the width and is at most this wide.
BAND_START = 0.08
BAND_WIDTH = (0.04, 0.2)


def band_width(crop: Image) -> int:
    """Columns of a country band at the crop's left edge (0 when there is none)."""
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
    columns = blue.mean(axis=0) >= BLUE_SHARE
    limit = int(width * BAND_START) + 1
    starts = np.flatnonzero(columns[:limit])
    if starts.size == 0:
        return 0
    stop = int(starts[0])
    while stop < width and columns[stop]:
        stop += 1
    if not BAND_WIDTH[0] * width <= stop - starts[0] <= BAND_WIDTH[1] * width:
        return 0
    return stop


def cut_country_band(crop: Image) -> Image:
    """The crop without its country band (the crop itself when it has none)."""
    cut = band_width(crop)
    return crop[:, cut:] if cut else crop
