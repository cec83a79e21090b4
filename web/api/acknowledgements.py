"""Acknowledging an alert: ``POST /api/alerts/{alert_id}/ack`` (``web.api.alerts``) and the
alert pages' form (``web.pages.alerts``) both go through :func:`acknowledge_alert`.

An acknowledgement is an event on ``alpr.alerts.acknowledged`` (who, when, their note), sent
and acknowledged by the broker before anything else; the alerts projection keeps the first
acknowledgement of each alert, and a rebuild replays the topic, so no acknowledgement lives
only in the database. The view applies the same event to the store itself as well
(idempotent, the first wins), so the answer and the next page already show it. An alert that
is acknowledged already keeps its acknowledgement, and no event is sent.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from agents.projections.alerts import alert_acknowledgements
from stores.alert_acknowledgements import apply_acknowledgement
from streams.records import AlertAcknowledgement
from web.app_state import WebResources
from web.auth.keys import ApiKey
from web.lookup.contract import Alert

#: The longest note kept with an acknowledgement.
MAX_NOTE = 1000


def make_acknowledgement(key: ApiKey, alert_id: str, note: str | None) -> AlertAcknowledgement:
    """``key``'s acknowledgement of ``alert_id`` with ``note``, made now.

    The time is cut to the millisecond, as the topic carries it, so the event applied here
    and the same event applied by the projection are one and the same.
    """
    now = datetime.now(UTC)
    return AlertAcknowledgement(
        acknowledgement_id=str(uuid.uuid4()), alert_id=alert_id, key_id=key.key_id,
        owner=key.owner, note=note,
        acknowledged_at=now.replace(microsecond=now.microsecond // 1000 * 1000),
    )  # fmt: skip


async def acknowledge_alert(
    state: WebResources, key: ApiKey, alert_id: str, note: str | None
) -> Alert | None:
    """Send and apply ``key``'s acknowledgement of ``alert_id`` unless it has one; the alert
    as it now stands, or None when there is no such alert."""
    if note is not None and len(note) > MAX_NOTE:
        raise ValueError(f"note has {len(note)} characters, at most {MAX_NOTE} are kept")
    reference = await state.reference()
    alert = await reference.alert(alert_id)
    if alert is None or alert.acknowledged_at is not None:
        return alert
    acknowledgement = make_acknowledgement(key, alert_id, note)
    # The event first, acknowledged by the broker: the store never shows an acknowledgement
    # that is not on the topic a rebuild replays.
    await (await alert_acknowledgements.send(key=alert_id, value=acknowledgement))
    await apply_acknowledgement(await state.pool(), acknowledgement)
    return await reference.alert(alert_id)
