"""What the PostgreSQL and Elasticsearch projections share: the topic, decoding a batch,
dead-lettering reads that can never be stored, and holding offsets back on the way out.

Both projections read ``alpr.plates.detected`` as raw bytes and decode the batch themselves,
so a message that does not decode becomes a dead letter instead of an error before the agent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, cast

import faust

from agents import metrics as core_metrics
from agents.deadletters import dead_letter_for
from agents.emit import send_dead_letter
from alpr import app
from stores import metrics
from stores.config import ProjectionSettings
from stores.decoding import decode_reads
from stores.retry import Abandoned, Backoff
from streams.codec import default_schema_cache
from streams.config import get_topic_settings
from streams.failures import ProcessingError, Reason, Stage

log = logging.getLogger(__name__)

#: ``alpr.plates.detected`` as bytes: each projection decodes its batch in one go.
plates_detected_bytes: faust.TopicT = app.topic(
    get_topic_settings().detected,
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
)


class ProjectionFailure(StrEnum):
    """Reason and stage of the projections' own dead letters.

    To move into ``streams.failures.Reason`` / ``Stage`` (owned by the event contract).
    """

    UNWRITABLE = "unwritable"
    STAGE = "project"


@dataclass
class DecodedBatch:
    """A batch split into decoded reads (with their events) and messages that failed."""

    reads: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)
    failed: list[tuple[Any, ProcessingError]] = field(default_factory=list)


async def decode_batch(events: Sequence[Any], backoff: Backoff) -> DecodedBatch:
    """Decode every event's value as a PlateRead (see ``stores.decoding.decode_reads``)."""
    values = [event.message.value for event in events]
    decoded = await decode_reads(values, default_schema_cache(), backoff)
    return DecodedBatch(
        reads=[(events[position], read) for position, read in decoded.reads],
        failed=[(events[position], error) for position, error in decoded.failed],
    )


def worker_backoff(settings: ProjectionSettings) -> Backoff:
    """The backoff of a projection in a worker: given up once the worker is stopping or
    rebalancing, both of which wait for the messages in flight."""
    return Backoff(
        settings.retry_first_s,
        settings.retry_max_s,
        stopping=lambda: bool(app.should_stop or app.rebalancing),
    )


def unwritable(message: str, event_id: str | None) -> ProcessingError:
    """The error of a read a store refuses for good (a value it cannot hold)."""
    return ProcessingError(
        cast(Reason, ProjectionFailure.UNWRITABLE),
        cast(Stage, ProjectionFailure.STAGE),
        message,
        event_id=event_id,
    )


async def dead_letter(store: str, event: Any, error: ProcessingError) -> None:
    """Send ``event``'s original bytes to the dead-letter topic with ``error``'s reason."""
    letter = dead_letter_for(error, event.message, time.time())
    await send_dead_letter(letter)
    metrics.DEAD_LETTERS.labels(store, letter.reason).inc()
    core_metrics.DEAD_LETTERS.labels(letter.reason, letter.stage).inc()


def withhold_offsets(events: Sequence[Any]) -> None:
    """Make sure the offsets of ``events`` are never committed by this process.

    ``stream.take`` acks a batch's events when its generator is closed, even when the agent
    is leaving with the batch unwritten (a worker stopping during a store outage). Marking
    the messages acked here, without the consumer's bookkeeping, makes that ack a no-op and
    leaves a gap the consumer cannot commit past: the next owner reads them again.
    """
    for event in events:
        event.message.acked = True


def withhold_pending(topic: str) -> int:
    """Withhold every message of ``topic`` fetched but not acked yet; return how many.

    Faust waits at shutdown (and rebalance) until every fetched message is acked, but a
    projection that could not store its batch will not store the messages queued after it
    either: they are marked so the wait ends and the consumer commits none of them. It
    reaches into the consumer's private set of unacked messages (faust-streaming 0.15).
    """
    unacked = getattr(app.consumer, "_unacked_messages", ())
    pending = [m for m in list(unacked) if m.topic == topic and not m.acked]
    for message in pending:
        message.acked = True
    return len(pending)


def update_lag(store: str, events: Sequence[Any]) -> None:
    """Messages left on the topic after ``events``: highwater minus next offset, summed."""
    last: dict[Any, int] = {}
    for event in events:
        last[event.message.tp] = max(last.get(event.message.tp, -1), event.message.offset)
    consumer = app.consumer
    lag = 0
    for tp, offset in last.items():
        highwater = consumer.highwater(tp)
        if highwater is not None:
            lag += max(highwater - offset - 1, 0)
    metrics.LAG.labels(store).set(lag)


Store = Callable[[list[tuple[Any, dict[str, Any]]]], Awaitable[int]]


async def run_projection(
    store_name: str,
    stream: Any,
    settings: ProjectionSettings,
    store: Store,
    dead_letter_decode_failures: bool,
) -> Any:
    """The body of a projection agent: batches from ``stream``, each stored before the next.

    ``store`` writes a batch of (event, read) pairs, waiting out outages, dead-lettering what
    can never be stored, and returns how many were new. The offsets of a batch advance only
    when the next batch is asked for, that is after ``store`` returned.
    """
    backoff = worker_backoff(settings)
    events_in = metrics.EVENTS.labels(store_name)
    written = metrics.WRITTEN.labels(store_name)
    batch_sizes = metrics.BATCH.labels(store_name)
    write_seconds = metrics.WRITE_SECONDS.labels(store_name)
    async for events in stream.take_events(settings.batch_size, within=settings.batch_within_s):
        if app.should_stop:
            # Faust waits at shutdown until every message taken is acked: leave the rest of
            # the buffer unwritten and uncommitted rather than write while stopping.
            withhold_offsets(events)
            continue
        try:
            started = time.perf_counter()
            decoded = await decode_batch(events, backoff)
            if dead_letter_decode_failures:
                for event, error in decoded.failed:
                    await dead_letter(store_name, event, error)
            new = await store(decoded.reads)
        except Abandoned:
            withhold_offsets(events)
            pending = withhold_pending(plates_detected_bytes.get_topic_name())
            log.warning(
                "stopping: %d read(s) left unwritten for the next owner", len(events) + pending
            )
            continue
        except BaseException:
            withhold_offsets(events)
            raise
        write_seconds.observe(time.perf_counter() - started)
        events_in.inc(len(events))
        batch_sizes.observe(len(events))
        written.inc(new)
        update_lag(store_name, events)
        yield new
