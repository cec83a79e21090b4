"""``/alerts`` (with acknowledge for operators) and ``/cameras`` (status and reads per hour)."""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import quote

from faust.web import Request, Response
from markupsafe import Markup

from alpr import app
from web.api import params
from web.api.alerts import FILTERS, alert_filter
from web.api.base import client_address
from web.api.cameras import cameras, hourly
from web.auth import access
from web.auth.roles import at_least
from web.errors import ApiError
from web.lookup.contract import AlertFilter
from web.pages.base import PageView
from web.pages.chart import hourly_svg, legend

CHART_HOURS = 24


@app.page("/alerts")
class AlertsPage(PageView):
    """The latest alerts, open ones marked; operators acknowledge them here. Alerts name
    plates: the page is audited, and asks for a reason where the role needs one."""

    async def get(self, request: Request) -> Response:
        key = await self.caller(request, "viewer")
        open_only = request.query.get("open") == "1"
        where = AlertFilter(acknowledged=False) if open_only else alert_filter(request.query)
        reason = (request.query.get("reason") or "").strip()
        query = params.described(request.query, ("open", *FILTERS)) or "(all)"
        common: dict[str, Any] = {"open_only": open_only, "reason": reason}
        try:
            reader = await access.admit(
                self.state, key, "alerts", query, reason or None, client_address(request)
            )
        except ApiError as exc:
            if exc.code not in access.REASON_CODES:
                raise
            return self.page(
                "alerts.html", key=key, status=400, alerts=[], can_ack=False, needs_reason=True,
                message=exc.message, **common,
            )  # fmt: skip
        page = await (await self.state.reference()).alerts(where, cursor=None, limit=100)
        audit_id = await access.audited(self.state, reader, "alerts", query, len(page.items))
        response = self.page(
            "alerts.html", key=key, alerts=page.items, can_ack=at_least(key.role, "operator"),
            needs_reason=False, message=None, **common,
        )  # fmt: skip
        return access.private(response, audit_id)


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
