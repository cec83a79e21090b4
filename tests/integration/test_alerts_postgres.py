"""Alerts in PostgreSQL's ``alerts`` table through the real server: one row per alert id,
however often the alert is written."""

from __future__ import annotations

import json
import uuid

import asyncpg

from config.settings import Settings
from stores.alerts_writer import AlertWriter
from tests.integration.conftest import require_port
from tests.notify.conftest import make_alert


async def test_an_alert_is_stored_once_with_its_details(settings: Settings, unique: str) -> None:
    require_port(settings.postgres.dsn, "PostgreSQL")
    alert = make_alert(f"test-{unique}", [{"channel": "webhook", "url": "http://h"}])
    alert.event_ids = [str(uuid.uuid4()), str(uuid.uuid4())]
    alert.details = {"count": "2"}
    writer = AlertWriter(settings.postgres.dsn)
    conn = await asyncpg.connect(settings.postgres.dsn)
    try:
        assert await writer.write([alert]) == 1
        assert await writer.write([alert, alert]) == 0  # a replay, and a duplicate in a batch
        rows = await conn.fetch("SELECT * FROM alerts WHERE alert_id = $1", alert.alert_id)
    finally:
        await conn.execute("DELETE FROM alerts WHERE alert_id = $1", alert.alert_id)
        await conn.close()
        await writer.close()
    (row,) = rows
    assert (row["rule_id"], row["event_id"], row["plate"], row["severity"]) == (
        "stolen", alert.event_ids[-1], "AB123CD", "critical"
    )  # fmt: skip
    assert row["captured_at"] == alert.triggered_at and row["raised_at"] == alert.raised_at
    details = json.loads(row["details"])
    assert details["event_ids"] == alert.event_ids and details["figure_count"] == "2"
