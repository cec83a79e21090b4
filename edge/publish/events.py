"""Track events as Avro datums of the event contract (``schemas/plate_event.avsc``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge.engine.detections import Box
    from edge.video.pipeline import TrackEvent


def edge_version() -> str:
    try:
        return version("alpr")
    except PackageNotFoundError:
        return "0+unknown"


@dataclass(frozen=True)
class CropKeys:
    """Object-store keys of an event's plate crop and vehicle image."""

    plate: str | None
    vehicle: str | None


def crop_keys(site_id: str, event: TrackEvent, event_id: str) -> CropKeys:
    """``<site>/<camera>/<yyyy>/<mm>/<dd>/<event_id>-plate.jpg`` (and ``-vehicle.jpg``)."""
    import time

    day = time.strftime("%Y/%m/%d", time.gmtime(event.captured_at))
    base = f"{site_id}/{event.camera_id}/{day}/{event_id}"
    vehicle = f"{base}-vehicle.jpg" if event.vehicle_image is not None else None
    return CropKeys(f"{base}-plate.jpg", vehicle)


def plate_event_datum(
    site_id: str,
    event: TrackEvent,
    model_versions: Mapping[str, str],
    keys: CropKeys | None,
    event_id: str | None = None,
    supersedes: str | None = None,
) -> dict[str, Any]:
    """The PlateEvent datum of a track event (timestamps in epoch milliseconds);
    ``supersedes`` is the event id of the track's preview, on its final event."""
    # The layout that `format` names may be one of several countries' that the text fits.
    region = event.region.upper() if event.region else None
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "site_id": site_id,
        "camera_id": event.camera_id,
        "captured_at": round(event.captured_at * 1000),
        "plate_text": event.text,
        "plate_confidence": float(event.confidence),
        "char_confidences": [float(c) for c in event.char_confidences],
        "region": region,
        "plate_box": _box(event.plate_box),
        "vehicle_box": _box(event.vehicle_box) if event.vehicle_box else None,
        "vehicle_type": event.vehicle_type,
        "direction": event.direction,
        "track_id": int(event.track_id),
        "frames_agreed": int(event.frames_agreed),
        "plate_crop_key": keys.plate if keys else None,
        "vehicle_image_key": keys.vehicle if keys else None,
        "model_versions": dict(model_versions),
        "edge_version": edge_version(),
        "location": None,
        "preview": event.preview,
        "supersedes": supersedes,
        "vehicle_colour": event.vehicle_colour,
    }


def _box(box: Box) -> dict[str, int]:
    x1, y1, x2, y2 = box
    return {
        "x": round(x1),
        "y": round(y1),
        "width": max(0, round(x2 - x1)),
        "height": max(0, round(y2 - y1)),
    }


def jpeg(image: Any, quality: int = 90) -> bytes:
    """JPEG bytes of a BGR image."""
    import cv2

    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"image of shape {getattr(image, 'shape', None)} does not encode as JPEG")
    return bytes(data.tobytes())


def camera_status_datum(
    site_id: str,
    camera_id: str,
    state: str,
    *,
    name: str | None,
    fps: float | None,
    frames_dropped: int,
    last_read_at: float | None,
    message: str | None,
    reported_at: float,
) -> dict[str, Any]:
    """The CameraStatus datum of a heartbeat (timestamps in epoch milliseconds)."""
    return {
        "camera_id": camera_id,
        "site_id": site_id,
        "name": name,
        "zone": None,
        "state": state,
        "reported_at": round(reported_at * 1000),
        "fps": None if fps is None else float(fps),
        "frames_dropped": int(frames_dropped),
        "last_read_at": None if last_read_at is None else round(last_read_at * 1000),
        "location": None,
        "edge_version": edge_version(),
        "message": message,
    }
