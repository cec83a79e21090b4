"""Fixes for faust-streaming 0.15.3 bugs that lose data, applied before the app is built.

Seek after a rebalance (found with two workers and a SIGKILL, tests/integration/
test_alerts_failover.py): when a rebalance hands a worker a partition, its fetcher may
already be fetching from it while the recovery still holds the flow. Faust drops the records
it fetches then (flow inactive, or the generation changed), but aiokafka's position has moved
past them. Faust then relies on ``seek_to_committed`` to rewind every partition, and
aiokafka's ``seek_to_committed`` skips partitions whose committed offset is missing or 0. A
partition whose previous owner died before committing anything (it had received nothing, or
had not reached the commit interval) therefore loses the records produced while the group
rebalanced: the survivor starts after them and never sees them.

:func:`apply` makes the seek cover those partitions: no committed offset means the position
``consumer_auto_offset_reset`` names (``earliest`` by default), committed 0 means offset 0.
Reading again what the fetcher had already delivered is safe: delivery is at-least-once and
every sink is idempotent. The partitions without a committed offset are marked for
aiokafka's reset (``request_offset_reset``, what ``seek_to_beginning`` does) and the seek
returns without waiting for it: aiokafka resets a position only once no fetch to its broker
is in flight, and a recovery waited for the fetch in flight, ``fetch_max_wait_ms`` (1.5 s),
at every start and rebalance (worker-kill drill). A partition awaiting its reset has no
position, so nothing fetched before it is taken, and it is fetched again once reset.

Fetch wait and hold (bench.alerts with a rule that needs every read): Faust builds its
aiokafka consumer with ``fetch_max_wait_ms=1500``. aiokafka keeps one fetch in flight per
broker and holds the next one while records it fetched wait to be taken, but only for
``prefetch_backoff``, 100 ms, which ``AIOKafkaConsumer`` does not let one set. Once Faust
takes longer than that (a busy machine, a long turn of the event loop), the next fetch
leaves the busy partitions out, holds only idle ones and waits the full 1.5 s, and the busy
partitions' records wait with it: 1.5-18 s per alert in 8 of 10 runs. :func:`apply` makes
the wait a setting, ``ALPR_FAUST__FETCH_MAX_WAIT_MS`` (Faust's 1,500 ms by default: on 2
cores the extra fetches of shorter waits cost more than they saved), and the hold one,
``ALPR_FAUST__FETCH_HOLD_MS`` (1,000 ms by default), so that the next fetch waits for Faust
to take what was fetched and then asks for every partition again.

Queues cleared after the seek (same test): at the end of a recovery Faust resumes the stream
partitions, seeks them, and only then calls ``flow_control.resume()``, which empties every
stream queue. When the flow was already running (it is resumed earlier to read changelogs and
standbys), the reads fetched between the seek and that call are thrown away although their
offsets count as read, and the commit later passes over them: the first reads of a partition
taken over from a dead worker vanished this way. The rebalance itself suspends and clears
the queues at its start, so a ``resume()`` while the flow is active has nothing stale to drop:
:func:`apply` makes it keep the queues then.

Pauses that reach the fetcher (bench.alerts --rate-rule, traced per partition): Faust
"pauses" a partition only in its own books (``Consumer.pause_partitions``), and then leaves
its records out of what it takes; the aiokafka consumer below keeps fetching it. After a
recovery every active table's changelog partition is paused so, and this worker writes to
those partitions (1,000 writes/s with a rate rule): the next fetch brings back its own
changelog records, which nothing will ever take, and aiokafka holds every next fetch to that
broker while they wait (the hold above, 1 s): the reads and alerts wait with them. Each
changelog partition did this once when the worker began writing it (a fresh worker's first
alerts: about 1 s) and again whenever its records were let go (a seek, a rebalance).
:func:`apply` makes Faust's pause and resume pause and resume the partition in aiokafka too
(in the consumer's own thread), and lets go the records of a paused partition already
fetched: they were not taken, so its position is where they start, and a resume fetches
them again.

Producer acknowledgements (issue 17, the three-broker layout): Faust's producer is idempotent
only inside transactions, and has no setting for it. :func:`apply` gives it the project's
``kafka.producer_acks`` and ``kafka.producer_idempotence`` (every in-sync replica and
idempotent by default), as the batch services' producers have: a send retried after a
broker's death adds no copy (Faust's transactional producers keep their own).

Topics declared before they are seen (issue 17's registry-down drill): a worker creates its
tables' changelogs at start and subscribes to them right after; the creation returns before
every broker serves the new topic. When the group leader's assignment ran in between, Faust's
assignor found the global table's changelog without partitions ("Ignoring missing topic") and
failed on it (``KeyError``); aiokafka then pauses the group until the error is taken with
``getmany``, which Faust never calls, and the worker waited for ever. :func:`apply` makes a
declaration return only once the cluster's metadata shows the topic with a leader for every
partition (waited out with backoff, reported every ``DECLARE_REPORT_EVERY`` attempts).
``alpr bootstrap`` creating the changelogs beforehand is the first remedy; this one covers a
worker started without it (a new table, a new app id).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka import TopicPartition
from aiokafka.consumer.fetcher import OffsetResetStrategy
from faust.topics import Topic
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Consumer, Producer
from mode.utils.queues import FlowControlEvent

from config.settings import get_settings
from streams.retry import Backoff

log = logging.getLogger(__name__)

_APPLIED_FLAG = "_alpr_seek_fix"


async def _seek_every_partition(consumer: Any, reset: str) -> Mapping[TopicPartition, int]:
    """Seek ``consumer`` (an ``AIOKafkaConsumer``) to the committed offsets, and the
    partitions without one to where ``reset`` says."""
    committed: Mapping[TopicPartition, int] = await consumer.seek_to_committed()
    at_zero = [tp for tp, offset in committed.items() if offset == 0]
    for tp in at_zero:
        consumer.seek(tp, 0)
    uncommitted = [tp for tp, offset in committed.items() if offset is None]
    if uncommitted:
        log.info("no committed offset for %d partitions: seeking to %s", len(uncommitted), reset)
        # Marked for the fetcher's reset, not waited for: aiokafka resets a position only
        # once no fetch to its broker is in flight (the fetch wait, 1.5 s, at every recovery,
        # a restarted worker's included). A partition awaiting its reset has no position:
        # the fetcher discards what it fetched for it and fetches it again only once reset.
        strategy = {"earliest": OffsetResetStrategy.EARLIEST, "latest": OffsetResetStrategy.LATEST}
        if reset in strategy:
            resets = consumer._fetcher.request_offset_reset(uncommitted, strategy[reset])
            resets.add_done_callback(_log_reset_failure)
    return committed


def _log_reset_failure(resets: asyncio.Future[Any]) -> None:
    if not resets.cancelled() and (exc := resets.exception()) is not None:
        log.warning("resetting the positions of partitions without a commit failed: %r", exc)


async def _seek_to_committed(self: Any) -> Mapping[TopicPartition, int]:
    consumer = self._ensure_consumer()
    reset = self.app.conf.consumer_auto_offset_reset
    result: Mapping[TopicPartition, int] = await self.call_thread(
        _seek_every_partition, consumer, reset
    )
    return result


_resume_and_clear = FlowControlEvent.resume


def _resume(self: FlowControlEvent) -> None:
    if self.is_active():
        return  # not suspended: the queues hold reads of the current assignment
    _resume_and_clear(self)


_create_worker_consumer = AIOKafkaConsumerThread._create_worker_consumer


def _create_consumer_with_short_wait(self: Any, transport: Any) -> Any:
    consumer = _create_worker_consumer(self, transport)
    settings = get_settings().faust
    # Read by AIOKafkaConsumer.start(), where it builds its fetcher (aiokafka 0.14).
    consumer._fetch_max_wait_ms = settings.fetch_max_wait_ms
    hold_fetches(consumer, settings.fetch_hold_ms / 1000)
    return consumer


def hold_fetches(consumer: Any, hold_s: float) -> None:
    """Make ``consumer``'s fetcher, once started, hold its next fetch up to ``hold_s`` while
    records it fetched wait to be taken (aiokafka's ``prefetch_backoff``, which
    ``AIOKafkaConsumer`` does not pass on: the fetcher is built in ``start()``)."""
    start = consumer.start

    async def start_and_hold() -> None:
        await start()
        consumer._fetcher._prefetch_backoff = hold_s

    consumer.start = start_and_hold


_pause_partitions = Consumer.pause_partitions
_resume_partitions = Consumer.resume_partitions


def pause_in_fetcher(consumer: Any, tps: Iterable[Any]) -> None:
    """Pause the assigned ``tps`` in ``consumer`` (an ``AIOKafkaConsumer``; in its own event
    loop) and let go of their records fetched and not taken, which would hold every next
    fetch to their broker; the fetcher then sends its next fetch without waiting."""
    paused = assigned_of(consumer, tps)
    if not paused:
        return
    consumer.pause(*paused)
    fetcher = consumer._fetcher
    if fetcher is None:
        return
    dropped = [tp for tp in paused if fetcher._records.pop(tp, None) is not None]
    if dropped and fetcher._wait_consume_future is not None:
        fetcher._notify(fetcher._wait_consume_future)


def resume_in_fetcher(consumer: Any, tps: Iterable[Any]) -> None:
    """Resume the assigned ``tps`` in ``consumer`` (in its own event loop)."""
    resumed = assigned_of(consumer, tps)
    if resumed:
        consumer.resume(*resumed)


def assigned_of(consumer: Any, tps: Iterable[Any]) -> list[TopicPartition]:
    """``tps`` (Faust's or aiokafka's) that ``consumer`` has assigned, as aiokafka's."""
    assigned = consumer.assignment()
    wanted = (TopicPartition(tp.topic, tp.partition) for tp in tps)
    return [tp for tp in wanted if tp in assigned]


def _in_consumer_thread(consumer: Any, action: Any, tps: Iterable[Any]) -> None:
    """Run ``action(aiokafka consumer, tps)`` in the consumer's thread, after the calls
    already queued there (a fetch Faust asked for next sees the change)."""
    thread = consumer._thread
    kafka_consumer = getattr(thread, "_consumer", None)
    if kafka_consumer is None or thread.thread_loop.is_closed():
        return  # not started, or stopped: nothing is fetching
    thread.thread_loop.call_soon_threadsafe(action, kafka_consumer, list(tps))


def _pause_and_stop_fetching(self: Any, tps: Iterable[Any]) -> None:
    tps = list(tps)
    _pause_partitions(self, tps)
    _in_consumer_thread(self, pause_in_fetcher, tps)


def _resume_and_fetch(self: Any, tps: Iterable[Any]) -> None:
    tps = list(tps)
    _resume_partitions(self, tps)
    _in_consumer_thread(self, resume_in_fetcher, tps)


_transactional_settings = Producer._settings_extra


def _producer_settings(self: Any) -> Mapping[str, Any]:
    if self.app.in_transaction:
        return _transactional_settings(self)
    return get_settings().kafka.producer_options()


_declare = Topic.declare
#: How often the wait for a declared topic says it is still waiting (attempts).
DECLARE_REPORT_EVERY = 10
DECLARE_BACKOFF = Backoff(first_s=0.05, max_s=2.0)


async def _declare_and_wait(self: Any) -> None:
    await _declare(self)
    if self.app.conf.topic_allow_declare:
        producer = await self._get_producer()
        await wait_until_served(producer._ensure_producer().client, list(self.topics))


def unserved(cluster: Any, topics: list[str]) -> list[str]:
    """Those of ``topics`` that ``cluster`` (aiokafka's ``ClusterMetadata``) does not show
    with a leader for every partition."""
    missing = []
    for topic in topics:
        partitions = cluster.partitions_for_topic(topic) or set()
        led = cluster.available_partitions_for_topic(topic) or set()
        if not partitions or led != partitions:
            missing.append(topic)
    return missing


async def wait_until_served(client: Any, topics: list[str]) -> None:
    """Return once the cluster's metadata (asked through aiokafka's ``client``) shows each of
    ``topics`` with a leader for every partition."""
    for attempt, pause in enumerate(DECLARE_BACKOFF.pauses()):
        missing = unserved(await client.fetch_all_metadata(), topics)
        if not missing:
            return
        if attempt % DECLARE_REPORT_EVERY == DECLARE_REPORT_EVERY - 1:
            log.warning("declared topics not in the cluster's metadata yet: %s", missing)
        await asyncio.sleep(pause)


def apply() -> None:
    """Install the fixes (idempotent)."""
    thread_class: Any = AIOKafkaConsumerThread
    if getattr(thread_class, _APPLIED_FLAG, False):
        return
    thread_class.seek_to_committed = _seek_to_committed
    thread_class._create_worker_consumer = _create_consumer_with_short_wait
    flow_class: Any = FlowControlEvent
    flow_class.resume = _resume
    consumer_class: Any = Consumer
    consumer_class.pause_partitions = _pause_and_stop_fetching
    consumer_class.resume_partitions = _resume_and_fetch
    producer_class: Any = Producer
    producer_class._settings_extra = _producer_settings
    topic_class: Any = Topic
    topic_class.declare = _declare_and_wait
    setattr(thread_class, _APPLIED_FLAG, True)
