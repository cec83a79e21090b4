"""The router, ``alpr.plates.raw`` -> ``alpr.plates.detected``, as a batch consumer.

Raw bytes come in and are decoded here, so that every failure, decoding included, becomes a
dead letter on ``alpr.dlq`` and no message can stop the worker. Each read goes out keyed by
its normalised plate, so everything about one plate lands on one partition downstream.

The router reads below Faust's per-event streams (``streams.batch_consumer``, group
``<app id>-router``): Faust's chain of tasks and futures per event capped it near 1,400
events/s on this machine and put seconds of queueing in front of every alert at 1,000/s.
One batch at a time, in order:

1. each message is routed (:class:`agents.router.routing.PlateRouter`); its read is handed
   to the router's own producer, its dead letter to Faust's; the event ids routed are marked
   in the batch's view, so a duplicate inside the batch is caught too;
2. every read and dead letter of the batch is awaited in Kafka;
3. the batch's marks go to the dedupe changelog and, once there, into the dedupe state;
4. the consumer commits the batch's offsets.

A send that fails (broker away) makes the whole batch go again after a pause, marks
discarded: reads may go out twice then, never zero times (the projections and the alert id
are idempotent). The schema registry away, the batch waits before any of it is routed: its
writer schemas and the schemas of reads and dead letters are fetched first, so no event is
dead-lettered for an outage and no dead letter fails to encode (issue 17). Both outages are
waited out with the one backoff and reported in ``streams.outages`` (log, metric,
``/health``), and so is the dedupe state's file failing to be written (``dedupe_file``):
its marks wait in memory, and the router waits once too many do. Dedupe state per raw
partition is restored from its changelog partition when the partition is assigned, before
any message of it is routed; kept on disk, it is restored from where the worker's state
file left off (``tables.dedupe``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from mode import Service

from agents import metrics
from agents.deadletters.letters import RecordMessage
from agents.emit import send_dead_letter
from agents.router.routing import PlateRouter
from agents.topics import dead_letters, declare_topics, plates_detected, plates_raw
from alpr import app
from config.router import RouterSettings
from config.settings import get_settings
from streams import tracing
from streams.batch_consumer import Batch, BatchConsumer, BatchConsumerSettings
from streams.batch_service import BatchConsumerService
from streams.changelog import ensure_changelog, read_changelog
from streams.codec import (
    REGISTRY,
    AvroSchema,
    SchemaCache,
    default_schema_cache,
    schema_id_of,
    value_subject,
)
from streams.failures import ProcessingError, Reason, Unavailable
from streams.producer import Producer, service_producer
from streams.records import DeadLetter
from streams.retry import Abandoned, Backoff, retry_until_done
from tables.cameras import cameras_by_id
from tables.dedupe import (
    BatchView,
    SeenEvent,
    SeenEvents,
    encode_entry,
    encode_key,
    open_seen_events,
)

log = logging.getLogger(__name__)


#: Messages routed between two returns to the event loop.
YIELD_EVERY = 256


#: Expired dedupe entries forgotten (and tombstoned) between two returns to the event loop.
SWEEP_CHUNK = 2000


READ_SCHEMA = AvroSchema.named("PlateRead")
LETTER_SCHEMA = AvroSchema.named("DeadLetter")


def changelog_topic() -> str:
    """The dedupe changelog: the name the router's Faust table had, so its state carries on."""
    return f"{app.conf.id}-event_ids_seen-changelog"


def group_id() -> str:
    return f"{app.conf.id}-router"


class BatchRouter:
    """Routes batches of raw messages (the handler of the router's batch consumer)."""

    def __init__(
        self,
        settings: RouterSettings,
        schema_cache: SchemaCache,
        producer: Producer,
        seen: SeenEvents,
        backoff: Backoff,
        read_topic: str,
        changelog: str,
        send_dead_letter: Callable[[DeadLetter], Awaitable[Any]] = send_dead_letter,
        flush_dead_letters: Callable[[], Awaitable[Any]] | None = None,
        cameras: Any = cameras_by_id,
        clock: Callable[[], float] = time.time,
        dead_letter_subject: str | None = None,
    ) -> None:
        self.schema_cache = schema_cache
        #: What must be registered before a batch is routed: its reads' and dead letters'.
        self.output_schemas = (
            (value_subject(read_topic), READ_SCHEMA),
            (dead_letter_subject or value_subject(dead_letters.get_topic_name()), LETTER_SCHEMA),
        )
        self.producer = producer
        self.seen = seen
        self.backoff = backoff
        self.read_topic = read_topic
        self.changelog = changelog
        self.flush_dead_letters = flush_dead_letters
        self.view = BatchView(seen)
        self.lock = asyncio.Lock()  # a batch and the sweep never interleave
        self._pending: list[asyncio.Future[Any]] = []
        self._letters = 0
        self._send_dead_letter = send_dead_letter
        self.router = PlateRouter(
            settings=settings,
            schema_cache=schema_cache,
            read_subject=value_subject(read_topic),
            seen=self.view,
            mark_seen=self.view.mark,
            cameras=cameras,
            send_read=self._send_read,
            send_dead_letter=self._dead_letter,
            clock=clock,
        )
        self._in = metrics.EVENTS_IN.labels(plates_raw.get_topic_name())
        self._out = metrics.EVENTS_OUT.labels(read_topic)
        self._retries = metrics.ROUTER_RETRIES
        self._bootstrap: str | None = None  # known once partitions are assigned

    async def handle(self, batch: Batch) -> None:
        """Route ``batch``; returns once its reads, dead letters and marks are in Kafka.

        Kafka or the schema registry away, the batch waits with backoff and goes again
        (reported in ``streams.outages``); raises ``Abandoned`` when the consumer says to
        give it up."""
        async with self.lock:
            await retry_until_done(
                f"routing a batch of {len(batch)}",
                lambda: self._route(batch),
                lambda exc: isinstance(exc, KafkaError | Unavailable),
                self.backoff,
                on_retry=lambda _exc: self._retries.inc(),
                component="kafka",
            )
        self._in.inc(len(batch))

    async def _await_registry(self, batch: Batch) -> None:
        """Fetch what the batch needs of the registry before routing any of it, so that a
        registry outage holds the whole batch back instead of sending half of it twice."""
        ids = (schema_id_of(r.value) for r in batch.records if r.value)
        await self.schema_cache.fetch_writers(i for i in ids if i is not None)
        for subject, schema in self.output_schemas:
            await self.schema_cache.require_id(subject, schema)

    async def _route(self, batch: Batch) -> None:
        await self._await_registry(batch)
        await self.seen.room()  # a state file broken meanwhile is started afresh here
        await self._restore_lost()
        self.view.marks = {}
        self._pending = []
        self._letters = 0
        routed = 0
        for position, record in enumerate(batch.records, 1):
            # The read's trace (the edge's, or a new one): its span is current while the
            # read is sent, so the read carries it on (``streams.tracing``).
            with tracing.consume("router route", record, root=True) as span:
                outcome = await self.router.route(RecordMessage.of(record))
                if outcome.dead_letter is not None:
                    tracing.fail(span, outcome.dead_letter.reason)
            routed += outcome.plate is not None
            if position % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # a large batch must not hold the loop for long
        if self._pending:
            await asyncio.gather(*self._pending)
        if self._letters and self.flush_dead_letters is not None:
            await self.flush_dead_letters()  # a dead letter stands in for its read
        await self._log_marks(self.view.marks)
        self._out.inc(routed)

    async def _send_read(self, plate: str, payload: bytes) -> None:
        try:
            sent = await self.producer.send(
                self.read_topic, payload, key=plate.encode(), headers=tracing.outgoing_headers()
            )
        except MessageSizeTooLargeError:
            raise  # this read can never go: the router dead-letters it
        except KafkaError as exc:  # the broker, not the read: the batch goes again
            sent = asyncio.get_running_loop().create_future()
            sent.set_exception(exc)
        self._pending.append(sent)

    async def _dead_letter(self, letter: DeadLetter) -> None:
        self._letters += 1
        try:
            await self._send_dead_letter(letter)
        except ProcessingError as exc:  # its encoding needs the registry: wait with the batch
            if exc.reason is Reason.REGISTRY_UNAVAILABLE:
                raise Unavailable(REGISTRY, exc.message) from None
            raise

    async def _log_marks(self, marks: dict[str, SeenEvent]) -> None:
        """Write ``marks`` to the changelog; take them into the state once they are there."""
        if not marks:
            return
        sends = [
            await self.producer.send(
                self.changelog, encode_entry(entry), key=encode_key(event_id),
                partition=entry.partition,
            )
            for event_id, entry in marks.items()
        ]  # fmt: skip
        written = await asyncio.gather(*sends)
        last: dict[int, int] = {}
        for meta in written:
            last[meta.partition] = max(last.get(meta.partition, -1), meta.offset)
        self.seen.written(marks, last)
        await self.seen.room()  # its file failing, the state holds the next batch back

    async def sweep(self, now: float, ttl_s: float, owned: Iterable[int]) -> int:
        """Forget entries older than ``ttl_s``; tombstone those of the owned partitions (the
        others' owners do theirs). Returns how many were forgotten.

        Works in chunks of :data:`SWEEP_CHUNK` entries, each under the lock and followed by a
        return to the event loop, so batches keep being routed during a large sweep (a
        minute's expiries at 1,000 events/s are 60,000 entries)."""
        mine = set(owned)
        removed = 0
        while True:
            async with self.lock:
                expired = self.seen.expired(now, ttl_s, SWEEP_CHUNK)
                self.seen.forget(event_id for event_id, _ in expired)
                sends = [
                    await self.producer.send(
                        self.changelog, None, key=encode_key(event_id), partition=entry.partition
                    )
                    for event_id, entry in expired
                    if entry.partition in mine
                ]
            if sends:
                # A lost tombstone only leaves an expired entry to forget again after a restore.
                for outcome in await asyncio.gather(*sends, return_exceptions=True):
                    if isinstance(outcome, BaseException):
                        log.warning("dedupe tombstone not written: %r", outcome)
            removed += len(expired)
            if len(expired) < SWEEP_CHUNK:
                return removed
            await asyncio.sleep(0)

    async def restore(self, bootstrap: str, assigned: Iterable[TopicPartition]) -> None:
        """Read the changelog of the raw partitions in ``assigned`` up to its end."""
        self._bootstrap = bootstrap
        raw = plates_raw.get_topic_name()
        starts = {tp.partition: self.seen.positions.get(tp.partition) for tp in assigned
                  if tp.topic == raw}  # fmt: skip
        if not starts:
            return
        self.seen.lost -= set(starts)  # read in full here: their positions went with the file
        ends = await read_changelog(bootstrap, self.changelog, starts, self.seen.apply)
        self.seen.flush()
        # A stored position past the changelog's end: the topic was recreated or truncated
        # since the state was written, so the state of that partition is not its changelog's.
        stale = {p: None for p, end in ends.items() if (starts[p] or 0) > end}
        if stale:
            log.warning(
                "dedupe state of partitions %s is stale: restoring them in full", sorted(stale)
            )
            for partition in stale:
                self.seen.forget_partition(partition)
            await read_changelog(bootstrap, self.changelog, stale, self.seen.apply)
            self.seen.flush()
        if self.seen.malformed:
            log.warning("dedupe changelog: %d malformed records skipped", self.seen.malformed)

    async def _restore_lost(self) -> None:
        """Restore in full the partitions whose dedupe state was lost (its file broke)."""
        if not self.seen.lost or self._bootstrap is None:
            return
        lost, self.seen.lost = self.seen.lost, set()
        await read_changelog(self._bootstrap, self.changelog, dict.fromkeys(lost), self.seen.apply)
        self.seen.flush()


async def warm_schema_ids(cache: SchemaCache) -> None:
    """Register the output schemas before the first event so no send waits on the registry;
    if it is down now, the first send registers instead."""
    for topic, record in ((plates_detected, "PlateRead"), (dead_letters, "DeadLetter")):
        subject = value_subject(topic.get_topic_name())
        try:
            await asyncio.to_thread(cache.id_for, subject, AvroSchema.named(record))
        except Exception as exc:
            log.warning("could not register %s yet: %r", subject, exc)


async def flush_faust_producer() -> None:
    await app.producer.flush()


@app.service
class RouterService(BatchConsumerService):
    """Routes every raw plate event to a read or a dead letter."""

    router: BatchRouter | None = None

    async def on_start(self) -> None:
        kafka = get_settings().kafka
        await declare_topics()
        await ensure_changelog(
            kafka.bootstrap_servers, plates_raw.get_topic_name(), changelog_topic(),
            kafka.replication_factor,
        )  # fmt: skip
        settings = get_settings().router
        await self.start_producer(
            service_producer(
                f"{group_id()}-producer",
                linger_ms=settings.linger_ms,
                max_request_size=settings.max_payload_bytes + 64 * 1024,
            )
        )
        await warm_schema_ids(default_schema_cache())
        await super().on_start()

    def build_consumer(self) -> BatchConsumer:
        settings = get_settings().router
        bootstrap = get_settings().kafka.bootstrap_servers
        assert self.producer is not None
        backoff = Backoff(settings.retry_first_s, settings.retry_max_s, stopping=self.abandoning)
        data_dir = get_settings().faust.data_dir
        self.router = router = BatchRouter(
            settings,
            default_schema_cache(),
            self.producer,
            open_seen_events(settings, data_dir, changelog_topic(), backoff),
            backoff,
            plates_detected.get_topic_name(),
            changelog_topic(),
            flush_dead_letters=flush_faust_producer,
        )

        async def restore(assigned: list[TopicPartition]) -> None:
            await router.restore(bootstrap, assigned)

        return BatchConsumer(
            "router",
            bootstrap,
            [plates_raw.get_topic_name()],
            group_id(),
            router.handle,
            # One batch at a time: reads of one plate leave in the order they came.
            BatchConsumerSettings(
                max_records=settings.batch_size, max_in_flight=1, commit_interval_s=0.25
            ),
            abandoned=(Abandoned,),
            on_assigned=restore,
        )

    async def on_shutdown(self) -> None:
        # After on_stop and the timers: nothing routes or sweeps any more.
        if self.router is not None:
            self.router.seen.close()

    @Service.timer(get_settings().router.dedupe_sweep_s)
    async def _expire_seen_event_ids(self) -> None:
        router, consumer = self.router, self.consumer
        if router is None or consumer is None:
            return
        owned = [tp.partition for tp in consumer.assignment()]
        ttl = get_settings().router.dedupe_ttl_s
        removed = await router.sweep(time.time(), ttl, owned)
        if removed:
            log.info("dedupe: removed %d event ids older than %.0fs", removed, ttl)
