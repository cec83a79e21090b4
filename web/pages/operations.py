"""``/alerts`` (with acknowledge for operators) and ``/cameras`` (status and reads per hour)."""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import quote

from faust.web import Request, Response
from markupsafe import Markup

from alpr import app
from web.api.alerts import alert_filter
from web.api.cameras import cameras, hourly
from web.auth.roles import at_least
from web.lookup.contract import AlertFilter
from web.pages.base import PageView
from web.pages.chart import hourly_svg, legend

CHART_HOURS = 24


@app.page("/alerts")
class AlertsPage(PageView):
    """The latest alerts, open ones marked; operators acknowledge them here."""

    async def get(self, request: Request) -> Response:
        key = await self.caller(request, "viewer")
        open_only = request.query.get("open") == "1"
        where = AlertFilter(acknowledged=False) if open_only else alert_filter(request.query)
        page = await (await self.state.reference()).alerts(where, cursor=None, limit=100)
        return self.page(
            "alerts.html", key=key, alerts=page.items, open_only=open_only,
            can_ack=at_least(key.role, "operator"),
        )  # fmt: skip


@app.page("/alerts/{alert_id}/ack")
class AcknowledgePage(PageView):
    """The acknowledge button's form target; back to the alerts page afterwards."""

    async def post(self, request: Request, alert_id: str) -> Response:
        key = await self.caller(request, "operator")
        form = await cast(Any, request).post()
        note = str(form.get("note", "")).strip()[:1000] or None
        alert = await (await self.state.reference()).acknowledge(
            alert_id, f"{key.owner} ({key.key_id})", note
        )
        if alert is None:
            return self.failure(request, 404, "That alert does not exist (any more).")
        return self.redirect(f"/alerts#{quote(alert_id, safe='')}")


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
