"""``notify_alerts``: alerts from ``alpr.alerts`` to email, SMS, Slack and webhooks.

Alerts are keyed by alert id, so the delivery log (``alert_deliveries``, keyed by alert id)
lives on the alert's partition: a redelivered or replayed alert finds its actions already
recorded and notifies nobody twice. An action that still fails after the last retry is
dead-lettered with the alert, and stays unrecorded so a replay of the dead letter retries
only what was not delivered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp
import faust

from agents.deadletters import dead_letter_for
from agents.emit import send_dead_letter
from agents.router import make_current
from alpr import app
from config.settings import get_settings
from notify.base import Channel
from notify.dispatch import Dispatcher, Outcome
from notify.email import EmailChannel
from notify.safety import parse_networks
from notify.slack import SlackChannel
from notify.sms import SmsChannel
from notify.webhook import WebhookChannel
from rules.alert import Alert
from rules.config import NotifySettings, get_notify_settings
from rules.topics import alerts
from streams.failures import ProcessingError, Reason, Stage

log = logging.getLogger(__name__)

BATCH_SIZE = 100
BATCH_WITHIN_S = 0.002


class DeliveryLog(faust.Record, serializer="json", include_metadata=False):
    """The actions of one alert already delivered (``index:channel``)."""

    done: list[str] = []


alert_deliveries = app.Table(
    "alert_deliveries",
    key_type=str,
    value_type=DeliveryLog,
    help="Delivered actions by alert id (agents.notifier)",
)


def build_channels(session: aiohttp.ClientSession, settings: NotifySettings) -> dict[str, Channel]:
    allowed = parse_networks(settings.allow_networks)
    return {
        "email": EmailChannel(get_settings().smtp, settings.crop_url, settings.timeout_s),
        "sms": SmsChannel(session, allowed, settings),
        "slack": SlackChannel(session, allowed),
        "webhook": WebhookChannel(session, allowed),
    }


async def _dead_letter(event: Any, alert: Alert, failed: dict[str, str]) -> None:
    why = "; ".join(f"{key}: {error}" for key, error in failed.items())
    error = ProcessingError(
        Reason.INTERNAL_ERROR, Stage.EMIT, f"notification failed: {why}", event_id=alert.alert_id
    )
    await send_dead_letter(dead_letter_for(error, event.message, time.time()))


async def handle_batch(dispatcher: Dispatcher, events: list[Any]) -> list[Outcome]:
    """Deliver a batch of alerts concurrently (each alert id once), then record and
    dead-letter per event."""
    first: dict[str, Any] = {}
    for event in events:
        first.setdefault(event.value.alert_id, event)

    async def one(event: Any) -> Outcome:
        logged = alert_deliveries.get(event.value.alert_id)
        return await dispatcher.dispatch(event.value, set(logged.done if logged else ()))

    outcomes = await asyncio.gather(*(one(e) for e in first.values()))
    for event, outcome in zip(first.values(), outcomes, strict=True):
        make_current(event)
        alert: Alert = event.value
        if outcome.sent:
            logged = alert_deliveries.get(alert.alert_id)
            done = [*(logged.done if logged else ()), *outcome.sent]
            alert_deliveries[alert.alert_id] = DeliveryLog(done=done)
        if outcome.failed:
            await _dead_letter(event, alert, outcome.failed)
    return list(outcomes)


@app.agent(alerts)
async def notify_alerts(stream: Any) -> Any:
    """Deliver every alert to the actions of its rule, at most once each."""
    settings = get_notify_settings()
    timeout = aiohttp.ClientTimeout(total=settings.timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        dispatcher = Dispatcher(build_channels(session, settings), settings)
        async for events in stream.take_events(BATCH_SIZE, within=BATCH_WITHIN_S):
            try:
                outcomes = await handle_batch(dispatcher, events)
            except Exception as exc:  # a bug costs dead letters, not the notifier
                log.exception("notifier batch failed")
                for event in events:
                    await _dead_letter(event, event.value, {"batch": repr(exc)})
                continue
            yield outcomes
