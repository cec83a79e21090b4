"""The alert agents: ``evaluate_plate_rules`` on the reads some rule needs (keyed by
plate), ``evaluate_camera_rules`` on the reads repartitioned by camera, and a timer for the
rules that time alone fires (dwell, silence). Alerts go to ``alpr.alerts`` keyed by alert id.

The plate agent does not read ``alpr.plates.detected`` itself: ``agents.alerting.feed`` reads it
in batches below Faust and forwards, undecoded, only the reads a rule can act on (with watch
lists alone, the plates on a list: about 1% of the traffic in the benchmark), so Faust's
per-event machinery runs for those alone. The agent still asks the rule set (a hash lookup)
before decoding, for rules that changed since the feed forwarded a read. Each read is
evaluated inside its own try: a read that does not decode or breaks the engine becomes a
dead letter and the stream goes on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from typing import Any

from agents.alerting.bundles import BundleError, decode_bundle, is_bundle
from agents.alerting.engine import AlertEngine
from agents.alerting.rule_book import RULE_BOOK
from agents.alerting.topics import alerts, camera_ticks, rule_reads
from agents.deadletters.letters import dead_letter_for
from agents.emit import send_dead_letter
from alpr import app
from config.settings import get_settings
from streams import tracing
from streams.alert import Alert
from streams.codec import AvroSchema, decode, default_schema_cache
from streams.failures import ProcessingError, Reason, Stage
from streams.records import PlateRead
from tables.local import owned_partitions
from tables.rule_state import (
    CameraTick,
    PlateRuleState,
    StateTable,
    camera_states,
    encode_state,
    plate_states,
)

log = logging.getLogger(__name__)

READ_SCHEMA = AvroSchema.named("PlateRead")


async def send_alert(alert: Alert) -> None:
    # Within the span of the read that raised it: the alert carries the read's trace on.
    await alerts.send(key=alert.alert_id, value=alert, headers=tracing.outgoing_headers())


async def send_tick(tick: CameraTick) -> None:
    await camera_ticks.send(key=tick.camera_id, value=tick)


def build_engine() -> AlertEngine:
    return AlertEngine(
        RULE_BOOK,
        get_settings().rules,
        plate_states,
        camera_states,
        send_alert,
        send_tick,
    )


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
    await plate_states.send_changes()
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


async def evaluate_read(engine: AlertEngine, event: Any) -> list[Alert]:
    """Evaluate one event of the plate-keyed topic: a bundle of reads from the rule feed
    (each read evaluated, and dead-lettered, on its own) or a lone undecoded read."""
    if not is_bundle(event.value):
        with tracing.consume("alerts evaluate", event.message):
            return await _evaluate_one(engine, event.key, event.value, event.message.partition)
    try:
        messages = decode_bundle(event.value)
    except BundleError as exc:
        raise ProcessingError(
            Reason.INTERNAL_ERROR, Stage.DECODE, f"rule feed bundle: {exc}"
        ) from exc
    raised: list[Alert] = []
    for message in messages:
        key = message.key.decode() if message.key is not None else None
        try:
            with tracing.consume("alerts evaluate", message):
                raised += await _evaluate_one(engine, key, message.value, event.message.partition)
        except Exception as exc:  # the read goes to the dead letters as itself
            await _dead_letter_message(message, None, exc)
    return raised


async def _evaluate_one(
    engine: AlertEngine, key: str | None, value: bytes | None, partition: int
) -> list[Alert]:
    """Evaluate one undecoded read; a plate no rule can act on is not decoded."""
    if key is not None and not engine.needs_read(key):
        return []
    read = PlateRead.from_data(decode(value, READ_SCHEMA, default_schema_cache()))
    tracing.annotate(event_id=read.event_id, camera=read.camera_id)
    try:
        return await engine.on_read(read, partition)
    except Exception as exc:  # named by the read's event id, which the bytes do not show
        log.exception("alert evaluation failed on plate %s", read.plate)
        raise ProcessingError(
            Reason.INTERNAL_ERROR, Stage.EMIT, f"alert evaluation failed: {exc!r}",
            event_id=read.event_id,
        ) from exc  # fmt: skip


@app.agent(rule_reads)
async def evaluate_plate_rules(stream: Any) -> Any:
    """Evaluate every read against the rule set; state per plate."""
    engine = build_engine()
    await wait_for_rules()
    async for raised in _evaluate(stream, lambda event: evaluate_read(engine, event)):
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


def delete_outside_stream(
    table: MutableMapping[str, PlateRuleState], key: str, partition: int
) -> None:
    """Remove a table entry from a timer: from the local data, and with a tombstone on the
    changelog partition it belongs to."""
    assert isinstance(table, StateTable)
    table.table.data.pop(key, None)
    table.table.send_changelog(partition, key, None, value_serializer="raw")


async def expire_rule_state(now: float, owned: Collection[int]) -> int:
    """Remove the plate states no rule can need any more (see ``AlertEngine.keep_s``)."""
    if not RULE_BOOK.ready.is_set():
        return 0  # the rule set decides how long state matters
    await send_state_changes()  # the streams' writes first, so the changelog keeps the order
    return await build_engine().expire_plates(now, owned, delete_outside_stream)


@app.timer(interval=get_settings().rules.state_expiry_interval_s)
async def expire_old_rule_state() -> None:
    """Every ``ALPR_RULES__STATE_EXPIRY_INTERVAL_S``, drop plates whose state is past use."""
    removed = await expire_rule_state(time.time(), owned_partitions(rule_reads.get_topic_name()))
    if removed:
        log.info("rule state: removed %d plates no rule needs any more", removed)


async def check_timed_rules(now: float) -> list[Alert]:
    """Raise the alerts that the passing of time fires by ``now``: overdue dwells, silent
    cameras."""
    if not RULE_BOOK.ready.is_set():
        return []
    await send_state_changes()  # the streams' writes first, so the changelog keeps the order
    return await build_engine().on_timer(now, write_outside_stream)


@app.timer(interval=get_settings().rules.timer_interval_s)
async def fire_timed_rules() -> None:
    """Check the time-fired rules every ``ALPR_RULES__TIMER_INTERVAL_S`` seconds."""
    await check_timed_rules(time.time())
