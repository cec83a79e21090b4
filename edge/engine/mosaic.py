"""Several small regions searched in one detector run: a mosaic of letterboxed cells.

A plate detector with a 640x640 input sees a vehicle crop of 150 pixels scaled up four
times, where the whole frame shrank the same plate three times. Searching each crop apart
costs a model run per vehicle; packing up to four crops into the cells of one 2x2 mosaic
costs one run and still scales each crop up about twice. With ``compact``, fewer crops
take a smaller mosaic (two side by side: 640x320, half the run of a 2x2 one), for detectors
that take any input size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edge.engine.detections import Box, Detection
from edge.engine.geometry import LETTERBOX_FILL, Image


@dataclass(frozen=True)
class Cell:
    """Where one region went: its cell's origin in the mosaic, its scale and its origin in
    the frame."""

    x: int
    y: int
    size: int
    scale: float
    origin: tuple[float, float]


def pack(
    frame: Image, regions: Sequence[Box], cell: int = 320, grid: int = 2, compact: bool = False
) -> tuple[Image, list[Cell]]:
    """A ``grid`` x ``grid`` mosaic of the frame's ``regions`` (at most grid**2), each scaled
    to fit its ``cell``-pixel square, top-left aligned; and where each one went. ``compact``
    leaves out the columns and rows no region needs (one region: one cell; two: one row)."""
    import cv2

    if not 1 <= len(regions) <= grid * grid:
        raise ValueError(f"regions must number 1 to {grid * grid}, got {len(regions)}")
    columns, rows = grid, grid
    if compact:
        columns = min(grid, len(regions))
        rows = -(-len(regions) // grid)
    mosaic = np.full((cell * rows, cell * columns, 3), LETTERBOX_FILL, np.uint8)
    cells = []
    for index, (x1, y1, x2, y2) in enumerate(regions):
        x1, y1 = max(0.0, x1), max(0.0, y1)
        part = frame[int(y1) : int(np.ceil(y2)), int(x1) : int(np.ceil(x2))]
        if part.size == 0:
            raise ValueError(f"region {index} {regions[index]} is outside the frame")
        scale = min(cell / part.shape[0], cell / part.shape[1])
        width, height = max(1, round(part.shape[1] * scale)), max(1, round(part.shape[0] * scale))
        cx, cy = (index % grid) * cell, (index // grid) * cell
        mosaic[cy : cy + height, cx : cx + width] = cv2.resize(part, (width, height))
        cells.append(Cell(cx, cy, cell, scale, (float(int(x1)), float(int(y1)))))
    return mosaic, cells


def unpack(found: Sequence[Detection], cells: Sequence[Cell]) -> list[tuple[int, Detection]]:
    """Each detection in the mosaic as (its cell's index, the detection in frame pixels);
    a detection belongs to the cell holding its centre, and is clipped to that cell."""
    placed = []
    for detection in found:
        x1, y1, x2, y2 = detection.box
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        for index, c in enumerate(cells):
            if c.x <= cx < c.x + c.size and c.y <= cy < c.y + c.size:
                box = tuple(
                    (min(max(v, lo), lo + c.size) - lo) / c.scale + origin
                    for v, lo, origin in (
                        (x1, c.x, c.origin[0]),
                        (y1, c.y, c.origin[1]),
                        (x2, c.x, c.origin[0]),
                        (y2, c.y, c.origin[1]),
                    )
                )
                frame_box = (box[0], box[1], box[2], box[3])
                placed.append((index, Detection(frame_box, detection.score, detection.label)))
                break
    return placed
