"""``POST /api/alerts/{alert_id}/assign``: an operator assigns an alert to a person, or
takes the assignment back.

The body is ``{"assignee": "<key owner>"}`` or ``{"assignee": null}``. The assignee must own
an unrevoked operator or admin key (the people who can act on alerts). The assignment is an
event on ``alpr.alerts.assigned`` (who, to whom, when), sent and acknowledged by the broker
before anything else; the alerts projection keeps the latest assignment of each alert, and a
rebuild replays the topic, so no assignment lives only in the database. This view applies the
same event to the store itself as well (idempotent, the latest wins), so the answer and the
next page already show it. Each assignment is audited like an acknowledgement. The alert page's
form (``web.pages.alerts``) goes through :func:`assign_alert` too.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from faust.web import Request, Response

from agents.projections.alerts import alert_assignments
from alpr import app
from stores.alert_assignments import apply_assignment
from streams.records import AlertAssignment
from web.api.base import ApiView, client_address, json_body
from web.app_state import WebResources
from web.auth import access
from web.auth.keys import ApiKey, KeyStore
from web.auth.roles import ROLES, Role
from web.errors import bad_request, not_found
from web.lookup.contract import Alert

#: The roles whose owners an alert can be assigned to: those who may act on alerts.
ASSIGNABLE: tuple[Role, ...] = ROLES[ROLES.index("operator") :]


async def assignees(state: WebResources) -> tuple[str, ...]:
    """Who an alert can be assigned to, by name."""
    return await KeyStore(await state.pool()).owners(ASSIGNABLE)


def make_assignment(key: ApiKey, alert_id: str, assignee: str | None) -> AlertAssignment:
    """``key``'s assignment of ``alert_id`` to ``assignee`` (None: to no one), made now.

    The time is cut to the millisecond, as the topic carries it, so the event applied here
    and the same event applied by the projection are one and the same.
    """
    now = datetime.now(UTC)
    return AlertAssignment(
        assignment_id=str(uuid.uuid4()), alert_id=alert_id, assignee=assignee,
        key_id=key.key_id, owner=key.owner,
        assigned_at=now.replace(microsecond=now.microsecond // 1000 * 1000),
    )  # fmt: skip


def checked_assignee(value: object, known: Sequence[str]) -> str | None:
    """``value`` as an assignee (None or empty: unassign); 400 unless ``known`` has it."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise bad_request("assignee must be a key owner's name or null", "bad_assignee")
    if value.strip() not in known:
        raise bad_request(
            f"{value.strip()[:100]!r} holds no operator or admin key: alerts are assigned to "
            "the people who can act on them",
            "unknown_assignee",
        )
    return value.strip()


async def assign_alert(
    state: WebResources, key: ApiKey, alert_id: str, assignee: object, client: str | None
) -> tuple[Alert, int]:
    """Check, send, apply and audit ``key``'s assignment of ``alert_id`` (400/404 refused);
    the alert as it now stands, and the audit row's id."""
    reference = await state.reference()
    if await reference.alert(alert_id) is None:
        raise not_found(f"no alert {alert_id[:100]!r}")
    assignment = make_assignment(key, alert_id, checked_assignee(assignee, await assignees(state)))
    # The event first, acknowledged by the broker: the store never shows an assignment that
    # is not on the topic a rebuild replays.
    await (await alert_assignments.send(key=alert_id, value=assignment))
    await apply_assignment(await state.pool(), assignment)
    reader = access.Reader(key, None, client)
    query = f"assign {alert_id} to {assignment.assignee or '(no one)'}"[:200]
    audit_id = await access.audited(state, reader, "alerts", query, 1)
    assigned = await reference.alert(alert_id)
    if assigned is None:  # retention removed it meanwhile
        raise not_found(f"no alert {alert_id[:100]!r}")
    return assigned, audit_id


@app.page("/api/alerts/{alert_id}/assign")
class AssignAlert(ApiView):
    """An operator (or admin) assigns an alert to a key owner, or unassigns it (null)."""

    async def post(self, request: Request, alert_id: str) -> Response:
        key = await self.caller(request, "operator")
        body = await json_body(request)
        if "assignee" not in body:
            raise bad_request("give assignee: a key owner's name, or null", "bad_assignee")
        alert, audit_id = await assign_alert(
            self.state, key, alert_id, body["assignee"], client_address(request)
        )
        # The answer names the plate: private, with the assignment's audit row.
        return access.private(self.json(alert.model_dump(mode="json")), audit_id)
