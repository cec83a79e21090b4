"""What the PostgreSQL and Elasticsearch projections share: a batch consumer of their own on
``alpr.plates.detected``, decoding a batch in one go, dead-lettering reads that can never be
stored, and the metrics.

Each projection reads the topic below Faust's per-event layer (``streams.batch_consumer``),
in a consumer group of its own (``<app id>-projection-<store>``), so one store's outage
holds back only its own offsets. A batch's offsets are committed only after the store has
it; the stores are idempotent on the event id, so a batch read twice adds nothing.
"""

from __future__ import annotations

import logging
import time
from abc import abstractmethod
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any, cast

from aiokafka import ConsumerRecord

from agents import metrics as core_metrics
from agents.deadletters.letters import RecordMessage, dead_letter_for
from agents.emit import send_dead_letter
from alpr import app
from config.projections import ProjectionSettings
from config.settings import get_settings
from stores import metrics
from stores.decoding import Convert, as_read, decode_batch, shaped_reads
from streams import tracing
from streams.batch_consumer import Batch, BatchConsumer, BatchConsumerSettings
from streams.batch_service import BatchConsumerService
from streams.codec import SchemaCache, default_schema_cache
from streams.failures import ProcessingError, Reason, Stage
from streams.retry import Abandoned, Backoff

log = logging.getLogger(__name__)


class ProjectionFailure(StrEnum):
    """Reason and stage of the projections' own dead letters.

    To move into ``streams.failures.Reason`` / ``Stage`` (owned by the event contract).
    """

    UNWRITABLE = "unwritable"
    STAGE = "project"


#: A pair of the message a read came in and the read: the decoded dict, or what the
#: projection's converter made of the message (a row).
Pair = tuple[ConsumerRecord, Any]
#: A store's write of a batch: waits out outages, dead-letters what it can never store,
#: returns how many reads were new.
Store = Callable[[list[Pair]], Awaitable[int]]
#: Sends a message a store refuses for good to the dead-letter topic.
DeadLetterFn = Callable[[ConsumerRecord, ProcessingError], Awaitable[None]]


def unwritable(message: str, event_id: str | None) -> ProcessingError:
    """The error of a read a store refuses for good (a value it cannot hold)."""
    return ProcessingError(
        cast(Reason, ProjectionFailure.UNWRITABLE),
        cast(Stage, ProjectionFailure.STAGE),
        message,
        event_id=event_id,
    )


async def dead_letter(store: str, record: ConsumerRecord, error: ProcessingError) -> None:
    """Send ``record``'s original bytes to the dead-letter topic with ``error``'s reason."""
    letter = dead_letter_for(error, RecordMessage.of(record), time.time())
    await send_dead_letter(letter)
    metrics.DEAD_LETTERS.labels(store, letter.reason).inc()
    core_metrics.DEAD_LETTERS.labels(letter.reason, letter.stage).inc()


class Projection:
    """The handler of one projection's batches: decode, dead-letter, store, count.

    ``dead_letter_decode_failures`` is off for the second projection when both run, so a
    message that does not decode is dead-lettered once. ``convert`` turns each message into
    what the store takes (default: the read's dict; see :mod:`stores.decoding`); a read it
    cannot map is this store's dead letter.
    """

    def __init__(
        self,
        store_name: str,
        store: Store,
        dead_letter_decode_failures: bool,
        backoff: Backoff,
        cache: SchemaCache | None = None,
        flush: Callable[[], Awaitable[None]] | None = None,
        convert: Convert[Any] | None = None,
    ) -> None:
        self.store_name = store_name
        self.store = store
        self.dead_letter_decode_failures = dead_letter_decode_failures
        self.backoff = backoff
        self.cache = cache or default_schema_cache()
        self.convert: Convert[Any] = convert or shaped_reads(self.cache, as_read)
        self.flush = flush
        self.letters = 0
        self._events = metrics.EVENTS.labels(store_name)
        self._written = metrics.WRITTEN.labels(store_name)
        self._batch_sizes = metrics.BATCH.labels(store_name)
        self._write_seconds = metrics.WRITE_SECONDS.labels(store_name)
        self._lag = metrics.LAG.labels(store_name)

    async def handle(self, batch: Batch) -> None:
        """Store every read of ``batch``; raises ``Abandoned`` when told to give it up."""
        started = time.perf_counter()
        records = batch.records
        letters_before = self.letters
        # One span per traced read, over the batch's write (the read's last stage).
        with tracing.spans_per_message(f"projection {self.store_name} write", records):
            decoded = await decode_batch(
                [r.value for r in records], self.cache, self.backoff, self.convert
            )
            if self.dead_letter_decode_failures:
                for position, error in decoded.failed:
                    await self.dead_letter(records[position], error)
            for position, exc in decoded.unshaped:
                message = f"read does not map to what {self.store_name} stores: {exc!r}"
                await self.dead_letter(records[position], unwritable(message, None))
            new = await self.store([(records[position], read) for position, read in decoded.reads])
        if self.letters != letters_before and self.flush is not None:
            # A dead letter stands in for its read: it must be in Kafka before the commit.
            await self.flush()
        self._write_seconds.observe(time.perf_counter() - started)
        self._events.inc(len(records))
        self._batch_sizes.observe(len(records))
        self._written.inc(new)
        self._lag.set(batch.lag)

    async def dead_letter(self, record: ConsumerRecord, error: ProcessingError) -> None:
        self.letters += 1
        await dead_letter(self.store_name, record, error)


def consumer_settings(settings: ProjectionSettings) -> BatchConsumerSettings:
    return BatchConsumerSettings(
        max_records=settings.batch_size,
        fetch_wait_ms=int(settings.batch_within_s * 1000),
        max_in_flight=settings.batches_in_flight,
    )


async def flush_producer() -> None:
    await app.producer.flush()


class ProjectionService(BatchConsumerService):
    """A projection run in the worker: subclasses say which store and how it writes."""

    store_name: str = ""

    @abstractmethod
    def make_store(self, backoff: Backoff, dead_letter: DeadLetterFn) -> Store:
        """The store's write of a batch."""

    @abstractmethod
    def own_decode_failures(self) -> bool:
        """Whether this projection dead-letters messages that do not decode."""

    def read_converter(self, cache: SchemaCache) -> Convert[Any] | None:
        """What the store makes of each message (None: the decoded read's dict)."""
        return None

    async def close_store(self) -> None:
        """Release the store's connections (after the consumer stopped)."""

    def build_consumer(self) -> BatchConsumer:
        settings = get_settings().projections
        backoff = Backoff(settings.retry_first_s, settings.retry_max_s, stopping=self.abandoning)
        projection = Projection(
            self.store_name,
            self.make_store(backoff, lambda r, e: projection.dead_letter(r, e)),
            self.own_decode_failures(),
            backoff,
            flush=flush_producer,
            convert=self.read_converter(default_schema_cache()),
        )
        return BatchConsumer(
            f"projection-{self.store_name}",
            get_settings().kafka.bootstrap_servers,
            [get_settings().topics.detected],
            group_id(self.store_name),
            projection.handle,
            consumer_settings(settings),
            abandoned=(Abandoned,),
        )

    async def on_stop(self) -> None:
        await super().on_stop()
        await self.close_store()


def group_id(store_name: str) -> str:
    """The consumer group of a projection: its own, beside the worker's Faust group."""
    return f"{app.conf.id}-projection-{store_name}"
