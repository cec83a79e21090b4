"""The plate reader on many synthetic plates: one- and two-line exact reads per
configuration, compared in one run.

    python -m bench.synthetic [--plates N] [--two-line SHARE] [--seed S] [--region R]
                              [--config A.yaml [--config B.yaml ...]]

The plates are rendered by the training renderer (``edge.training.synth``: every layout of
``edge/layouts.yaml``, one and two lines, EU bands, several fonts) and cut out as a camera
and detector would (``edge.training.augment.camera_crop``: perspective, box errors, low
resolution, blur, light, noise, JPEG). Each crop is read by the configured reader alone,
the way ``Engine.read_at`` reads a tracked plate: its candidates chosen by the engine's
vote. Synthetic plates are no stand-in for real photos (``bench.accuracy`` measures those);
they are many, and two-line plates are frequent among them, so they show small changes in
the reader that the few real plates cannot. Use a seed that training did not use (the
default is not one of ``alpr train``'s).

Prints per configuration the exact reads of one-line and two-line plates and the time per
plate, then ``RESULT`` with each configuration's exact share.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

#: Not one of the seeds training draws from (alpr train ocr seeds its streams from 0 up).
DEFAULT_SEED = 90210


def main(argv: list[str] | None = None) -> int:
    from edge.config import PpOcr, load_engine_config
    from edge.engine.factory import backend_of
    from edge.engine.ocr import PpOcrReader
    from edge.engine.pipeline import _choose
    from edge.engine.trained import ppocr_model
    from edge.formats import PlateFormats
    from edge.manifest import ModelStore
    from edge.training.augment import camera_crop
    from edge.training.synth import PlateSynth

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plates", type=int, default=400, help="plates rendered (default 400)")
    parser.add_argument(
        "--two-line", type=float, default=0.5, help="share of two-line plates (default 0.5)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="render seed")
    parser.add_argument("--region", default="any", help="regions rendered (default any)")
    parser.add_argument(
        "--config", type=Path, action="append", default=[], help="engine settings (YAML)"
    )
    args = parser.parse_args(argv)
    if args.plates < 1:
        parser.error(f"--plates must be at least 1, got {args.plates}")
    if not 0.0 <= args.two_line <= 1.0:
        parser.error(f"--two-line must be in [0, 1], got {args.two_line}")
    rng = random.Random(args.seed)
    synth = PlateSynth(args.region.split(","), two_line_share=args.two_line)
    plates = []
    for _ in range(args.plates):
        plate = synth.sample(rng)
        plates.append((camera_crop(plate.image, rng), plate.text, plate.lines))
    store = ModelStore()
    results = []
    for path in args.config or [None]:
        config = load_engine_config(path)
        if not isinstance(config.ocr, PpOcr):
            parser.error(f"{path}: bench.synthetic reads with the PP-OCR reader (ocr.type ppocr)")
        reader = PpOcrReader(
            ppocr_model(config.ocr, store), config.ocr, backend_of(config, recognizer=True)
        )
        formats = PlateFormats(config.formats)
        exact = {1: 0, 2: 0}
        total = {1: 0, 2: 0}
        started = time.perf_counter()
        for crop, text, lines in plates:
            (found,) = reader.read_many([[crop]], formats)
            total[lines] += 1
            exact[lines] += bool(found) and _choose(found).text == text
        ms = (time.perf_counter() - started) * 1000 / len(plates)
        name = path.name if path else "default"
        print(
            f"[{name}] one-line {exact[1]}/{total[1]}  two-line {exact[2]}/{total[2]}  "
            f"all {exact[1] + exact[2]}/{len(plates)}  {ms:.1f} ms/plate"
        )
        results.append(f"{name}={(exact[1] + exact[2]) / len(plates):.4f}")
    print("RESULT " + " ".join(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
