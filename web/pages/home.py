"""``/``: the console's home page after sign-in: the newest reads with their crops (audited,
with a reason where the role needs one), updated live (``/live/reads``), and each camera's
reads over the last day at a glance."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from faust.web import Request, Response

from alpr import app
from web.api.cameras import cameras, hourly
from web.api.sightings import sighting_json, signed_urls
from web.auth import access
from web.errors import store_down
from web.lookup.contract import EventFilter, HourlyCount
from web.pages.base import PageView, live_policy

log = logging.getLogger(__name__)
READS_DOWN = "The reads store is not answering right now. Please reload shortly."
#: Reads the wall shows (the newest; live rows push the oldest out).
RECENT = 20
#: Hours the per-camera figures cover.
DAY_HOURS = 24


def per_camera(counts: list[HourlyCount], now: datetime) -> tuple[Counter[str], Counter[str]]:
    """Reads per camera over the whole window and over the last hour."""
    day: Counter[str] = Counter()
    hour: Counter[str] = Counter()
    recent = now - timedelta(hours=1)
    for count in counts:
        day[count.camera_id] += count.reads
        if count.hour >= recent.replace(minute=0, second=0, microsecond=0):
            hour[count.camera_id] += count.reads
    return day, hour


async def camera_rows(page: PageView) -> list[dict[str, Any]]:
    """Each camera with its health and reads over the last day and hour, busiest first."""
    views = {v.camera_id: v for v in await cameras(page.state)}
    _, counts = await hourly(page.state, DAY_HOURS)
    day, hour = per_camera(counts, datetime.now(UTC))
    peak = max([*day.values(), 1])
    names = sorted(set(views) | set(day), key=lambda c: (-day[c], c))
    return [
        {
            "camera_id": c, "view": views.get(c), "day": day[c], "hour": hour[c],
            "share": round(100 * day[c] / peak),
        }
        for c in names
    ]  # fmt: skip


@app.page("/")
class Home(PageView):
    """The live wall of reads and the cameras at a glance."""

    async def get(self, request: Request) -> Response:
        key = await self.caller(request, "viewer")
        reason = (request.query.get("reason") or "").strip()
        common: dict[str, Any] = {
            "reason": reason, "cameras": await camera_rows(self), "down": None,
        }  # fmt: skip
        admitted = await self.reader(request, key, "events", "home: newest reads")
        if isinstance(admitted, str):
            return self.page("home.html", key=key, status=400, reads=[], message=admitted, **common)
        try:
            found = await (await self.state.lookup()).events(
                EventFilter(), cursor=None, limit=RECENT
            )
        except Exception as exc:
            if not store_down(exc):
                raise
            # The wall is where people land after sign-in: the rest of it still shows.
            log.warning("home: reads store unavailable: %r", exc)
            common["down"] = READS_DOWN
            return self.page("home.html", key=key, reads=[], message=None, **common)
        audit_id = await access.audited(
            self.state, admitted, "events", "home: newest reads", len(found.items)
        )
        urls = await signed_urls(self.state, admitted, audit_id)
        reads = [sighting_json(s, urls) | {"at": s.captured_at} for s in found.items]
        response = self.page("home.html", key=key, reads=reads, message=None, **common)
        return live_policy(access.private(response, audit_id))
