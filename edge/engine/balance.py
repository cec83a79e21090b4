"""Colour-cast removal before plate detection (gray-world white balance).

Dashcams and cheap cameras tint whole frames (a magenta cast at night, sodium-orange street
light). The plate detector, trained on frames of ordinary colour, then misses plates that
are plain to see, or boxes them short: on the local Romanian dashcam set (see
tests/data/local-sets) it found 64 of 70 plates in the frames as they are and 68 once each
channel was scaled to the frame's mean grey. The balanced frame only feeds the detector; the
recognizer reads the frame's own pixels (balanced crops read fewer plates there). The balance
is applied to the detector's letterboxed input, not the frame: a 1080p frame's table lookup
costs about 4 ms, the 640-pixel input's a tenth of that.
"""

from __future__ import annotations

import numpy as np

from edge.engine.geometry import Image, Letterbox

#: Channel means are taken over every this-many-th row and column: a cast covers the frame.
SAMPLE_STEP = 4
#: The most a channel is scaled either way: a frame that is one colour (a red car filling a
#: close-up) is not a cast to undo in full.
MAX_GAIN = 3.0


def gray_world(image: Image) -> Image:
    """``image`` (BGR, uint8) with each channel scaled so that its mean is the mean of the
    three channels' means; an image without a cast comes back nearly unchanged."""
    import cv2

    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be BGR of shape (H, W, 3), got {image.shape}")
    sample = image[::SAMPLE_STEP, ::SAMPLE_STEP].reshape(-1, 3)
    means = sample.mean(axis=0) if sample.size else np.zeros(3)
    if means.min() <= 0.0:
        return image
    gains = np.clip(means.mean() / means, 1.0 / MAX_GAIN, MAX_GAIN)
    levels = np.arange(256, dtype=np.float32)[:, None] * gains[None, :]
    table = np.clip(np.rint(levels), 0, 255).astype(np.uint8).reshape(256, 1, 3)
    return cv2.LUT(image, table)


def balance_letterboxed(boxed: Image, geometry: Letterbox, source_shape: tuple[int, ...]) -> None:
    """:func:`gray_world` on the image part of a letterboxed model input, in place (the
    padding keeps the grey the model was trained with)."""
    height, width = source_shape[:2]
    top, left = round(geometry.pad_y), round(geometry.pad_x)
    bottom = top + round(height * geometry.scale)
    right = left + round(width * geometry.scale)
    boxed[top:bottom, left:right] = gray_world(boxed[top:bottom, left:right])
