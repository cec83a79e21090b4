"""Demo and test clips built from the labelled real photographs, never committed.

Each photo with plates on vehicles becomes a scene: the photo, on a grey road-coloured
background, slides down the frame while growing (a vehicle driving towards the camera,
crossing the middle of the frame), then a few still grey frames end its tracks. A
degraded variant adds sensor noise and varying blur per frame (seeded, reproducible), for
testing that voting over a track's frames beats its single best frame.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from edge.manifest import alpr_home

#: Bump when the clip's recipe changes, so cached clips are rebuilt. 2: the plate close-ups
#: without a vehicle are left out again (the labels' full form moved the note to column 8,
#: and clips built from it held them).
CLIP_VERSION = 2
#: The vehicle column of the labels' full form (``-``: no vehicle).
VEHICLE_COLUMN = 5
BACKGROUND = (96, 96, 96)


@dataclass(frozen=True)
class Scene:
    """One photo's pass through the clip: its plates and its frames."""

    photo: str
    plates: list[str]
    first_frame: int
    last_frame: int


@dataclass(frozen=True)
class ClipSpec:
    width: int = 1280
    height: int = 720
    fps: int = 10
    frames_per_scene: int = 40
    gap_frames: int = 20
    degrade: float = 0.0
    seed: int = 7
    #: Photos to use, in this order; ``None`` for every photo with vehicles.
    photos: tuple[str, ...] | None = None

    @property
    def name(self) -> str:
        degraded = f"-degraded{self.degrade:g}" if self.degrade else ""
        scenes = f"-{len(self.photos)}of-{_digest(self.photos)}" if self.photos else ""
        return (
            f"plates-{self.width}x{self.height}-{self.fps}fps-{self.frames_per_scene}f"
            f"{degraded}{scenes}-v{CLIP_VERSION}"
        )


def _digest(photos: tuple[str, ...]) -> str:
    return hashlib.sha256("\n".join(photos).encode()).hexdigest()[:8]


def vehicle_scenes(samples: Path) -> dict[str, list[str]]:
    """Photos whose plates sit on vehicles (close-ups without one are left out: their
    vehicle column is ``-``, or, in the short form of labels, their note says so)."""
    plates: dict[str, list[str]] = defaultdict(list)
    with (samples / "labels.tsv").open(encoding="utf-8") as handle:
        for row in csv.reader(handle, delimiter="\t"):
            if not row or row[0].startswith("#") or len(row) < 3:
                continue
            vehicle = row[VEHICLE_COLUMN].strip() if len(row) > VEHICLE_COLUMN else ""
            if vehicle == "-" or any("no vehicle" in field for field in row[2:]):
                continue
            plates[row[0]].append(row[1])
    return dict(plates)


def clip_path(spec: ClipSpec, cache: Path | None = None) -> Path:
    return (cache or alpr_home() / "clips") / f"{spec.name}.mp4"


def build_clip(
    samples: Path, spec: ClipSpec, cache: Path | None = None
) -> tuple[Path, list[Scene]]:
    """The clip of ``spec`` and its scenes; built once, then read from the cache."""
    path = clip_path(spec, cache)
    index = path.with_suffix(".json")
    if path.is_file() and index.is_file():
        return path, [Scene(**s) for s in json.loads(index.read_text(encoding="utf-8"))]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.mp4")
    scenes = _write(samples, spec, partial)
    partial.replace(path)
    index.write_text(json.dumps([asdict(s) for s in scenes], indent=1), encoding="utf-8")
    return path, scenes


def _write(samples: Path, spec: ClipSpec, path: Path) -> list[Scene]:
    rng = np.random.default_rng(spec.seed)
    scenes = []
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=spec.fps)
        stream.width, stream.height, stream.pix_fmt = spec.width, spec.height, "yuv420p"
        stream.options = {"crf": "16", "preset": "veryfast", "g": str(spec.fps * 2)}
        count = 0

        def put(image: np.ndarray) -> None:
            nonlocal count
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            for packet in stream.encode(frame):
                container.mux(packet)
            count += 1

        blank = np.full((spec.height, spec.width, 3), BACKGROUND, dtype=np.uint8)
        for _ in range(spec.gap_frames):
            put(blank)
        scenes_by_photo = vehicle_scenes(samples)
        chosen = spec.photos or tuple(scenes_by_photo)
        unknown = sorted(set(chosen) - set(scenes_by_photo))
        if unknown:
            raise ValueError(f"photos {unknown} have no labelled plates on vehicles in {samples}")
        for photo in chosen:
            plates = scenes_by_photo[photo]
            image = cv2.imread(str(samples / photo), cv2.IMREAD_COLOR)
            if image is None:
                raise ValueError(f"{samples / photo}: not a readable image")
            first = count
            for step in range(spec.frames_per_scene):
                progress = step / max(1, spec.frames_per_scene - 1)
                put(_degrade(_place(image, spec, progress), spec.degrade, rng))
            scenes.append(Scene(photo, plates, first, count - 1))
            for _ in range(spec.gap_frames):
                put(blank)
        for packet in stream.encode(None):
            container.mux(packet)
    return scenes


def _place(photo: np.ndarray, spec: ClipSpec, progress: float) -> np.ndarray:
    """The photo at ``progress`` (0..1) of its pass: growing and moving down the frame."""
    canvas = np.full((spec.height, spec.width, 3), BACKGROUND, dtype=np.uint8)
    scale = min(spec.width / photo.shape[1], spec.height / photo.shape[0])
    scale *= 0.80 + 0.18 * progress
    width, height = round(photo.shape[1] * scale), round(photo.shape[0] * scale)
    resized = cv2.resize(photo, (width, height), interpolation=cv2.INTER_AREA)
    x = (spec.width - width) // 2
    # The centre travels from 40% to 60% of the frame height: across a line at 50%.
    y = round(spec.height * (0.40 + 0.20 * progress) - height / 2)
    _paste(canvas, resized, x, y)
    return canvas


def _paste(canvas: np.ndarray, image: np.ndarray, x: int, y: int) -> None:
    h, w = image.shape[:2]
    cx1, cy1 = max(0, x), max(0, y)
    cx2, cy2 = min(canvas.shape[1], x + w), min(canvas.shape[0], y + h)
    if cx2 > cx1 and cy2 > cy1:
        canvas[cy1:cy2, cx1:cx2] = image[cy1 - y : cy2 - y, cx1 - x : cx2 - x]


def _degrade(image: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """Blur of a random strength and Gaussian noise, both scaled by ``amount`` (0..1)."""
    if amount <= 0:
        return image
    sigma = float(rng.uniform(0.2, 2.5)) * amount
    if sigma > 0.3:
        image = cv2.GaussianBlur(image, (0, 0), sigma)
    noise = rng.normal(0.0, 22.0 * amount, image.shape)
    return np.clip(image.astype(np.float32) + noise, 0, 255).astype(np.uint8)


#: The clips the tests and the benchmark read: clean and degraded test clips, 1080p bench clip.
TEST_CLIP = ClipSpec()
DEGRADED_CLIP = ClipSpec(degrade=1.0, frames_per_scene=30)
BENCH_CLIP = ClipSpec(width=1920, height=1080)
#: Two scenes, three plates: for tests that run the whole worker.
SHORT_CLIP = ClipSpec(photos=("alpr-two-cars.jpg", "fast-alpr-test-image.png"))
#: One scene, one plate: for tests of the command line.
ONE_CAR_CLIP = ClipSpec(photos=("fast-alpr-test-image.png",))


def main() -> None:
    """Build every clip into the cache (``python -m edge.video.clip``)."""
    samples = alpr_home() / "samples" / "plates"
    for spec in (TEST_CLIP, SHORT_CLIP, ONE_CAR_CLIP, DEGRADED_CLIP, BENCH_CLIP):
        path, scenes = build_clip(samples, spec)
        print(f"{path}: {len(scenes)} scenes")


if __name__ == "__main__":
    main()
