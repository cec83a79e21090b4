"""The edge pipeline on a 1080p clip: every-frame against gated-and-tracked, and cameras.

    python bench/edge_cameras.py [--max-cameras N] [--fps F]

(Not ``bench/edge.py``: a script of that name would hide the ``edge`` package from every
script in this folder, whose folder leads sys.path, and clash with it in ``mypy .``.)
The clip is built from the labelled real photographs (``edge.video.clip``, cached in
$ALPR_HOME/clips). Mode ``every_frame`` detects vehicles and reads every track on every
frame; mode ``gated`` uses the default tracking settings (motion gate, detection every k-th
frame, per-track read throttling). Then 1, 2, ... cameras run the gated pipeline on the clip
at once (threads, one shared engine, as ``alpr edge`` does) until one of them processes
fewer than ``--fps`` frames per second. Ends with
``RESULT gated_fps=<frames/s> every_frame_fps=<frames/s> cameras_10fps=<n>``.
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path
from typing import Any

from edge.cameras import CameraConfig, TrackingConfig
from edge.manifest import alpr_home

EVERY_FRAME = TrackingConfig(
    motion_threshold=0.0, detect_every=1, ocr_every=1, max_reads=100, settle_reads=100
)
GATED = TrackingConfig()


def run_camera(
    engine: Any, clip: Path, tracking: TrackingConfig, name: str
) -> tuple[float, list[str], Any]:
    """Frames per second (decode included), the texts read, and the pipeline's stats."""
    from edge.video.pipeline import CameraPipeline
    from edge.video.source import VideoSource

    pipeline = CameraPipeline(CameraConfig(id=name, url=str(clip)), engine, tracking)
    source = VideoSource(str(clip), fps=1000.0)  # every frame of the file, as fast as it goes
    started = time.perf_counter()
    events = []
    for frame in source.frames():
        events += pipeline.process(frame)
    events += pipeline.finish()
    elapsed = time.perf_counter() - started
    return source.stats.delivered / elapsed, sorted(e.text for e in events), pipeline.stats


def cameras_sustained(engine: Any, clip: Path, fps: float, most: int) -> tuple[int, list[float]]:
    """How many cameras at once each keep up with ``fps``; the per-camera rates of the last try."""
    sustained, rates = 0, []
    for count in range(1, most + 1):
        results: list[float] = [0.0] * count

        def one(i: int, results: list[float] = results) -> None:
            results[i] = run_camera(engine, clip, GATED, f"cam{i}")[0]

        threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        rates = results
        print(f"{count} camera(s): " + ", ".join(f"{r:.1f}" for r in results) + " frames/s")
        if min(results) < fps:
            break
        sustained = count
    return sustained, rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-cameras", type=int, default=8)
    parser.add_argument("--fps", type=float, default=10.0)
    args = parser.parse_args()

    from edge.engine.factory import build_engine
    from edge.video.clip import BENCH_CLIP, build_clip

    started = time.perf_counter()
    clip, scenes = build_clip(alpr_home() / "samples" / "plates", BENCH_CLIP)
    print(f"clip {clip} ({len(scenes)} scenes) ready in {time.perf_counter() - started:.1f} s")
    engine = build_engine()
    run_camera(engine, clip, GATED, "warm-up")
    every_fps, every_texts, every_stats = run_camera(engine, clip, EVERY_FRAME, "every")
    print(f"every_frame: {every_fps:.1f} frames/s, plates {every_texts}, {every_stats}")
    gated_fps, gated_texts, gated_stats = run_camera(engine, clip, GATED, "gated")
    print(f"gated:       {gated_fps:.1f} frames/s, plates {gated_texts}, {gated_stats}")
    lost = sorted(set(every_texts) - set(gated_texts))
    print(f"plates lost by gating against every-frame: {lost or 'none'}")
    cameras, _ = cameras_sustained(engine, clip, args.fps, args.max_cameras)
    print(
        f"RESULT gated_fps={gated_fps:.1f} every_frame_fps={every_fps:.1f} "
        f"cameras_10fps={cameras} lost={len(lost)}"
    )


if __name__ == "__main__":
    main()
