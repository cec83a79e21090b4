"""The edge pipeline on a 1080p clip: every-frame against gated-and-tracked, and cameras.

    .venv/bin/python -m bench.edge [--max-cameras N] [--fps F] [--skip-every-frame]

The clip is built from the labelled real photographs (``edge.video.clip``, cached in
$ALPR_HOME/clips). Mode ``every_frame`` detects vehicles, searches every track's plate and
reads it on every frame; mode ``gated`` uses the default tracking settings (motion gate,
detection every k-th frame on a decoder-scaled copy, reads throttled and stopped once they
agree, later reads at the plate's known place). Each mode prints the plates it found and
where its time went per stage. Then 1, 2, ... cameras run the gated pipeline on the clip at
once (threads, one shared engine with one ONNX Runtime thread per model, as ``alpr edge``
runs several cameras) until one of them processes fewer than ``--fps`` frames per second.

Wall-clock rates depend on whatever else runs on the machine; the CPU time per frame does
much less, so the cameras the CPU time would sustain on all cores is printed too. Ends with
``RESULT gated_fps=<frames/s> every_frame_fps=<frames/s> cameras_10fps=<n>`` followed by
``lost=<plates>`` (every-frame plates gating missed) and ``cpu_cameras_10fps=<n>``.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.cameras import CameraConfig, TrackingConfig
from edge.config import EngineConfig
from edge.manifest import alpr_home

EVERY_FRAME = TrackingConfig(
    motion_threshold=0.0,
    detect_every=1,
    ocr_every=1,
    max_reads=100,
    settle_reads=100,
    reuse_plate_box=False,
)
GATED = TrackingConfig()
STAGES = ("decode", "gate", "detect", "track", "locate", "ocr")


@dataclass(frozen=True)
class Run:
    """One pass of one camera over the clip."""

    fps: float
    texts: list[str]
    stats: Any
    decode_s: float
    frames: int


def run_camera(engine: Any, clip: Path, tracking: TrackingConfig, name: str) -> Run:
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
    frames = source.stats.delivered
    texts = sorted(e.text for e in events)
    return Run(frames / elapsed, texts, pipeline.stats, source.stats.decode_s, frames)


def profile(label: str, run: Run, cpu_s: float) -> float:
    """Print the run's stages (ms per frame of the clip); its CPU milliseconds per frame."""
    stages = dict(run.stats.stage_ms)
    stages["decode"] = run.decode_s * 1000.0
    total = sum(stages.get(s, 0.0) for s in STAGES)
    parts = ", ".join(
        f"{s} {stages.get(s, 0.0) / run.frames:.1f} ({100 * stages.get(s, 0.0) / total:.0f}%)"
        for s in STAGES
    )
    stats = run.stats
    cpu_ms = cpu_s * 1000.0 / run.frames
    print(f"{label}: {run.fps:.1f} frames/s, plates {run.texts}")
    print(
        f"  frames {stats.frames}, analysed {stats.analysed}, detections {stats.detections}, "
        f"plate searches {stats.searches}, plate reads {stats.plate_reads} "
        f"({stats.rereads} at the known place), "
        f"events {stats.events}"
    )
    print(f"  ms per frame (wall): {parts}; CPU {cpu_ms:.1f} ms per frame (all threads)")
    return cpu_ms


def timed_run(engine: Any, clip: Path, tracking: TrackingConfig, name: str) -> tuple[Run, float]:
    """A run and the process's CPU seconds during it."""
    cpu = time.process_time()
    run = run_camera(engine, clip, tracking, name)
    return run, time.process_time() - cpu


def cameras_sustained(engine: Any, clip: Path, fps: float, most: int) -> tuple[int, float]:
    """How many cameras at once each keep up with ``fps``; CPU ms per frame of the last try."""
    sustained, cpu_ms = 0, 0.0
    for count in range(1, most + 1):
        results: list[Run | None] = [None] * count

        def one(i: int, results: list[Run | None] = results) -> None:
            results[i] = run_camera(engine, clip, GATED, f"cam{i}")

        threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
        cpu = time.process_time()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        runs = [r for r in results if r is not None]
        cpu_ms = (time.process_time() - cpu) * 1000.0 / max(1, sum(r.frames for r in runs))
        rates = [r.fps for r in runs]
        print(
            f"{count} camera(s): "
            + ", ".join(f"{r:.1f}" for r in rates)
            + f" frames/s; CPU {cpu_ms:.1f} ms per frame; load {os.getloadavg()[0]:.1f}"
        )
        if len(runs) < count or min(rates) < fps:
            break
        sustained = count
    return sustained, cpu_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--max-cameras", type=int, default=8)
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument(
        "--skip-every-frame", action="store_true", help="skip the slow every-frame reference"
    )
    args = parser.parse_args()

    from edge.engine.factory import build_engine
    from edge.video.clip import BENCH_CLIP, build_clip

    started = time.perf_counter()
    clip, scenes = build_clip(alpr_home() / "samples" / "plates", BENCH_CLIP)
    print(f"clip {clip} ({len(scenes)} scenes) ready in {time.perf_counter() - started:.1f} s")
    print(f"cores {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} at the start")
    engine = build_engine()
    shared = build_engine(EngineConfig(threads=1))  # as alpr edge runs several cameras
    run_camera(engine, clip, GATED, "warm-up")
    every_texts: list[str] = []
    every_fps = 0.0
    if not args.skip_every_frame:
        every, every_cpu = timed_run(engine, clip, EVERY_FRAME, "every")
        profile("every_frame", every, every_cpu)
        every_texts, every_fps = every.texts, every.fps
    gated, gated_cpu = timed_run(engine, clip, GATED, "gated")
    profile("gated", gated, gated_cpu)
    single, single_cpu = timed_run(shared, clip, GATED, "gated-1")
    cpu_ms = profile("gated, one thread per model", single, single_cpu)
    lost = sorted(set(every_texts) - set(gated.texts))
    print(f"plates lost by gating against every-frame: {lost or 'none'}")
    cpu_cameras = (os.cpu_count() or 1) * 1000.0 / (cpu_ms * args.fps)
    print(f"CPU time per frame {cpu_ms:.1f} ms: {cpu_cameras:.1f} cameras at {args.fps:g} fps")
    cameras, _ = cameras_sustained(shared, clip, args.fps, args.max_cameras)
    print(
        f"RESULT gated_fps={gated.fps:.1f} every_frame_fps={every_fps:.1f} "
        f"cameras_10fps={cameras} lost={len(lost)} cpu_cameras_10fps={cpu_cameras:.1f}"
    )


if __name__ == "__main__":
    main()
