"""``project_alerts_to_postgres``: ``alpr.alerts`` -> PostgreSQL's ``alerts`` table.

Alerts are few next to reads, so this is a plain agent: each alert is written (idempotent on
alert id) before the stream moves on, and Faust commits only what was written. While
PostgreSQL is down the write is retried with backoff, holding the partition; an alert the
database refuses (a data error, not an outage) becomes a dead letter.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from agents.alerting.topics import alerts
from agents.deadletters.letters import dead_letter_for
from agents.emit import send_dead_letter
from alpr import app
from config.settings import get_settings
from stores.alerts_writer import AlertWriter, is_transient
from streams.alert import Alert
from streams.failures import ProcessingError, Reason, Stage
from streams.retry import Backoff, retry_until_done

log = logging.getLogger(__name__)


async def project_alert(writer: AlertWriter, event: Any, backoff: Backoff) -> int:
    """Store one alert; returns 1 if it was new, 0 if it was stored before."""
    alert: Alert = event.value
    try:
        return await retry_until_done(
            "alert projection", lambda: writer.write([alert]), is_transient, backoff
        )
    except Exception as exc:
        log.error("alert %s refused by PostgreSQL: %r", alert.alert_id, exc)
        error = ProcessingError(
            Reason.INTERNAL_ERROR,
            Stage.EMIT,
            f"alert not stored in PostgreSQL: {exc!r}",
            event_id=alert.alert_id,
        )
        await send_dead_letter(dead_letter_for(error, event.message, time.time()))
        return 0


if get_settings().projections.enable_pg:

    @app.agent(alerts)
    async def project_alerts_to_postgres(stream: Any) -> Any:
        """Store every alert in PostgreSQL's ``alerts`` table once."""
        writer = AlertWriter(get_settings().postgres.dsn)
        backoff = Backoff(0.2, 10.0, stopping=lambda: app.should_stop)
        try:
            async for event in stream.events():
                yield await project_alert(writer, event, backoff)
        finally:
            await writer.close()
