"""``project_alerts_to_postgres``: ``alpr.alerts`` -> PostgreSQL's ``alerts`` table,
``project_alert_assignments``: ``alpr.alerts.assigned`` -> its ``alert_assignments`` table, and
``project_alert_acknowledgements``: ``alpr.alerts.acknowledged`` -> ``alert_acknowledgements``.

Alerts are few next to reads, so this is a plain agent: each alert is written (idempotent on
alert id) before the stream moves on, and Faust commits only what was written. While
PostgreSQL is down the write is retried with backoff, holding the partition; an alert the
database refuses (a data error, not an outage) becomes a dead letter. Assignments are kept
the same way (``stores.alert_assignments``: the latest of each alert wins, whatever the order),
so ``alpr projections rebuild`` replays their topic to rebuild them; acknowledgements too
(``stores.alert_acknowledgements``: the first of each alert wins).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import faust

from agents.alerting.topics import alerts
from agents.deadletters.letters import dead_letter_for
from agents.emit import send_dead_letter
from agents.topics import record_topic
from alpr import app
from config.settings import get_settings
from stores.alert_acknowledgements import apply_acknowledgement
from stores.alert_assignments import apply_assignment
from stores.alerts_writer import AlertWriter, is_transient
from streams.alert import Alert
from streams.failures import ProcessingError, Reason, Stage
from streams.records import AlertAcknowledgement, AlertAssignment
from streams.retry import Backoff, retry_until_done

log = logging.getLogger(__name__)

_topics = get_settings().topics
#: Operators' assignments of alerts (sent by ``web.api.assignments``).
alert_assignments: faust.TopicT = record_topic(_topics.assigned, AlertAssignment)
#: Operators' acknowledgements of alerts (sent by ``web.api.acknowledgements``).
alert_acknowledgements: faust.TopicT = record_topic(_topics.acknowledged, AlertAcknowledgement)


async def _stored(
    what: str, write: Callable[[], Awaitable[int]], event_id: str, event: Any, backoff: Backoff
) -> int:
    """``write()``'s answer, outages waited out; 0 and a dead letter when PostgreSQL refuses
    the data (an error that is not an outage)."""
    try:
        return await retry_until_done(f"{what} projection", write, is_transient, backoff)
    except Exception as exc:
        log.error("%s %s refused by PostgreSQL: %r", what, event_id, exc)
        error = ProcessingError(
            Reason.INTERNAL_ERROR,
            Stage.EMIT,
            f"{what} not stored in PostgreSQL: {exc!r}",
            event_id=event_id,
        )
        await send_dead_letter(dead_letter_for(error, event.message, time.time()))
        return 0


async def project_alert(writer: AlertWriter, event: Any, backoff: Backoff) -> int:
    """Store one alert; returns 1 if it was new, 0 if it was stored before."""
    alert: Alert = event.value
    return await _stored("alert", lambda: writer.write([alert]), alert.alert_id, event, backoff)


async def project_assignment(writer: AlertWriter, event: Any, backoff: Backoff) -> int:
    """Keep one assignment if it is its alert's latest; 1 if that changed the table."""
    assignment: AlertAssignment = event.value

    async def apply() -> int:
        return await apply_assignment(await writer.pool(), assignment)

    return await _stored("alert assignment", apply, assignment.alert_id, event, backoff)


async def project_acknowledgement(writer: AlertWriter, event: Any, backoff: Backoff) -> int:
    """Keep one acknowledgement if it is its alert's first; 1 if that changed the table."""
    acknowledgement: AlertAcknowledgement = event.value

    async def apply() -> int:
        return await apply_acknowledgement(await writer.pool(), acknowledgement)

    return await _stored("alert acknowledgement", apply, acknowledgement.alert_id, event, backoff)


Project = Callable[[AlertWriter, Any, Backoff], Awaitable[int]]


async def _projected(stream: Any, project: Project, pool_max: int) -> AsyncIterator[int]:
    """``project`` each event of ``stream`` in turn, over a writer of its own."""
    writer = AlertWriter(get_settings().postgres.dsn, pool_max=pool_max)
    backoff = Backoff(0.2, 10.0, stopping=lambda: app.should_stop)
    try:
        async for event in stream.events():
            yield await project(writer, event, backoff)
    finally:
        await writer.close()


if get_settings().projections.enable_pg:

    @app.agent(alerts)
    async def project_alerts_to_postgres(stream: Any) -> Any:
        """Store every alert in PostgreSQL's ``alerts`` table once."""
        async for changed in _projected(stream, project_alert, pool_max=2):
            yield changed

    @app.agent(alert_assignments)
    async def project_alert_assignments(stream: Any) -> Any:
        """Keep the latest assignment of every alert in ``alert_assignments``."""
        async for changed in _projected(stream, project_assignment, pool_max=1):
            yield changed

    @app.agent(alert_acknowledgements)
    async def project_alert_acknowledgements(stream: Any) -> Any:
        """Keep the first acknowledgement of every alert in ``alert_acknowledgements``."""
        async for changed in _projected(stream, project_acknowledgement, pool_max=1):
            yield changed
