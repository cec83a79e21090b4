"""``route_raw_reads``: the router agent, ``alpr.plates.raw`` -> ``alpr.plates.detected``.

Raw bytes come in and are decoded inside the agent, so that every failure, decoding
included, becomes a dead letter on ``alpr.dlq`` and no message can stop the worker. Each
read goes out keyed by its normalised plate, so everything about one plate lands on one
partition downstream.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import weakref
from typing import Any

from faust.streams import _current_event

from agents import metrics
from agents.emit import send_dead_letter, send_read
from agents.router_config import get_router_settings
from agents.routing import Outcome, PlateRouter
from alpr import app
from streams.codec import AvroSchema, default_schema_cache
from streams.topics import (
    dead_letters,
    declare_topics,
    plates_detected,
    plates_raw,
    value_subject,
)
from tables.cameras import cameras_by_id
from tables.dedupe import event_ids_seen, mark_seen

log = logging.getLogger(__name__)


def build_router() -> PlateRouter:
    return PlateRouter(
        settings=get_router_settings(),
        schema_cache=default_schema_cache(),
        read_subject=value_subject(plates_detected.get_topic_name()),
        seen=event_ids_seen,
        mark_seen=functools.partial(mark_seen, event_ids_seen),
        cameras=cameras_by_id,
        send_read=send_read,
        send_dead_letter=send_dead_letter,
    )


async def warm_schema_ids() -> None:
    """Register the output schemas before the first event so no send waits on the registry;
    if it is down now, the first send registers instead."""
    cache = default_schema_cache()
    for topic, record in ((plates_detected, "PlateRead"), (dead_letters, "DeadLetter")):
        subject = value_subject(topic.get_topic_name())
        try:
            await asyncio.to_thread(cache.id_for, subject, AvroSchema.named(record))
        except Exception as exc:
            log.warning("could not register %s yet: %r", subject, exc)


@app.task
async def declare_output_topics() -> None:
    """Create the topics the router only writes to (Faust creates those it reads)."""
    await declare_topics()


@app.agent(plates_raw)
async def route_raw_reads(stream: Any) -> Any:
    """Route every raw plate event to a read or a dead letter."""
    router = build_router()
    raw_in = metrics.EVENTS_IN.labels(plates_raw.get_topic_name())
    reads_out = metrics.EVENTS_OUT.labels(plates_detected.get_topic_name())
    await warm_schema_ids()
    # One event at a time on purpose: Stream.take/take_events in faust-streaming 0.15.3 can
    # drop an event from a batch without acking it under load (its ``buffer_consuming``
    # future is reset by a late producer), which stalls the partition's commits. Sends are
    # batched by the producer, so per-event iteration costs little here.
    async for event in stream.events():
        raw_in.inc()
        outcome: Outcome = await router.route(event.message)
        if outcome.plate is not None:
            reads_out.inc()
        yield outcome


def make_current(event: Any) -> None:
    """Make ``event`` the current event of this task, as plain stream iteration does.

    For agents that batch with ``take_events``: table writes take their changelog partition
    (and, with RocksDB, their store partition) from the current event, which a batch does
    not set. Only this task's context variable is set: the stream's own ``current_event``
    attribute belongs to its background drain.
    """
    _current_event.set(weakref.ref(event))
