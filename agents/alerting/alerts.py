"""The camera-rule agent: ``evaluate_camera_rules`` on the reads reduced to camera ticks and
keyed by camera (sent by the rule feed), and a timer for the camera rules that time alone
fires (silence). Alerts go to ``alpr.alerts`` keyed by alert id.

The plate-keyed rules (watch list, rate per plate, sequence, threshold, roaming, impossible
travel, dwell) are evaluated in the rule feed, on the batch runtime (``agents.alerting.feed``),
with the plate state beside it. The camera rules stay here, on a Faust agent with a Faust
table: their input is one small tick per read only while a camera rule exists, their state
is one entry per camera, and silence needs a timer over every camera's last read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from agents.alerting.engine import AlertEngine
from agents.alerting.rule_book import RULE_BOOK
from agents.alerting.topics import alerts, camera_ticks
from agents.deadletters.letters import dead_letter_for
from agents.emit import send_dead_letter
from alpr import app
from config.settings import get_settings
from streams import tracing
from streams.alert import Alert
from streams.failures import ProcessingError, Reason, Stage
from tables.rule_state import CameraTick, PlateRuleState, StateTable, camera_states, encode_state

log = logging.getLogger(__name__)


async def send_alert(alert: Alert) -> None:
    # Within the span of the read that raised it: the alert carries the read's trace on.
    await alerts.send(key=alert.alert_id, value=alert, headers=tracing.outgoing_headers())


async def send_tick(tick: CameraTick) -> None:
    await camera_ticks.send(key=tick.camera_id, value=tick)


def build_engine() -> AlertEngine:
    """The engine of the camera rules (the plate table is the rule feed's: empty here)."""
    return AlertEngine(RULE_BOOK, get_settings().rules, {}, camera_states, send_alert, send_tick)


async def wait_for_rules() -> None:
    """Wait (bounded) for the rule set, so the first reads after a start are not missed."""
    if RULE_BOOK.ready.is_set():
        return
    try:
        await asyncio.wait_for(RULE_BOOK.ready.wait(), get_settings().rules.ready_timeout_s)
    except TimeoutError:
        log.warning("rule set not loaded yet; evaluating with %d rules", len(RULE_BOOK.rules))


async def _dead_letter(event: Any, exc: Exception) -> None:
    await _dead_letter_message(event.message, getattr(event.value, "event_id", None), exc)


async def _dead_letter_message(message: Any, event_id: str | None, exc: Exception) -> None:
    if isinstance(exc, ProcessingError):  # the read does not decode: its own reason
        error = exc
    else:
        where = f"{message.topic}[{message.partition}]@{message.offset}"
        log.exception("alert evaluation failed on %s", where)
        error = ProcessingError(
            Reason.INTERNAL_ERROR, Stage.EMIT, f"alert evaluation failed: {exc!r}",
            event_id=event_id,
        )  # fmt: skip
    await send_dead_letter(dead_letter_for(error, message, time.time()))


Handle = Callable[[Any], Awaitable[list[Alert]]]


async def send_state_changes() -> None:
    """Hand the rule-state writes made so far to the producer (``StateTable.send_changes``)."""
    await camera_states.send_changes()


async def _evaluate(stream: Any, handle: Handle) -> Any:
    # One event at a time, as the router does: Stream.take_events in faust-streaming 0.15.3
    # can drop an event from a batch under load, and its ``within`` timer wakes the agent
    # every few milliseconds while the topic is idle. A read no rule needs costs one lookup.
    async for event in stream.events():
        try:
            raised = await handle(event)
        except Exception as exc:  # one bad read costs a dead letter, not the worker
            await _dead_letter(event, exc)
            raised = []
        # Before the event is acknowledged (at the next one), so before its offset commits.
        await send_state_changes()
        yield raised


@app.agent(camera_ticks)
async def evaluate_camera_rules(stream: Any) -> Any:
    """Evaluate the camera-keyed rules (rate per camera; silence's last read)."""
    engine = build_engine()

    async def tick(event: Any) -> list[Alert]:
        return await engine.on_camera_tick(event.value, event.message.partition)

    async for raised in _evaluate(stream, tick):
        yield raised


def write_outside_stream(
    table: MutableMapping[str, PlateRuleState], key: str, value: PlateRuleState
) -> None:
    """Write a table entry from a timer: into the local data and the changelog partition
    the entry belongs to (no stream event is current to name it)."""
    assert isinstance(table, StateTable)
    data = encode_state(value)
    table.table.data[key] = data
    table.table.send_changelog(value.partition, key, data, value_serializer="raw")


async def check_timed_rules(now: float) -> list[Alert]:
    """Raise the alerts that the passing of time fires by ``now`` for the cameras held here
    (silence); the plate-keyed ones (dwell) are the rule feed's."""
    if not RULE_BOOK.ready.is_set():
        return []
    await send_state_changes()  # the streams' writes first, so the changelog keeps the order
    return await build_engine().on_timer(now, write_outside_stream)


@app.timer(interval=get_settings().rules.timer_interval_s)
async def fire_timed_rules() -> None:
    """Check the time-fired rules every ``ALPR_RULES__TIMER_INTERVAL_S`` seconds."""
    await check_timed_rules(time.time())
