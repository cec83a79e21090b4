"""``GET /api/alerts`` and ``POST /api/alerts/{alert_id}/ack`` (operators and admins)."""

from __future__ import annotations

from collections.abc import Mapping

from faust.web import Request, Response

from alpr import app
from web.api import params
from web.api.acknowledgements import MAX_NOTE, acknowledge_alert
from web.api.base import ApiView, client_address, json_body
from web.auth import access
from web.errors import bad_request, not_found
from web.lookup.contract import AlertFilter

FILTERS = ("since", "severity", "rule_id", "acknowledged", "assigned_to", "assigned", "cursor")
_BOOLEAN = {"true": True, "1": True, "false": False, "0": False}


def _boolean(q: Mapping[str, str], name: str) -> bool | None:
    raw = params.text(q, name)
    if raw is not None and raw.lower() not in _BOOLEAN:
        raise bad_request(f"{name} must be true or false", f"bad_{name}")
    return None if raw is None else _BOOLEAN[raw.lower()]


def alert_filter(q: Mapping[str, str]) -> AlertFilter:
    """The filter in ``q``'s parameters; 400 naming the first bad one."""
    assigned_to = params.text(q, "assigned_to")
    if assigned_to is not None and len(assigned_to) > 200:
        raise bad_request("assigned_to must be a key owner's name", "bad_assigned_to")
    return AlertFilter(
        since=params.timestamp(q, "since"),
        severity=params.text(q, "severity"),
        rule_id=params.text(q, "rule_id"),
        acknowledged=_boolean(q, "acknowledged"),
        assigned_to=assigned_to,
        assigned=_boolean(q, "assigned"),
    )


@app.page("/api/alerts")
class Alerts(ApiView):
    """Alerts raised by rules, newest first, one page at a time (they name plates: audited,
    with a reason where the caller's role needs one)."""

    async def get(self, request: Request) -> Response:
        key = await self.caller(request, "viewer")
        where = alert_filter(request.query)
        cursor = params.text(request.query, "cursor")
        limit = params.limit(request.query, 50, self.state.settings.web.max_page)
        query = params.described(request.query, FILTERS) or "(all)"
        reader = await access.admit(
            self.state, key, "alerts", query, params.text(request.query, "reason"),
            client_address(request),
        )  # fmt: skip
        page = await (await self.state.reference()).alerts(where, cursor=cursor, limit=limit)
        audit_id = await access.audited(self.state, reader, "alerts", query, len(page.items))
        items = [a.model_dump(mode="json") for a in page.items]
        body = {"items": items, "next_cursor": page.next_cursor}
        return access.private(self.json(body), audit_id)


@app.page("/api/alerts/{alert_id}/ack")
class AcknowledgeAlert(ApiView):
    """An operator takes charge of an alert, optionally with a note (an event on
    ``alpr.alerts.acknowledged``: ``web.api.acknowledgements``)."""

    async def post(self, request: Request, alert_id: str) -> Response:
        key = await self.caller(request, "operator")
        body = await json_body(request) if await request.read() else {}
        note = body.get("note")
        if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
            raise bad_request(f"note must be text of at most {MAX_NOTE} characters", "bad_note")
        alert = await acknowledge_alert(self.state, key, alert_id, note or None)
        if alert is None:
            raise not_found(f"no alert {alert_id[:100]!r}")
        # The answer names the plate: audited as an alert read (acting on it needs no reason).
        reader = access.Reader(key, None, client_address(request))
        audit_id = await access.audited(self.state, reader, "alerts", f"ack {alert_id}"[:200], 1)
        return access.private(self.json(alert.model_dump(mode="json")), audit_id)
