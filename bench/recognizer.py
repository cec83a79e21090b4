"""Time per plate of the engine's recognizer, PP-OCR beside a trained slot model, on the same
plates.

    python -m bench.recognizer MODEL_DIR [--plates N] [--repeat R] [--threads T]

The plates are the labelled boxes of the evaluation sets that have boxes (``eu-cars``,
``plate-crops``) and ``N`` synthetic plates (held-out seeds, one- and two-line, pasted into a
grey frame). Each is read through ``Engine.read_at``, the path a tracked plate takes: crop
with the engine's margins, recognize, decode against the layouts. Prints p50 and p95 in
milliseconds per plate for each reader, the ratio trained/PP-OCR, and each reader's exact
reads on the synthetic plates; last line ``RESULT ppocr_ms=<p50> trained_ms=<p50>
ratio=<trained/ppocr>``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

Plate = tuple[Any, tuple[float, float, float, float], str]


def labelled_plates() -> list[Plate]:
    """Every labelled box of the evaluation sets, with its image and text."""
    import cv2

    from edge.evaluation.labels import load_set
    from edge.evaluation.sets import evaluation_sets

    plates: list[Plate] = []
    for evaluation_set in evaluation_sets():
        for name, labels in load_set(evaluation_set.folder).items():
            image = cv2.imread(str(evaluation_set.folder / name))
            plates += [(image, label.box, label.text) for label in labels if label.box]
    return plates


def synthetic_plates(count: int) -> list[Plate]:
    """``count`` synthetic plates from seeds training never draws, each in a grey frame."""
    import random

    from edge.training.augment import camera_crop
    from edge.training.synth import PlateSynth

    synth = PlateSynth(("any",), two_line_share=0.3)
    rng = random.Random(2**30 + 17)
    plates: list[Plate] = []
    while len(plates) < count:
        plate = synth.sample(rng)
        crop = camera_crop(plate.image, rng)
        h, w = crop.shape[:2]
        frame = np.full((h + 80, w + 80, 3), 96, np.uint8)
        frame[40 : 40 + h, 40 : 40 + w] = crop
        plates.append((frame, (40.0, 40.0, 40.0 + w, 40.0 + h), plate.text))
    return plates


def time_reader(engine: Any, plates: list[Plate], repeat: int) -> tuple[list[float], list[str]]:
    """Milliseconds per plate over ``repeat`` passes (after a warm-up) and the last texts."""
    for image, box, _ in plates[:3]:
        engine.read_at(image, box, 1.0)
    times: list[float] = []
    texts: list[str] = []
    for _ in range(repeat):
        texts = []
        for image, box, _ in plates:
            started = time.perf_counter()
            read = engine.read_at(image, box, 1.0)
            times.append((time.perf_counter() - started) * 1000.0)
            texts.append(read.text if read else "")
    return times, texts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, help="a trained model folder (alpr train ocr --out)")
    parser.add_argument("--plates", type=int, default=100, help="synthetic plates (default 100)")
    parser.add_argument("--repeat", type=int, default=3, help="passes over the plates")
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads (0: auto)")
    args = parser.parse_args(argv)

    from edge.config import EngineConfig, NoVehicles, PpOcr
    from edge.engine.factory import build_engine
    from edge.training.evaluate import with_model

    # The manifest's PP-OCR, not the registry's current version that the default reads.
    base = EngineConfig(vehicles=NoVehicles(), ocr=PpOcr(registry=None), threads=args.threads)
    readers = {"ppocr": base, "trained": with_model(base, args.model)}
    real = labelled_plates()
    synthetic = synthetic_plates(args.plates)
    plates = real + synthetic
    print(f"{len(real)} labelled plates, {len(synthetic)} synthetic, {args.repeat} passes")
    medians = {}
    for name, config in readers.items():
        engine = build_engine(config)
        times, texts = time_reader(engine, plates, args.repeat)
        p50, p95 = np.percentile(times, 50), np.percentile(times, 95)
        medians[name] = float(p50)
        right = [t == text for t, (_, _, text) in zip(texts, plates, strict=True)]
        exact_real, exact_synth = sum(right[: len(real)]), sum(right[len(real) :])
        print(
            f"{name:8} p50 {p50:6.1f} ms/plate  p95 {p95:6.1f}  exact: labelled "
            f"{exact_real}/{len(real)}, synthetic {exact_synth}/{len(synthetic)}"
        )
    ratio = medians["trained"] / medians["ppocr"]
    print(f"trained/ppocr time per plate: {ratio:.2f}")
    print(
        f"RESULT ppocr_ms={medians['ppocr']:.1f} trained_ms={medians['trained']:.1f} "
        f"ratio={ratio:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
