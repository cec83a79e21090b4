"""Cameras as people see them: metadata from PostgreSQL, the latest heartbeat from the
worker's ``cameras_by_id`` table, and the recent rate of reads from the hourly counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from streams.records import CameraStatus
from web.lookup.contract import Camera, HourlyCount

Health = Literal["ok", "degraded", "stale", "down", "unknown"]

#: A camera whose last heartbeat is older than this is stale (edges beat every 10 s by default).
STALE_AFTER = timedelta(seconds=60)


class CameraView(BaseModel):
    """One camera in ``GET /api/cameras`` and on the cameras page."""

    model_config = ConfigDict(frozen=True)

    camera_id: str
    site_id: str | None = None
    name: str | None = None
    zone: str | None = None
    state: str | None = None
    health: Health
    reported_at: datetime | None = None
    last_read_at: datetime | None = None
    reads_per_minute: float = 0.0
    fps: float | None = None
    frames_dropped: int | None = None
    message: str | None = None
    lat: float | None = None
    lon: float | None = None
    edge_version: str | None = None


def health(live: CameraStatus | None, now: datetime) -> Health:
    if live is None:
        return "unknown"
    reported = live.reported_at
    if reported.tzinfo is None:  # records decoded without a zone carry UTC
        reported = reported.replace(tzinfo=UTC)
    if now - reported > STALE_AFTER:
        return "stale"
    if live.state == "online":
        return "ok"
    return "degraded" if live.state == "degraded" else "down"


def reads_per_minute(counts: Iterable[HourlyCount], now: datetime) -> dict[str, float]:
    """Reads per minute of each camera over the previous full hour and the current one."""
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    minutes = max(1.0, (now - start).total_seconds() / 60)
    totals: dict[str, int] = {}
    for count in counts:
        if count.hour >= start:
            totals[count.camera_id] = totals.get(count.camera_id, 0) + count.reads
    return {camera: round(total / minutes, 2) for camera, total in totals.items()}


def merge(
    stored: Iterable[Camera],
    live: Mapping[str, CameraStatus],
    rates: Mapping[str, float],
    now: datetime,
) -> list[CameraView]:
    """Every camera known to either source, by site then id."""
    by_id: dict[str, dict[str, Any]] = {c.camera_id: c.model_dump() for c in stored}
    for camera_id, status in live.items():
        fields = by_id.setdefault(camera_id, {"camera_id": camera_id})
        fields.update(
            site_id=status.site_id, state=status.state, reported_at=status.reported_at,
            last_read_at=status.last_read_at, fps=status.fps, message=status.message,
            frames_dropped=status.frames_dropped,
            name=fields.get("name") or status.name, zone=fields.get("zone") or status.zone,
            edge_version=status.edge_version or fields.get("edge_version"),
        )  # fmt: skip
        if status.location is not None:
            fields.update(lat=status.location.lat, lon=status.location.lon)
    views = []
    for camera_id, fields in by_id.items():
        fields.pop("last_seen_at", None)
        views.append(
            CameraView(
                **fields,
                health=health(live.get(camera_id), now),
                reads_per_minute=rates.get(camera_id, 0.0),
            )
        )
    return sorted(views, key=lambda v: (v.site_id or "", v.camera_id))
