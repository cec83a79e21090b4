"""``/alerts`` (filtered by rule, severity, time, state and assignment, new ones arriving live
through ``/live/alerts``), ``/alerts/{id}`` (one alert with the crops of the reads that fired
it), the acknowledge form (operators, with a note) and the assign form (operators: to a key
owner, or to no one). Alerts name plates: each page is audited, and asks for a reason where
the role needs one."""

from __future__ import annotations

import asyncio
from typing import Any, cast
from urllib.parse import quote, urlencode

from faust.web import Request, Response

from alpr import app
from web.api import params
from web.api.acknowledgements import MAX_NOTE, acknowledge_alert
from web.api.assignments import assign_alert, assignees
from web.api.base import client_address
from web.api.sightings import sighting_json, signed_urls
from web.auth import access
from web.auth.roles import at_least
from web.lookup.contract import Alert
from web.lookup.queries import check_event_id
from web.pages.base import PageView, live_policy
from web.pages.forms import ALERT_FIELDS, ASSIGNED_CHOICES, FormQuery, alert_filter

PAGE_SIZE = 50
SEVERITIES = ("critical", "warning", "info")


def fired_by(alert: Alert) -> list[str]:
    """The ids of the reads that fired ``alert``, as the alert projection keeps them."""
    listed = alert.details.get("event_ids")
    ids = [str(i) for i in listed] if isinstance(listed, list) else []
    return ids or [alert.event_id]


@app.page("/alerts")
class AlertsPage(PageView):
    """The newest alerts matching the filters; operators acknowledge them here."""

    async def get(self, request: Request) -> Response:
        key = await self.caller(request, "viewer")
        form = FormQuery.of(request.query, ALERT_FIELDS)
        where = alert_filter(form, key.owner)
        cursor = params.text(request.query, "cursor")
        reason = (request.query.get("reason") or "").strip()
        live = form.link("/live/alerts", reason=reason)
        common: dict[str, Any] = {
            "form": form, "reason": reason, "severities": SEVERITIES, "live": live,
            "rules": await (await self.state.reference()).rule_ids(),
            "open_only": form.given.get("open") == "1", "first": cursor is not None,
            "assigned_choices": ASSIGNED_CHOICES,
        }  # fmt: skip
        admitted = await self.reader(request, key, "alerts", form.described())
        if isinstance(admitted, str):
            return self.page(
                "alerts.html", key=key, status=400, alerts=[], can_ack=False, needs_reason=True,
                message=admitted, next=None, **common,
            )  # fmt: skip
        reference = await self.state.reference()
        page = await reference.alerts(where, cursor=cursor, limit=PAGE_SIZE)
        audit_id = await access.audited(
            self.state, admitted, "alerts", form.described(), len(page.items)
        )
        following = None
        if page.next_cursor:
            following = form.link("/alerts", reason=reason, cursor=page.next_cursor)
        response = self.page(
            "alerts.html", key=key, alerts=page.items, can_ack=at_least(key.role, "operator"),
            needs_reason=False, message=None, next=following, **common,
        )  # fmt: skip
        return live_policy(access.private(response, audit_id))


@app.page("/alerts/{alert_id}")
class AlertPage(PageView):
    """One alert: its rule, plate, figures, the reads that fired it with their crops, and
    the acknowledge form (or who acknowledged it, when, and their note)."""

    async def get(self, request: Request, alert_id: str) -> Response:
        key = await self.caller(request, "viewer")
        reason = (request.query.get("reason") or "").strip()
        query = f"alert {alert_id[:200]}"
        admitted = await self.reader(request, key, "alerts", query)
        if isinstance(admitted, str):
            return self.page(
                "alert.html", key=key, status=400, alert=None, reads=[], message=admitted,
                reason=reason, can_ack=False,
            )  # fmt: skip
        alert = await (await self.state.reference()).alert(alert_id)
        if alert is None:
            return self.failure(request, 404, "That alert does not exist (any more).")
        backend = await self.state.lookup()
        ids = [check_event_id(i) for i in fired_by(alert)][:50]
        found = await asyncio.gather(*(backend.sighting(i) for i in ids))
        sightings = [s for s in found if s is not None]
        audit_id = await access.audited(self.state, admitted, "alerts", query, 1 + len(sightings))
        urls = await signed_urls(self.state, admitted, audit_id)
        reads = [sighting_json(s, urls) | {"at": s.captured_at} for s in sightings]
        can_act = at_least(key.role, "operator")
        response = self.page(
            "alert.html", key=key, alert=alert, reads=reads, message=None, reason=reason,
            can_ack=can_act, missing=len(ids) - len(sightings),
            assignees=await assignees(self.state) if can_act else [],
        )  # fmt: skip
        return access.private(response, audit_id)


@app.page("/alerts/{alert_id}/ack")
class AcknowledgePage(PageView):
    """The acknowledge form's target; back to where the form was (the list or the alert)."""

    async def post(self, request: Request, alert_id: str) -> Response:
        key = await self.caller(request, "operator")
        form = await cast(Any, request).post()
        note = str(form.get("note", "")).strip()[:MAX_NOTE] or None
        alert = await acknowledge_alert(self.state, key, alert_id, note)
        if alert is None:
            return self.failure(request, 404, "That alert does not exist (any more).")
        return self.redirect(back_to(alert_id, form))


@app.page("/alerts/{alert_id}/assign")
class AssignPage(PageView):
    """The assign form's target (an empty assignee unassigns); back to where the form was."""

    async def post(self, request: Request, alert_id: str) -> Response:
        key = await self.caller(request, "operator")
        form = await cast(Any, request).post()
        assignee = str(form.get("assignee", "")).strip()
        await assign_alert(self.state, key, alert_id, assignee, client_address(request))
        return self.redirect(back_to(alert_id, form))


def back_to(alert_id: str, form: Any) -> str:
    """Where an alert's form goes back to: the alert's page, or its row in the list."""
    if form.get("back") == "alert":
        reason = str(form.get("reason", ""))[:500]
        return f"/alerts/{quote(alert_id, safe='')}?{urlencode({'reason': reason})}"
    return f"/alerts#{quote(alert_id, safe='')}"
