"""A PlateRead (as a fastavro datum) as a row of ``plate_reads``; how many rows a statement
changed."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

#: Columns of ``plate_reads`` in the order of :func:`read_row`.
COLUMNS: tuple[str, ...] = (
    "event_id", "captured_at", "received_at", "site_id", "camera_id", "plate", "plate_text",
    "search_key", "plate_confidence", "char_confidences", "region", "plate_box", "vehicle_box",
    "vehicle_type", "direction", "track_id", "frames_agreed", "plate_crop_key",
    "vehicle_image_key", "model_versions", "edge_version", "lat", "lon", "camera_known",
    "camera_name", "camera_zone", "vehicle_colour",
)  # fmt: skip

Row = tuple[Any, ...]


def rows_changed(status: str) -> int:
    """The row count of a PostgreSQL command status (``INSERT 0 3``, ``UPDATE 1``)."""
    return int(str(status).rsplit(" ", 1)[-1])


def made_by(action: Any) -> str:
    """Who did an operator's action (a correction, assignment, acknowledgement), as the
    stores keep it: the API key's owner and id."""
    return f"{action.owner} ({action.key_id})"


def _box(box: Mapping[str, int] | None) -> list[int] | None:
    if box is None:
        return None
    return [box["x"], box["y"], box["width"], box["height"]]


@lru_cache(maxsize=1024)
def _json_of(items: tuple[tuple[str, str], ...]) -> str:
    # Reads of one edge carry the same model versions: encode each distinct map once.
    return json.dumps(dict(items), separators=(",", ":"))


def read_row(read: Mapping[str, Any]) -> Row:
    """The row of one read; ``KeyError`` names a missing field."""
    location = read.get("location") or read["camera"].get("location")
    camera = read["camera"]
    return (
        read["event_id"],
        read["captured_at"],
        read["received_at"],
        read["site_id"],
        read["camera_id"],
        read["plate"],
        read["plate_text"],
        read["search_key"],
        read["plate_confidence"],
        list(read.get("char_confidences") or ()),
        read.get("region"),
        _box(read["plate_box"]),
        _box(read.get("vehicle_box")),
        read.get("vehicle_type"),
        read.get("direction", "unknown"),
        read["track_id"],
        read["frames_agreed"],
        read.get("plate_crop_key"),
        read.get("vehicle_image_key"),
        _json_of(tuple(sorted((read.get("model_versions") or {}).items()))),
        read["edge_version"],
        None if location is None else location["lat"],
        None if location is None else location["lon"],
        bool(camera["known"]),
        camera.get("name"),
        camera.get("zone"),
        read.get("vehicle_colour"),
    )
