"""The reader on small plates: each labelled plate scaled down to a few widths, read at its box.

    python -m bench.small_plates DIR [DIR...] [--widths 40,60,90,150] [--config FILE]
                                 [--region R]

A camera that sees a street in 1280x720 sees motorcycles' two-line plates 40-100 pixels
wide. Each labelled plate of each DIR (its box, or the whole image in a set of plate crops
labelled without boxes) is cut out with a margin of its own size on every side, scaled so
that the plate is W pixels wide (never enlarged), and read by ``Engine.read_at`` at its box:
the reader alone, as for a plate the detector found. The detector's part in small plates is
``bench.accuracy``'s (found). Prints exact reads per set and width, then
``RESULT exact=<share over every set and width>``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

#: Plate widths in pixels read by default.
DEFAULT_WIDTHS = (40, 60, 90, 150)


def scaled_plate(image: Any, box: tuple[float, float, float, float], width: int) -> tuple[Any, Any]:
    """The plate at ``box`` with a margin of its own size on each side (grey where the image
    ends), scaled so the plate is ``width`` pixels wide (never enlarged); and its box there."""
    import cv2
    import numpy as np

    x1, y1, x2, y2 = box
    plate_w, plate_h = x2 - x1, y2 - y1
    if plate_w <= 0 or plate_h <= 0:
        raise ValueError(f"empty plate box {box}")
    pad = int(np.ceil(max(plate_w, plate_h)))
    framed = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(60, 60, 60))
    left, top = int(x1 - plate_w) + pad, int(y1 - plate_h) + pad
    right, bottom = int(np.ceil(x2 + plate_w)) + pad, int(np.ceil(y2 + plate_h)) + pad
    region = framed[max(0, top) : bottom, max(0, left) : right]
    scale = min(1.0, width / plate_w)
    small = cv2.resize(region, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    origin_x, origin_y = x1 + pad - max(0, left), y1 + pad - max(0, top)
    plate_box = (
        origin_x * scale,
        origin_y * scale,
        (origin_x + plate_w) * scale,
        (origin_y + plate_h) * scale,
    )
    return small, plate_box


def main(argv: list[str] | None = None) -> int:
    import cv2

    from edge.config import load_engine_config
    from edge.engine.factory import build_engine
    from edge.evaluation.labels import load_set
    from edge.formats import PlateFormats

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dirs", nargs="+", type=Path, help="labelled folders (one set each)")
    parser.add_argument(
        "--widths",
        default=",".join(map(str, DEFAULT_WIDTHS)),
        help=f"plate widths in pixels, comma-separated (default {DEFAULT_WIDTHS})",
    )
    parser.add_argument("--config", type=Path, default=None, help="engine settings (YAML)")
    parser.add_argument("--region", default=None, help="plate formats to decode with")
    args = parser.parse_args(argv)
    try:
        widths = [int(w) for w in args.widths.split(",")]
    except ValueError:
        parser.error(f"--widths must be integers, got {args.widths!r}")
    if not widths or min(widths) < 8:
        parser.error(f"--widths must be at least 8 pixels, got {args.widths!r}")
    config = load_engine_config(args.config)
    engine = build_engine(config)
    formats = PlateFormats(config.formats, args.region) if args.region else None
    exact = total = 0
    for directory in args.dirs:
        labels = load_set(directory)
        for width in widths:
            right = count = 0
            for name, plates in sorted(labels.items()):
                image = cv2.imread(str(directory / name))
                if image is None:
                    raise SystemExit(f"{directory / name}: not an image")
                for label in plates:
                    height, image_w = image.shape[:2]
                    box = label.box or (0.0, 0.0, float(image_w), float(height))
                    small, plate_box = scaled_plate(image, box, width)
                    read = engine.read_at(small, plate_box, 1.0, formats)
                    count += 1
                    right += read is not None and read.text == label.text
            print(f"{directory.name:12} plate {width:4} px: exact {right}/{count}")
            exact, total = exact + right, total + count
    print(f"RESULT exact={exact / max(total, 1):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
