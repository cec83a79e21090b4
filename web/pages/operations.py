"""``/cameras``: each camera's status and reads per hour."""

from __future__ import annotations

from faust.web import Request, Response
from markupsafe import Markup

from alpr import app
from web.api.cameras import cameras, hourly
from web.pages.base import PageView
from web.pages.chart import hourly_svg, legend

CHART_HOURS = 24


@app.page("/cameras")
class CamerasPage(PageView):
    """Each camera's health and recent rate, and a chart of reads per hour."""

    async def get(self, request: Request) -> Response:
        key = await self.caller(request, "viewer")
        views = await cameras(self.state)
        since, counts = await hourly(self.state, CHART_HOURS)
        chart = Markup(hourly_svg(counts, since, CHART_HOURS))  # built from escaped parts
        return self.page(
            "cameras.html", key=key, cameras=views, chart=chart, legend=legend(counts),
            hours=CHART_HOURS,
        )  # fmt: skip
