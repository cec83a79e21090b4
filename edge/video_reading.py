"""What ``alpr read VIDEO`` does: run a video through the tracking pipeline, a line per track."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from edge.cameras import CameraConfig, TrackingConfig

if TYPE_CHECKING:
    from edge.engine.pipeline import Engine
    from edge.formats import PlateFormats
    from edge.video.pipeline import TrackEvent

VIDEO_SUFFIXES = {".mp4", ".mkv", ".avi", ".mov", ".webm", ".ts", ".m4v", ".mpg", ".mpeg"}
STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "srt://")


def is_video(name: str) -> bool:
    """Whether ``name`` is a stream URL or a file with a video suffix."""
    return name.startswith(STREAM_SCHEMES) or Path(name).suffix.lower() in VIDEO_SUFFIXES


def read_video(
    engine: Engine,
    name: str,
    formats: PlateFormats | None,
    fps: float,
    as_json: bool,
    tracking: TrackingConfig | None = None,
) -> Iterator[str]:
    """One line per track of the video (text or JSON); ``ValueError`` if it cannot be read."""
    from edge.video.pipeline import CameraPipeline
    from edge.video.source import SourceError, VideoSource

    camera = CameraConfig(id="read", url=name, fps=fps)
    pipeline = CameraPipeline(camera, engine, tracking or TrackingConfig(), formats)
    try:
        source = VideoSource(name, fps=fps)
        for frame in source.frames():
            for event in pipeline.process(frame):
                yield _line(name, event, as_json)
    except SourceError as exc:
        raise ValueError(str(exc)) from None
    for event in pipeline.finish():
        yield _line(name, event, as_json)


def _line(name: str, event: TrackEvent, as_json: bool) -> str:
    if not as_json:
        return f"{name}: {event.as_line()}"
    return json.dumps(
        {
            "file": name,
            "track": event.track_id,
            "text": event.text,
            "confidence": event.confidence,
            "valid": event.valid,
            "format": event.format,
            "region": event.region,
            "frames_agreed": event.frames_agreed,
            "reads": event.reads,
            "vehicle": event.vehicle_type,
            "colour": event.vehicle_colour,
            "direction": event.direction,
            "plate_box": [round(v, 1) for v in event.plate_box],
            "captured_at": datetime.fromtimestamp(event.captured_at, UTC).isoformat(),
        }
    )
