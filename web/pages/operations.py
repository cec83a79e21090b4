"""``/cameras``: each camera's status, its latest image and reads per hour.

The status and the chart carry no plate data and show to every viewer. The latest images do
(a plate crop names a plate): they show once the caller is admitted as for any read of plate
data (a reason where the role needs one), one audit row covers them all, and each image comes
through ``/api/images`` with a link signed by that row. A caller whose role needs a reason and
who gave none has asked for no plate data: the page shows the rest and a form for the reason
(no audit row); a reason the policy refuses is audited and shown as on every page. A reads
store that is down costs the images, not the page.
"""

from __future__ import annotations

import logging
from typing import Any

from faust.web import Request, Response
from markupsafe import Markup

from alpr import app
from web.api.cameras import cameras, hourly
from web.api.sightings import sighting_json, signed_urls
from web.auth import access
from web.errors import store_down
from web.pages.base import PageView
from web.pages.chart import hourly_svg, legend
from web.snapshots import snapshots

log = logging.getLogger(__name__)
CHART_HOURS = 24
QUERY = "cameras: latest image of each"
IMAGES_DOWN = "The reads store is not answering right now: the latest images are not shown."


@app.page("/cameras")
class CamerasPage(PageView):
    """Each camera's health, recent rate and latest image, and a chart of reads per hour."""

    async def get(self, request: Request) -> Response:
        key = await self.caller(request, "viewer")
        views = await cameras(self.state)
        since, counts = await hourly(self.state, CHART_HOURS)
        chart = Markup(hourly_svg(counts, since, CHART_HOURS))  # built from escaped parts
        common: dict[str, Any] = {
            "cameras": views, "chart": chart, "legend": legend(counts), "hours": CHART_HOURS,
            "reason": (request.query.get("reason") or "").strip(), "shots": {},
            "message": None, "down": None, "ask": False,
        }  # fmt: skip
        if not common["reason"] and key.role in self.state.settings.web.reason_required_for:
            return self.page("cameras.html", key=key, **{**common, "ask": True})
        admitted = await self.reader(request, key, "events", QUERY)
        if isinstance(admitted, str):
            return self.page("cameras.html", key=key, status=400, **{**common, "message": admitted})
        try:
            found = await snapshots(await self.state.lookup(), [v.camera_id for v in views])
        except Exception as exc:
            if not store_down(exc):
                raise
            log.warning("cameras: reads store unavailable: %r", exc)
            return self.page("cameras.html", key=key, **{**common, "down": IMAGES_DOWN})
        shown = sum(1 for s in found.values() if s.read is not None)
        audit_id = await access.audited(self.state, admitted, "events", QUERY, shown)
        urls = await signed_urls(self.state, admitted, audit_id)
        shots = {
            camera_id: {"words": s.words, "read": None}
            if s.read is None
            else {"words": "", "read": sighting_json(s.read, urls) | {"at": s.read.captured_at}}
            for camera_id, s in found.items()
        }
        response = self.page("cameras.html", key=key, **{**common, "shots": shots})
        return access.private(response, audit_id)
