"""The cameras of a site and how their video becomes plate events: ``alpr edge --config``.

One pydantic tree, ``extra="forbid"``, every field with a description and bounds, so a bad
``cameras.yaml`` fails at start with a message naming the field (``cameras.1.fps``).
Positions (zone polygon, direction line) are fractions of the frame's width and height, so
one file serves any resolution. Nothing here needs the ``edge`` extra.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edge.config import EngineConfig

#: A point as fractions (x, y) of the frame's width and height, (0, 0) the top left;
#: the models using it check the bounds.
Point = tuple[float, float]

Direction = Literal["approaching", "receding", "left", "right"]

#: The variable naming the directory of the edge's Prometheus target files when the cameras
#: file does not (``publish.metrics_targets_dir``); ``ops/stack exec`` sets it to its own.
TARGETS_DIR_ENV = "ALPR_EDGE_TARGETS_DIR"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_points(points: list[Point], name: str) -> None:
    for index, (x, y) in enumerate(points):
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError(f"{name}[{index}] = ({x}, {y}) is outside the frame: use 0..1")


class DirectionLine(_Section):
    """A line across the road: a track crossing it gets a direction of travel.

    Seen from ``start`` to ``end``, a track that crosses from the left-hand side to the
    right-hand side travels ``to_right``; the other way ``to_left``. For a horizontal line
    drawn left to right, the right-hand side is below it (image y grows downwards).
    """

    start: Point = Field(description="First end of the line, fractions of width and height")
    end: Point = Field(description="Second end of the line, fractions of width and height")
    to_right: Direction = Field(
        default="approaching", description="Direction of a track crossing to the right-hand side"
    )
    to_left: Direction = Field(
        default="receding", description="Direction of a track crossing to the left-hand side"
    )

    @model_validator(mode="after")
    def _a_real_line(self) -> DirectionLine:
        _check_points([self.start, self.end], "line")
        if self.start == self.end:
            raise ValueError("line start and end must differ")
        return self


class CameraConfig(_Section):
    """One camera: where its video comes from and which plates it expects."""

    id: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._-]+$",
        description="Camera id, unique across sites; the Kafka key of its events",
    )
    url: str = Field(
        min_length=1,
        description="rtsp://, rtsps://, http(s):// stream or a video file path",
    )
    name: str | None = Field(default=None, max_length=200, description="Human name of the camera")
    fps: float = Field(
        default=10.0,
        gt=0.0,
        le=120.0,
        description="Frames per second to process; faster sources are decimated",
    )
    region: str | None = Field(
        default=None,
        description="Plate-format region of this camera (e.g. cz); default the engine's",
    )
    zone: list[Point] | None = Field(
        default=None,
        min_length=3,
        max_length=64,
        description="Detection zone polygon: only plates whose centre lies inside are read",
    )
    line: DirectionLine | None = Field(
        default=None, description="Direction line; without it the direction is 'unknown'"
    )
    enabled: bool = Field(default=True, description="Disabled cameras are not opened")
    preview: bool = Field(
        default=False,
        description="Also publish an early PlateEvent flagged preview at a track's first "
        "confident read that fits a plate format (without crops); the track's final event "
        "supersedes it",
    )
    loop: bool = Field(
        default=False, description="Start a video file again at its end (demos, soak tests)"
    )

    @field_validator("zone")
    @classmethod
    def _zone_in_frame(cls, zone: list[Point] | None) -> list[Point] | None:
        if zone is not None:
            _check_points(zone, "zone")
        return zone


class TrackingConfig(_Section):
    """How frames become tracks and tracks become events (the same for every camera)."""

    motion_threshold: float = Field(
        default=0.002,
        ge=0.0,
        le=1.0,
        description="Fraction of pixels that must change for a frame to count as moving; "
        "still frames with no live track are not analysed. 0 analyses every frame",
    )
    detect_every: int = Field(
        default=3, ge=1, le=100, description="Run vehicle detection on every k-th analysed frame"
    )
    ocr_every: int = Field(
        default=1,
        ge=1,
        le=100,
        description="Read a track's plate at most on every n-th detection of the track",
    )
    max_reads: int = Field(
        default=6, ge=1, le=100, description="Reads per track after which reading stops"
    )
    settle_reads: int = Field(
        default=3,
        ge=1,
        le=100,
        description="Reading stops early when this many reads agree on the text",
    )
    reuse_plate_box: bool = Field(
        default=True,
        description="Read a track's plate again where it sat in the vehicle's box (OCR only) "
        "instead of searching the vehicle for it; a read that fits no plate format searches "
        "again",
    )
    lost_after: int = Field(
        default=3,
        ge=1,
        le=100,
        description="Detections in a row a track may miss before it ends",
    )
    max_delay_s: float = Field(
        default=10.0,
        gt=0.0,
        le=3600.0,
        description="A track still alive this long after its first read publishes its event "
        "then (parked vehicles); it publishes no second one",
    )
    min_confidence: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="Tracks whose voted text is less confident publish no event",
    )
    min_iou: float = Field(
        default=0.2,
        gt=0.0,
        le=1.0,
        description="Least overlap of a detection with a track's predicted box to match it",
    )


class PublishConfig(_Section):
    """Where events and crops go, and the spool that keeps them through an outage."""

    spool_dir: Path | None = Field(
        default=None,
        description="Directory of the disk spools; default $ALPR_HOME/spool/<site_id>",
    )
    upload_crops: bool = Field(default=True, description="Upload plate crops and vehicle images")
    events_spool_max_bytes: int = Field(
        default=256 * 2**20,
        ge=1024,
        le=2**40,
        description="Cap of the events spool (bytes of spooled events). When full, heartbeats "
        "and previews are dropped oldest first, then cameras hold their final events back "
        "(stop analysing) until the broker takes some: plate events are never dropped",
    )
    events_spool_max_items: int | None = Field(
        default=None, ge=1, description="Cap of the events spool in items; none by default"
    )
    crops_spool_max_bytes: int = Field(
        default=4 * 2**30,
        ge=1024,
        le=2**44,
        description="Cap of the crops spool (bytes of images). When full, new images are not "
        "spooled and their events are published without the image's key (logged, counted)",
    )
    crops_spool_max_items: int | None = Field(
        default=None, ge=1, description="Cap of the crops spool in items; none by default"
    )
    heartbeat_s: float = Field(
        default=10.0, ge=0.5, le=3600.0, description="Seconds between CameraStatus heartbeats"
    )
    metrics_port: int = Field(
        default=9108,
        ge=0,
        le=65535,
        description="Port of the Prometheus /metrics endpoint; 0 turns it off",
    )
    metrics_targets_dir: Path | None = Field(
        default=None,
        description="Directory of a Prometheus file_sd_configs job where each edge process "
        "writes its /metrics target file while it runs (removed at a clean exit); default "
        f"${TARGETS_DIR_ENV} (set by `ops/stack exec`), unset: no file is written",
    )
    metrics_target_host: str = Field(
        default="127.0.0.1",
        min_length=1,
        max_length=253,
        pattern=r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)$",
        description="Host name or address at which Prometheus reaches /metrics, written in "
        "the target file (an IPv6 address in brackets)",
    )

    def targets_dir(self) -> Path | None:
        """Where the target files go: the setting, else $ALPR_EDGE_TARGETS_DIR, else nowhere."""
        if self.metrics_targets_dir is not None:
            return self.metrics_targets_dir
        from_env = os.environ.get(TARGETS_DIR_ENV)
        return Path(from_env) if from_env else None


class SiteConfig(_Section):
    """A site's cameras, the engine they share, and how events are published."""

    site_id: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$", description="Site id"
    )
    cameras: list[CameraConfig] = Field(min_length=1, description="The site's cameras")
    engine: EngineConfig = Field(default_factory=EngineConfig, description="Recognition engine")
    tracking: TrackingConfig = Field(
        default_factory=TrackingConfig, description="Tracking and consensus"
    )
    publish: PublishConfig = Field(
        default_factory=PublishConfig, description="Event and crop publishing"
    )

    @model_validator(mode="after")
    def _unique_ids_and_known_regions(self) -> SiteConfig:
        seen: set[str] = set()
        regions = self.engine.formats.known_regions()
        for index, camera in enumerate(self.cameras):
            if camera.id in seen:
                raise ValueError(f"cameras.{index}.id: {camera.id!r} is used by another camera")
            seen.add(camera.id)
            if camera.region is not None and camera.region not in regions:
                raise ValueError(
                    f"cameras.{index}.region: {camera.region!r} is not configured; "
                    f"known: {', '.join(sorted(regions))}"
                )
        return self

    @property
    def enabled_cameras(self) -> list[CameraConfig]:
        return [camera for camera in self.cameras if camera.enabled]


class CameraConfigError(ValueError):
    """A cameras file that cannot be used, with one line per bad field."""


def load_site_config(path: str | Path) -> SiteConfig:
    """The site in a cameras YAML file; ``CameraConfigError`` naming each bad field."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CameraConfigError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise CameraConfigError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise CameraConfigError(f"{path} must hold a mapping with site_id and cameras")
    try:
        return SiteConfig.model_validate(data)
    except ValidationError as exc:
        raise CameraConfigError(f"{path}:\n{describe(exc)}") from None


def describe(exc: ValidationError) -> str:
    """One line per bad field: the dotted field name, what is wrong, and the value given."""
    lines = []
    for err in exc.errors():
        field = ".".join(str(part) for part in err["loc"]) or "(file)"
        given = err.get("input")
        shown = "" if isinstance(given, dict | list) else f" (got {given!r})"
        lines.append(f"  {field}: {err['msg']}{shown}")
    return "\n".join(lines)
