"""A Kafka consumer that hands whole batches to a handler and commits only what was handled.

Faust delivers one event at a time through a chain of tasks and futures (about 200 us per
event here), and ``Stream.take`` lost events under load in faust-streaming 0.15.3. A sink
that stores batches (the projections; later the router and the alert engine) reads below
that layer instead: one aiokafka consumer in a consumer group of its own, ``getmany()`` for
up to ``max_records`` messages, the batch given to ``handler`` as a task, and the offsets of
a batch committed only once the handler returned for it and for every batch before it.

Delivery is at-least-once and the handler must be idempotent:

- several batches may be in flight at once (``max_in_flight``); offsets are committed in
  fetch order, so a batch that is slow or failing holds back the commits of those after it;
- while the handler of the oldest batch waits out a store outage, no new batch is fetched:
  every partition is paused and the consumer keeps polling, so it stays in its group (aiokafka
  leaves the group after ``max_poll_interval_ms`` without a poll) and nothing is dropped;
- on a rebalance, the partitions' revocation waits (up to ``revoke_wait_s``) for the batches
  in flight, commits those handled and gives up the rest (``should_abandon`` tells a handler
  retrying a store to stop); the next owner starts from the committed offsets;
- a handler that fails for good (any exception but :class:`streams.retry.Abandoned`-like
  exceptions named in ``abandoned``) stops the consumer with that error, offsets left before
  the batch; a batch abandoned while the consumer goes on is fetched again.

Using it: give a handler ``async def handle(batch: Batch) -> None`` that returns only once
every message of the batch has had its effect (stored, produced and acknowledged, or
dead-lettered), retries what is transient with a backoff whose ``stopping`` is
:meth:`BatchConsumer.should_abandon`, and raises one of ``abandoned`` when told to stop; run
it in the worker with :class:`streams.batch_service.BatchConsumerService`. With
``max_in_flight`` above 1 the batches of one partition may be handled concurrently, so a
handler that needs per-key order (a router producing keyed output, rule state) keeps it at 1.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import Counter, Gauge, Histogram
from pydantic import BaseModel, ConfigDict, Field

from config.settings import get_settings
from streams.lag import GroupLag, LagView
from streams.retry import Backoff

log = logging.getLogger(__name__)

#: Pauses between tries to join the group while Kafka is not reachable.
RECONNECT = Backoff(0.5, 10.0)

RECORDS = Counter(
    "alpr_batch_consumer_records_total", "Messages handed to a batch consumer's handler",
    ["consumer"],
)  # fmt: skip
BATCH_RECORDS = Histogram(
    "alpr_batch_consumer_batch_records",
    "Messages per batch of a batch consumer",
    ["consumer"],
    buckets=(1, 10, 100, 500, 1000, 2000, 5000, 10000, 20000, 50000),
)
HANDLE_SECONDS = Histogram(
    "alpr_batch_consumer_handle_seconds",
    "Time a batch consumer's handler took for one batch, retries included",
    ["consumer"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
COMMITS = Counter(
    "alpr_batch_consumer_commits_total", "Offset commits of a batch consumer", ["consumer"]
)
COMMIT_FAILURES = Counter(
    "alpr_batch_consumer_commit_failures_total",
    "Offset commits refused (rebalance, broker away): those messages are read again",
    ["consumer"],
)
ABANDONED = Counter(
    "alpr_batch_consumer_abandoned_total",
    "Batches given up unhandled (stop or rebalance during an outage), to be read again",
    ["consumer"],
)
LAG = Gauge(
    "alpr_batch_consumer_lag_messages",
    "Messages after the last one handed out, summed over the consumer's partitions",
    ["consumer"],
)


class BatchConsumerSettings(BaseModel):
    """How a batch consumer fetches, overlaps and gives up batches."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_records: int = Field(
        default=5000, ge=1, le=100_000, description="Most messages handed out in one batch"
    )
    fetch_wait_ms: int = Field(
        default=200, ge=0, le=60_000, description="Longest wait, ms, for messages to fill a batch"
    )
    max_in_flight: int = Field(
        default=2, ge=1, le=16, description="Batches handled at once (commits stay in order)"
    )
    keepalive_s: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="Seconds between polls, partitions paused, while the oldest batch waits",
    )
    revoke_wait_s: float = Field(
        default=15.0,
        ge=0,
        le=600,
        description="Seconds a rebalance waits for the batches in flight before leaving them",
    )
    stop_wait_s: float = Field(
        default=20.0, ge=0, le=600, description="Seconds a stop waits for the batches in flight"
    )
    commit_interval_s: float = Field(
        default=0.0,
        ge=0,
        le=60,
        description="Shortest time between offset commits (0: after every batch); a stop or "
        "rebalance commits at once. Longer means fewer commit requests and more messages "
        "handled again after a crash",
    )
    lag_interval_s: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="Seconds between two measures of the group's committed lag on the broker "
        "(alpr_consumer_lag, /health)",
    )
    max_partition_fetch_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=64 * 1024,
        le=256 * 1024 * 1024,
        description="Most bytes fetched per partition and request",
    )
    session_timeout_s: float = Field(
        default_factory=lambda: get_settings().kafka.session_timeout_s,
        ge=6,
        le=300,
        description="Seconds without a heartbeat before the group takes the partitions "
        "(default: the kafka section's, as for Faust's consumer)",
    )
    heartbeat_interval_s: float = Field(
        default_factory=lambda: get_settings().kafka.heartbeat_interval_s,
        ge=0.5,
        le=100,
        description="Seconds between heartbeats (default: the kafka section's)",
    )


@dataclass
class Batch:
    """Messages handed to the handler at once, in fetch order (per partition: offset order)."""

    records: list[ConsumerRecord]
    generation: int
    #: Messages left on the batch's partitions after it, when it was handed out.
    lag: int = 0
    fetched_at: float = field(default_factory=time.monotonic)
    _next: dict[TopicPartition, int] | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.records)

    def next_offsets(self) -> dict[TopicPartition, int]:
        """Per partition, the offset to commit once the batch is handled (worked out once:
        a batch of thousands is asked several times)."""
        if self._next is None:
            last: dict[tuple[str, int], int] = {}
            for record in self.records:
                tp = (record.topic, record.partition)
                last[tp] = max(last.get(tp, -1), record.offset)
            self._next = {TopicPartition(*tp): offset + 1 for tp, offset in last.items()}
        return dict(self._next)

    def first_offsets(self) -> dict[TopicPartition, int]:
        """Per partition, the first offset of the batch (where to read again from)."""
        offsets: dict[TopicPartition, int] = {}
        for record in self.records:
            tp = TopicPartition(record.topic, record.partition)
            offsets[tp] = min(offsets.get(tp, record.offset), record.offset)
        return offsets


Handler = Callable[[Batch], Awaitable[None]]
#: Called with the partitions assigned, before any message of them is handed out.
OnAssigned = Callable[[list[TopicPartition]], Awaitable[None]]


@dataclass
class _InFlight:
    batch: Batch
    task: asyncio.Task[None]


def merge_offsets(
    into: dict[TopicPartition, int], offsets: dict[TopicPartition, int], pick: Callable[..., int]
) -> None:
    """Merge ``offsets`` into ``into`` with ``pick`` (``max`` to commit, ``min`` to rewind)."""
    for tp, offset in offsets.items():
        into[tp] = pick(into[tp], offset) if tp in into else offset


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: BatchConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self.owner._on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        log.info("%s: assigned %s", self.owner.name, sorted(f"{t.topic}/{t.partition}"
                                                             for t in assigned))  # fmt: skip
        await self.owner._on_assigned(assigned)


#: The batch consumers of this process by name, for ``/health``.
RUNNING: dict[str, BatchConsumer] = {}


class BatchConsumer:
    """Consumes ``topics`` in group ``group_id`` and hands batches to ``handler``.

    ``abandoned`` are the exceptions by which a handler says "given up, not handled" (it was
    told to by :meth:`should_abandon`); any other exception is a bug and ends :meth:`run`.
    ``on_assigned`` prepares what the handler needs for newly assigned partitions (state
    restored from a changelog); no message is handed out before it returns, and its failure
    ends :meth:`run` like the handler's.
    """

    def __init__(
        self,
        name: str,
        bootstrap: str,
        topics: Sequence[str],
        group_id: str,
        handler: Handler,
        settings: BatchConsumerSettings | None = None,
        abandoned: tuple[type[BaseException], ...] = (),
        client_id: str | None = None,
        on_assigned: OnAssigned | None = None,
    ) -> None:
        self.name = name
        self.bootstrap = bootstrap
        self.topics = list(topics)
        self.group_id = group_id
        self.handler = handler
        self.settings = settings or BatchConsumerSettings()
        self.abandoned = abandoned
        self.client_id = client_id or f"{group_id}-{name}"
        self.on_assigned = on_assigned
        #: Messages after the last batch handed out (as the ``LAG`` gauge).
        self.lag = 0
        #: The group's committed lag on the broker, per partition.
        self.committed_lag = LagView(group_id)
        #: Offsets handled but not committed yet (``commit_interval_s``).
        self._owed: dict[TopicPartition, int] = {}
        self._last_commit = 0.0
        self._consumer: AIOKafkaConsumer | None = None
        self._in_flight: deque[_InFlight] = deque()
        self._generation = 0
        self._stopping = False
        self._revoking = False
        self._settle = asyncio.Lock()
        self._failure: BaseException | None = None
        self._records = RECORDS.labels(name)
        self._batch_records = BATCH_RECORDS.labels(name)
        self._handle_seconds = HANDLE_SECONDS.labels(name)
        self._commits = COMMITS.labels(name)
        self._commit_failures = COMMIT_FAILURES.labels(name)
        self._abandoned = ABANDONED.labels(name)
        self._lag = LAG.labels(name)

    def should_abandon(self) -> bool:
        """True while the consumer stops or its partitions are being revoked: a handler that
        is waiting out an outage gives its batch up (raising one of ``abandoned``)."""
        return self._stopping or self._revoking

    def assignment(self) -> set[TopicPartition]:
        """The partitions this consumer owns now (empty before it joined its group)."""
        consumer = self._consumer
        return set(consumer.assignment()) if consumer is not None else set()

    def status(self) -> dict[str, object]:
        """What ``/health`` says of this consumer: its group, partitions owned, and messages
        behind: ``lag``, the group's committed lag on the broker (every partition of its
        topics, whoever owns it; the handed-out lag until first measured), and
        ``handed_out_lag``, the messages after the last batch handed out."""
        committed, measured_at = self.committed_lag.total, self.committed_lag.measured_at
        return {
            "group": self.group_id,
            "running": self._consumer is not None and not self._stopping,
            "assigned_partitions": len(self.assignment()),
            "lag": self.lag if committed is None else committed,
            "lag_measured_s_ago": None
            if measured_at is None
            else round(time.monotonic() - measured_at, 1),
            "handed_out_lag": self.lag,
            "failed": repr(self._failure) if self._failure is not None else None,
        }

    def stop_soon(self) -> None:
        """Ask :meth:`run` to finish: no new batch; those in flight get ``stop_wait_s``."""
        self._stopping = True

    async def run(self) -> None:
        """Consume until :meth:`stop_soon`; raises the error of a handler that failed."""
        consumer = await self._start()
        RUNNING[self.name] = self
        watch = asyncio.create_task(self._watch_lag(), name=f"{self.name}-lag")
        try:
            while not self._stopping:
                await self._settle_done()
                if self._failure is not None:
                    raise self._failure
                if len(self._in_flight) >= self.settings.max_in_flight:
                    await self._wait_oldest(consumer)
                    continue
                fetched = await consumer.getmany(
                    timeout_ms=self.settings.fetch_wait_ms, max_records=self.settings.max_records
                )
                if self._stopping:
                    break  # not handed out, not committed: the next owner reads them
                records = [r for part in fetched.values() for r in part]
                if records:
                    self._hand_out(consumer, Batch(records, self._generation))
            await self._drain(self.settings.stop_wait_s)
            if self._failure is not None:
                raise self._failure
        finally:
            self._stopping = True
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)
            for flight in self._in_flight:
                flight.task.cancel()
            self._in_flight.clear()
            self._consumer = None
            if RUNNING.get(self.name) is self:
                del RUNNING[self.name]
            await consumer.stop()

    async def _watch_lag(self) -> None:
        """Measure the group's committed lag every ``lag_interval_s`` until cancelled; while
        Kafka does not answer, the last figure stays (its age shows) and it says so once."""
        lag = GroupLag(self.bootstrap, self.group_id, self.topics)
        failing = False
        try:
            while True:
                try:
                    if not lag.started:
                        await lag.start()
                    self.committed_lag.measured(await lag.measure())
                    if failing:
                        log.info("%s: committed lag measured again", self.name)
                    failing = False
                except KafkaError as exc:
                    if not failing:
                        log.warning("%s: committed lag not measured: %r", self.name, exc)
                    failing = True
                    await lag.stop()
                await asyncio.sleep(self.settings.lag_interval_s)
        finally:
            await lag.stop()

    async def _start(self) -> AIOKafkaConsumer:
        pauses = RECONNECT.pauses()
        while True:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap,
                group_id=self.group_id,
                # A static member (kafka.worker_id): a restarted worker gets its partitions
                # back without waiting out its dead predecessor's session.
                group_instance_id=get_settings().kafka.group_instance_id(self.name),
                client_id=self.client_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_records=self.settings.max_records,
                max_partition_fetch_bytes=self.settings.max_partition_fetch_bytes,
                session_timeout_ms=int(self.settings.session_timeout_s * 1000),
                heartbeat_interval_ms=int(self.settings.heartbeat_interval_s * 1000),
            )
            consumer.subscribe(self.topics, listener=_Listener(self))
            try:
                await consumer.start()
            except KafkaError as exc:
                await consumer.stop()
                if self._stopping:
                    raise
                pause = next(pauses)
                log.warning("%s: Kafka not reachable (%r); again in %.1fs", self.name, exc, pause)
                await asyncio.sleep(pause)
                continue
            self._consumer = consumer
            return consumer

    def _hand_out(self, consumer: AIOKafkaConsumer, batch: Batch) -> None:
        self._records.inc(len(batch))
        self._batch_records.observe(len(batch))
        batch.lag = self._lag_after(consumer, batch)
        self.lag = batch.lag
        self._lag.set(batch.lag)
        task = asyncio.create_task(self._handle(batch), name=f"{self.name}-batch")
        self._in_flight.append(_InFlight(batch, task))

    async def _handle(self, batch: Batch) -> None:
        started = time.perf_counter()
        await self.handler(batch)
        self._handle_seconds.observe(time.perf_counter() - started)

    @staticmethod
    def _lag_after(consumer: AIOKafkaConsumer, batch: Batch) -> int:
        lag = 0
        for tp, offset in batch.next_offsets().items():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                lag += max(highwater - offset, 0)
        return lag

    async def _wait_oldest(self, consumer: AIOKafkaConsumer) -> None:
        """Wait for the oldest batch; poll with every partition paused meanwhile."""
        oldest = self._in_flight[0].task
        paused: set[TopicPartition] = set()
        try:
            while not oldest.done() and not self._stopping:
                done, _ = await asyncio.wait({oldest}, timeout=self.settings.keepalive_s)
                if done:
                    break
                assignment = consumer.assignment()
                consumer.pause(*assignment)
                paused |= assignment
                fetched = await consumer.getmany(timeout_ms=0)
                # Partitions assigned since the pause are not paused: read them again later.
                for tp, records in fetched.items():
                    if records:
                        consumer.seek(tp, records[0].offset)
        finally:
            still = paused & consumer.assignment()
            if still:
                consumer.resume(*still)

    async def _settle_done(self, force: bool = False) -> None:
        """Commit, in fetch order, the batches whose handler (and every earlier one's) is done
        (at most every ``commit_interval_s`` unless ``force``)."""
        async with self._settle:
            await self._settle_locked(force)

    async def _settle_locked(self, force: bool) -> None:
        consumer = self._consumer
        commit: dict[TopicPartition, int] = {}
        while self._in_flight and self._in_flight[0].task.done():
            flight = self._in_flight.popleft()
            failure = _failure_of(flight.task)
            if failure is None:
                if flight.batch.generation == self._generation:
                    merge_offsets(commit, flight.batch.next_offsets(), max)
                continue
            # Nothing after a failed batch may be committed: read it and the rest again.
            rewind: dict[TopicPartition, int] = {}
            for later in [flight, *self._in_flight]:
                merge_offsets(rewind, later.batch.first_offsets(), min)
            self._in_flight.clear()
            self._abandoned.inc()
            if not isinstance(failure, (asyncio.CancelledError, *self.abandoned)):
                self._failure = failure
                log.error("%s: handler failed", self.name, exc_info=failure)
            if consumer is not None and flight.batch.generation == self._generation:
                owned = consumer.assignment()
                for tp, offset in rewind.items():
                    if tp in owned:
                        consumer.seek(tp, offset)
            break
        merge_offsets(self._owed, commit, max)
        due = time.monotonic() - self._last_commit >= self.settings.commit_interval_s
        if self._owed and consumer is not None and (force or due):
            owed, self._owed = self._owed, {}
            self._last_commit = time.monotonic()
            await self._commit(consumer, owed)

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        owned = consumer.assignment()
        mine = {tp: offset for tp, offset in offsets.items() if tp in owned}
        if not mine:
            return
        try:
            await consumer.commit(mine)
        except KafkaError as exc:
            # Handled but not committed: the next owner handles them again (idempotent sink).
            self._commit_failures.inc()
            log.warning("%s: commit of %s failed: %r", self.name, mine, exc)
        else:
            self._commits.inc()
            self.committed_lag.committed(mine, {tp: consumer.highwater(tp) for tp in mine})

    async def _drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` for the batches in flight, then commit those handled."""
        tasks = [flight.task for flight in self._in_flight]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        await self._settle_done(force=True)
        if self._in_flight:
            log.warning(
                "%s: %d batch(es) left unhandled for the next owner",
                self.name,
                len(self._in_flight),
            )
            self._abandoned.inc(len(self._in_flight))

    async def _on_assigned(self, assigned: list[TopicPartition]) -> None:
        if self.on_assigned is None or self._stopping:
            return
        try:
            await self.on_assigned(assigned)
        except Exception as exc:  # aiokafka would log it and go on consuming without it
            log.error("%s: preparing the assigned partitions failed", self.name, exc_info=exc)
            self._failure = exc
            self._stopping = True

    async def _on_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        """Before giving partitions up: commit what was handled, leave the rest."""
        self._revoking = True
        try:
            await self._drain(self.settings.revoke_wait_s)
            # Batches still running belong to the old assignment: never committed.
            self._generation += 1
            self._owed = {}
            for flight in self._in_flight:
                flight.task.cancel()
            self._in_flight.clear()
        finally:
            self._revoking = False


def _failure_of(task: asyncio.Task[None]) -> BaseException | None:
    if task.cancelled():
        return asyncio.CancelledError()
    return task.exception()
