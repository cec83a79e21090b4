"""``GET /api/cameras`` (live status merged with metadata) and ``GET /api/stats`` (reads per
hour per camera)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from faust.web import Request, Response

from alpr import app
from tables.cameras import cameras_by_id
from web import camera_status
from web.api import params
from web.api.base import ApiView
from web.app_state import WebResources
from web.errors import bad_request
from web.lookup.contract import HourlyCount

#: Most hours ``GET /api/stats`` reaches back (30 days).
MAX_HOURS = 720


async def hourly(
    state: WebResources, hours: int, camera: str | None = None
) -> tuple[datetime, list[HourlyCount]]:
    """The start of the window and the hourly counts of the last ``hours`` hours."""
    now = datetime.now(UTC)
    since = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)
    until = now + timedelta(hours=1)
    counts = await (await state.reference()).hourly(since=since, until=until, camera_id=camera)
    return since, counts


async def cameras(state: WebResources) -> list[camera_status.CameraView]:
    now = datetime.now(UTC)
    stored = await (await state.reference()).cameras()
    _, recent = await hourly(state, 2)
    live = dict(cameras_by_id.items())
    return camera_status.merge(stored, live, camera_status.reads_per_minute(recent, now), now)


@app.page("/api/cameras")
class Cameras(ApiView):
    """Every camera: health from its last heartbeat, recent reads per minute, metadata."""

    async def get(self, request: Request) -> Response:
        await self.caller(request, "viewer")
        views = await cameras(self.state)
        return self.json({"items": [v.model_dump(mode="json") for v in views]})


@app.page("/api/stats")
class Stats(ApiView):
    """Reads per hour per camera over the last ``hours`` hours (24 by default)."""

    async def get(self, request: Request) -> Response:
        await self.caller(request, "viewer")
        raw = params.text(request.query, "hours") or "24"
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_HOURS:
            raise bad_request(f"hours must be a whole number from 1 to {MAX_HOURS}", "bad_hours")
        since, counts = await hourly(self.state, int(raw), params.text(request.query, "camera"))
        return self.json(
            {"since": since.isoformat(), "items": [c.model_dump(mode="json") for c in counts]}
        )
