"""``notify_alerts``: alerts from ``alpr.alerts`` to email, SMS, Slack and webhooks.

Alerts are keyed by alert id, so the delivery log (``alert_deliveries``, keyed by alert id)
lives on the alert's partition: a redelivered or replayed alert finds its actions already
recorded and notifies nobody twice. An action that still fails after the last retry is
dead-lettered with the alert, and stays unrecorded so a replay of the dead letter retries
only what was not delivered.

The log would otherwise grow by one entry per alert for ever: entries older than
``ALPR_NOTIFY__DELIVERY_LOG_TTL_S`` (default 7 days, the alerts topic's retention) are removed
every ``ALPR_NOTIFY__DELIVERY_LOG_PRUNE_S`` with a tombstone, by the worker that owns their
partition.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Iterable
from typing import Any

import aiohttp
import faust
from faust.streams import _current_event

from agents.alerting.topics import alerts
from agents.deadletters.letters import dead_letter_for
from agents.emit import send_dead_letter
from alpr import app
from config.alerting import NotifySettings
from config.settings import get_settings
from notify.base import Channel
from notify.dispatch import Dispatcher, Outcome
from notify.email import EmailChannel
from notify.safety import parse_networks
from notify.slack import SlackChannel
from notify.sms import SmsChannel
from notify.webhook import WebhookChannel
from streams import tracing
from streams.alert import Alert
from streams.failures import ProcessingError, Reason, Stage
from tables.local import owned_partitions, walk

log = logging.getLogger(__name__)


class DeliveryLog(faust.Record, serializer="json", include_metadata=False):
    """The actions of one alert already delivered (``index:channel``), when the last was,
    and the alerts-topic partition the entry lives on (0 and -1 in entries written before
    these were kept: such entries count as old)."""

    done: list[str] = []
    at: float = 0.0
    partition: int = -1


alert_deliveries = app.Table(
    "alert_deliveries",
    key_type=str,
    value_type=DeliveryLog,
    help="Delivered actions by alert id (agents.alerting.notifier)",
)


def build_channels(session: aiohttp.ClientSession, settings: NotifySettings) -> dict[str, Channel]:
    allowed = parse_networks(settings.allow_networks)
    return {
        "email": EmailChannel(get_settings().smtp, settings.crop_url, settings.timeout_s),
        "sms": SmsChannel(session, allowed, settings),
        "slack": SlackChannel(session, allowed),
        "webhook": WebhookChannel(session, allowed),
    }


def make_current(event: Any) -> None:
    """Make ``event`` the current event of this task, as plain stream iteration does.

    For work done outside the agent's own iteration (a delivery running in the background):
    table writes take their changelog partition (and, with RocksDB, their store partition)
    from the current event. Only this task's context variable is set: the stream's own
    ``current_event`` attribute belongs to its background drain.
    """
    _current_event.set(weakref.ref(event))


async def _dead_letter(event: Any, alert: Alert, failed: dict[str, str]) -> None:
    why = "; ".join(f"{key}: {error}" for key, error in failed.items())
    error = ProcessingError(
        Reason.INTERNAL_ERROR, Stage.EMIT, f"notification failed: {why}", event_id=alert.alert_id
    )
    await send_dead_letter(dead_letter_for(error, event.message, time.time()))


async def deliver(dispatcher: Dispatcher, event: Any) -> Outcome:
    """Deliver the actions of one alert not yet in its delivery log, record those sent and
    dead-letter those that failed for good."""
    alert: Alert = event.value
    logged = alert_deliveries.get(alert.alert_id)
    with tracing.consume("notifier deliver", event.message) as span:
        tracing.annotate(alert_id=alert.alert_id, rule=alert.rule, camera=alert.camera_id)
        outcome = await dispatcher.dispatch(alert, set(logged.done if logged else ()))
        if outcome.failed:
            tracing.fail(span, "; ".join(sorted(outcome.failed)))
    make_current(event)  # the log entry goes to the changelog partition of this alert
    if outcome.sent:
        logged = alert_deliveries.get(alert.alert_id)
        done = [*(logged.done if logged else ()), *outcome.sent]
        alert_deliveries[alert.alert_id] = DeliveryLog(
            done=done, at=time.time(), partition=event.message.partition
        )
    if outcome.failed:
        await _dead_letter(event, alert, outcome.failed)
    return outcome


Delivery = asyncio.Task[Outcome | None]


class PendingDeliveries:
    """Alerts being delivered in the background, so a slow receiver holds its own alerts
    and not the partition: each event is acked when its delivery ends (recorded or
    dead-lettered), and Faust commits an offset only once every event before it is acked,
    so a crash redelivers what was not finished (the log skips what was).

    At most ``max_pending`` alerts wait at once (then the agent waits for room); a second
    event of an alert id still being delivered waits for the first, then reads the log.
    """

    def __init__(self, dispatcher: Dispatcher, max_pending: int) -> None:
        self.dispatcher = dispatcher
        self.room = asyncio.Semaphore(max_pending)
        self.by_alert: dict[str, Delivery] = {}

    async def start(self, event: Any) -> None:
        await self.room.acquire()
        alert_id = event.value.alert_id
        task = asyncio.create_task(self._run(event, self.by_alert.get(alert_id)))
        self.by_alert[alert_id] = task
        task.add_done_callback(lambda done: self._forget(alert_id, done))

    def _forget(self, alert_id: str, task: Delivery) -> None:
        if self.by_alert.get(alert_id) is task:
            del self.by_alert[alert_id]
        self.room.release()

    async def _run(self, event: Any, earlier: Delivery | None) -> Outcome | None:
        try:
            if earlier is not None:
                await asyncio.wait([earlier])
            return await deliver(self.dispatcher, event)
        except Exception as exc:  # a bug costs a dead letter, not the notifier
            log.exception("notification of %s failed", event.value.alert_id)
            await _dead_letter(event, event.value, {"notifier": repr(exc)})
            return None
        finally:
            event.ack()

    async def settle(self) -> None:
        """Wait until every delivery started so far has ended."""
        while self.by_alert:
            await asyncio.wait(list(self.by_alert.values()))


#: The notifier's deliveries in this process (one per agent actor), for ``settle``.
_PENDING: list[PendingDeliveries] = []


async def settle() -> None:
    """Wait for the deliveries in flight in this process (tests, shutdown)."""
    for pending in list(_PENDING):
        await pending.settle()


async def prune_deliveries(now: float, ttl_s: float, owned: Iterable[int]) -> int:
    """Forget delivery log entries older than ``ttl_s`` at ``now``; tombstone those of the
    ``owned`` partitions (another partition's owner tombstones its own, and this worker, if
    it keeps a standby copy, applies that). Returns how many were forgotten. Walks the log in
    chunks, so deliveries go on meanwhile."""
    table: Any = alert_deliveries
    mine = set(owned)
    removed = 0
    async for key, logged in walk(table.data):
        if now - logged.at < ttl_s:
            continue
        del table.data[key]
        removed += 1
        if logged.partition in mine:
            table.send_changelog(logged.partition, key, None, value_serializer="raw")
    return removed


@app.timer(interval=get_settings().notify.delivery_log_prune_s)
async def prune_delivery_log() -> None:
    """Remove delivery log entries past ``ALPR_NOTIFY__DELIVERY_LOG_TTL_S``."""
    ttl_s = get_settings().notify.delivery_log_ttl_s
    removed = await prune_deliveries(time.time(), ttl_s, owned_partitions(alerts.get_topic_name()))
    if removed:
        log.info("delivery log: removed %d entries older than %.0fs", removed, ttl_s)


@app.agent(alerts)
async def notify_alerts(stream: Any) -> Any:
    """Deliver every alert to the actions of its rule, at most once each, concurrently."""
    settings = get_settings().notify
    timeout = aiohttp.ClientTimeout(total=settings.timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        dispatcher = Dispatcher(build_channels(session, settings), settings)
        pending = PendingDeliveries(dispatcher, settings.max_pending)
        _PENDING.append(pending)
        try:
            async for event in stream.noack().events():
                await pending.start(event)
                yield event.value.alert_id
        finally:
            _PENDING.remove(pending)
