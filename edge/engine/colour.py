"""A vehicle's colour as a name, from the pixels of its body.

Each pixel of the body region (the middle of the box: clear of the wheels, the road and most
of the windows) is named by its hue, saturation and value.
A clear colour (red, blue, ...) names the vehicle when enough pixels hold it; reflections of
the sky on dark paint are dim blue, so a colour needs some brightness and saturation to count.
Otherwise the body's median brightness tells black, grey (silver) and white apart.
"""

from __future__ import annotations

import numpy as np

from edge.engine.detections import Box
from edge.engine.geometry import Image

COLOURS = ("black", "white", "grey", "red", "orange", "yellow", "green", "blue", "purple", "brown")
#: Upper OpenCV hue (0-180) of each hue band, from red round to red.
_HUES = ((8, "red"), (21, "orange"), (34, "yellow"), (85, "green"), (130, "blue"), (164, "purple"))
#: The body region, as fractions of the vehicle box: x from, x to, y from, y to.
BODY = (0.2, 0.8, 0.35, 0.75)
#: Hues and brightness that are not colours of their own.
ACHROMATIC = ("black", "white", "grey")
#: Share of the body's pixels that must hold a clear colour for it to name the vehicle.
VIVID_SHARE = 0.25
#: Median brightness (0-255) of a body without a clear colour: black below, white from.
BLACK_BELOW = 110
WHITE_FROM = 170
#: Largest side of the body region, in pixels, once shrunk (colour needs no detail).
SAMPLE = 48


def name_pixels(hsv: np.ndarray) -> np.ndarray:
    """The index into :data:`COLOURS` of each pixel of an OpenCV HSV image."""
    h, s, v = (hsv[..., i].astype(np.int16) for i in range(3))
    names = np.full(h.shape, COLOURS.index("grey"), np.int8)
    names[(s < 45) & (v > 170)] = COLOURS.index("white")
    vivid = (s >= 60) & (v >= 70)
    hue_names = np.full(h.shape, COLOURS.index("red"), np.int8)  # 164-180 wraps to red
    for upper, name in reversed(_HUES):
        hue_names[h < upper] = COLOURS.index(name)
    brownish = (hue_names == COLOURS.index("orange")) & (v < 150)
    hue_names[brownish] = COLOURS.index("brown")
    names[vivid] = hue_names[vivid]
    names[v < 60] = COLOURS.index("black")
    return names


def vehicle_colour(frame: Image, box: Box) -> str | None:
    """The colour name of the vehicle in ``box``; ``None`` when the box is too small."""
    import cv2

    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    bx1, bx2 = int(x1 + BODY[0] * w), int(x1 + BODY[1] * w)
    by1, by2 = int(y1 + BODY[2] * h), int(y1 + BODY[3] * h)
    body = frame[max(by1, 0) : max(by2, 0), max(bx1, 0) : max(bx2, 0)]
    if body.shape[0] < 4 or body.shape[1] < 4:
        return None
    scale = SAMPLE / max(body.shape[:2])
    if scale < 1.0:
        body = cv2.resize(body, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(body, cv2.COLOR_BGR2HSV)
    names = name_pixels(hsv).ravel()
    counts = np.bincount(names, minlength=len(COLOURS)).astype(float) / names.size
    vivid = [i for i, name in enumerate(COLOURS) if name not in ACHROMATIC]
    best = max(vivid, key=lambda i: counts[i])
    if counts[vivid].sum() >= VIVID_SHARE and counts[best] >= 0.5 * counts[vivid].sum():
        return COLOURS[best]
    # Paint without a hue: its brightness names it (black paint in daylight is dark grey).
    value = float(np.median(hsv[..., 2]))
    return "black" if value < BLACK_BELOW else "grey" if value < WHITE_FROM else "white"
