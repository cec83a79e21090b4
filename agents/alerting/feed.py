"""The rule feed: ``alpr.plates.detected`` -> alerts, on the batch runtime.

The feed reads the detected topic in batches below Faust (its own consumer group,
``<app id>-rule-feed``) and evaluates the rules kept per plate or per read (watch list,
rate per plate, sequence, threshold, roaming, impossible travel, dwell) itself, with each
plate's state in :class:`tables.plate_state.PlateStates`: the router keys every read by its
normalised plate, so a plate's reads and state stay on one partition. Alerts go straight to
``alpr.alerts`` keyed by their (deterministic) alert id; the reads the camera-keyed rules need
go, reduced to camera ticks, to the by-camera topic, whose Faust agent keeps the per-camera
state (``agents.alerting.alerts``).

Until 7 December 2026 the feed only forwarded the reads a rule could act on, in bundles, to
a Faust agent that evaluated them: with a rule that needs every read, an alert crossed two
more hops (the forwarded topic and Faust's fetch) and every read paid Faust's per-event path
and a table write through it; the tail of those hops was most of the alert's p99.

A read no rule can act on costs a hash lookup of its key (the plate): it is not decoded. One
batch at a time, in order:

1. each wanted read is decoded and evaluated; its alerts and camera tick are handed to the
   feed's producer, its state write kept aside; a read that does not decode or breaks the
   engine becomes a dead letter and the batch goes on;
2. every alert and tick of the batch is awaited in Kafka;
3. the state writes go to the changelog and are awaited;
4. the consumer commits the batch's offsets.

A crash before 3 leaves the reads uncommitted and their state unwritten: the next owner
raises the same alerts again (same ids; the notifier delivers one per id). A failed send
puts the batch's state entries back as they were and the batch goes again after a pause.
The timers of plate-keyed rules (dwell) and the expiry of plate state run here too, under
the batch lock; the time-fired camera rules (silence) stay with the camera agent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from mode import Service
from prometheus_client import Counter

from agents.alerting.alerts import wait_for_rules
from agents.alerting.engine import AlertEngine
from agents.alerting.rule_book import RULE_BOOK
from agents.alerting.topics import alerts, camera_ticks
from agents.deadletters.letters import RecordMessage, dead_letter_for
from agents.emit import send_dead_letter
from agents.topics import plates_detected
from alpr import app
from config.alerting import RulesSettings
from config.settings import get_settings
from streams import tracing
from streams.alert import Alert, AlertCodec
from streams.batch_consumer import Batch, BatchConsumer, BatchConsumerSettings
from streams.batch_service import BatchConsumerService
from streams.changelog import ensure_changelog, read_changelog
from streams.codec import REGISTRY, AvroSchema, decode, default_schema_cache, value_subject
from streams.failures import ProcessingError, Reason, Stage, Unavailable
from streams.producer import Producer, service_producer
from streams.records import DeadLetter, PlateRead
from streams.retry import Abandoned, Backoff, retry_until_done
from tables.plate_state import Change, PlateStates, encode_plate_key
from tables.rule_state import CameraTick, PlateRuleState

log = logging.getLogger(__name__)

READ_SCHEMA = AvroSchema.named("PlateRead")
#: The alerts topic's value codec (as ``agents.alerting.topics.alerts`` declares it).
ALERT_CODEC = AlertCodec(subject=value_subject(alerts.get_topic_name()))

#: Reads evaluated between two returns to the event loop.
YIELD_EVERY = 256

READS = Counter("alpr_rule_feed_reads_total", "Reads the rule feed looked at")
EVALUATED = Counter("alpr_rule_feed_evaluated_total", "Reads the rule feed evaluated")
RETRIES = Counter("alpr_rule_feed_retries_total", "Batches evaluated again after a failed send")

EncodeAlert = Callable[[Alert], bytes]


def changelog_topic() -> str:
    """The plate state's changelog: the name the Faust table of the plate state had, so the
    state carries on."""
    return f"{app.conf.id}-rule_state_by_plate-changelog"


def group_id() -> str:
    return f"{app.conf.id}-rule-feed"


def encode_alert(alert: Alert) -> bytes:
    """An alert in the wire format of the alerts topic; the registry away, the batch waits."""
    try:
        data: bytes = ALERT_CODEC.dumps(alert)
    except ProcessingError as exc:
        if exc.reason is Reason.REGISTRY_UNAVAILABLE:
            raise Unavailable(REGISTRY, exc.message) from None
        raise
    return data


class RulesLoaded:
    """Whether the rule set is loaded. The first call waits for it (bounded by
    ``ALPR_RULES__READY_TIMEOUT_S``); later calls only ask, so a rule topic that stays away
    costs one wait at start, not one per batch."""

    def __init__(self, wait: Callable[[], Awaitable[None]] = wait_for_rules) -> None:
        self.wait = wait
        self.waited = False

    async def __call__(self) -> bool:
        if not self.waited:
            self.waited = True
            await self.wait()
        return RULE_BOOK.ready.is_set()


class RuleFeed:
    """Evaluates the plate-keyed rules on batches of reads (the feed consumer's handler)."""

    def __init__(
        self,
        producer: Producer,
        states: PlateStates,
        settings: RulesSettings,
        backoff: Backoff,
        *,
        alerts_topic: str,
        ticks_topic: str,
        changelog: str,
        encode_alert: EncodeAlert = encode_alert,
        rules_ready: Callable[[], Awaitable[bool]] | None = None,
        send_dead_letter: Callable[[DeadLetter], Awaitable[Any]] = send_dead_letter,
        flush_dead_letters: Callable[[], Awaitable[Any]] | None = None,
        schema_cache: Callable[[], Any] = default_schema_cache,
    ) -> None:
        self.producer = producer
        self.states = states
        self.backoff = backoff
        self.alerts_topic = alerts_topic
        self.ticks_topic = ticks_topic
        self.changelog = changelog
        self.encode_alert = encode_alert
        self.rules_ready = rules_ready or RulesLoaded()
        self.send_dead_letter = send_dead_letter
        self.flush_dead_letters = flush_dead_letters
        self.schema_cache = schema_cache
        # The camera table is the camera agent's: the feed never reads or writes it.
        self.engine = AlertEngine(
            RULE_BOOK, settings, states, {}, self._send_alert, self._send_tick
        )
        self.lock = asyncio.Lock()  # a batch, a timer and a restore never interleave
        self._pending: list[asyncio.Future[Any]] = []
        self._letters = 0

    # -- batches ----------------------------------------------------------------------

    async def handle(self, batch: Batch) -> None:
        """Evaluate ``batch``; returns once its alerts, ticks, dead letters and state writes
        are in Kafka. A failed send makes it go again after a pause (reported in
        ``streams.outages``); raises ``Abandoned`` when the consumer says to give it up."""
        await self.rules_ready()
        async with self.lock:
            await retry_until_done(
                f"evaluating a batch of {len(batch)} reads",
                lambda: self._in_step(lambda: self._evaluate(batch)),
                lambda exc: isinstance(exc, KafkaError | Unavailable),
                self.backoff,
                on_retry=lambda _exc: RETRIES.inc(),
                component="kafka",
            )
        READS.inc(len(batch))

    async def _in_step(self, work: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``work`` and send what it wrote; on any failure, its writes are undone."""
        self.states.begin()
        self._pending, self._letters = [], 0
        try:
            result = await work()
            if self._pending:
                await asyncio.gather(*self._pending)  # the alerts and ticks are in Kafka
            await self._send_changes(self.states.take_unsent())
            if self._letters and self.flush_dead_letters is not None:
                await self.flush_dead_letters()  # a dead letter stands in for its read
        except BaseException:
            self.states.rollback()
            raise
        finally:
            self._pending = []
        self.states.done()
        return result

    async def _evaluate(self, batch: Batch) -> None:
        evaluated = 0
        for position, record in enumerate(batch.records, 1):
            plate = record.key.decode(errors="replace") if record.key is not None else None
            # No key: not the router's; decoding it says what it is (a dead letter).
            if plate is None or self.engine.needs_read(plate):
                evaluated += 1
                with tracing.consume("alerts evaluate", record):
                    await self._evaluate_one(plate, record)
            if position % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # a large batch must not hold the loop for long
        EVALUATED.inc(evaluated)

    async def _evaluate_one(self, plate: str | None, record: ConsumerRecord) -> None:
        event_id = None
        try:
            read = PlateRead.from_data(decode(record.value, READ_SCHEMA, self.schema_cache()))
            event_id = read.event_id
            tracing.annotate(event_id=read.event_id, camera=read.camera_id)
            await self.engine.on_read(read, record.partition)
        except (Unavailable, KafkaError):
            raise  # not the read's fault: the batch waits and goes again
        except Exception as exc:  # one bad read costs a dead letter, not the batch
            if isinstance(exc, ProcessingError):  # the read does not decode: its own reason
                error = exc
            else:
                log.exception("alert evaluation failed on plate %s", plate)
                error = ProcessingError(
                    Reason.INTERNAL_ERROR, Stage.EMIT, f"alert evaluation failed: {exc!r}",
                    event_id=event_id,
                )  # fmt: skip
            self._letters += 1
            await self.send_dead_letter(
                dead_letter_for(error, RecordMessage.of(record), time.time())
            )

    # -- what the engine sends --------------------------------------------------------

    async def _send(
        self, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]] | None
    ) -> None:
        try:
            sent = await self.producer.send(topic, value, key=key, headers=headers)
        except MessageSizeTooLargeError:
            raise  # this record can never go: its read is dead-lettered
        except KafkaError as exc:  # the broker, not the read: the batch goes again
            sent = asyncio.get_running_loop().create_future()
            sent.set_exception(exc)
        self._pending.append(sent)

    async def _send_alert(self, alert: Alert) -> None:
        # Within the span of the read that raised it: the alert carries the read's trace on.
        value = self.encode_alert(alert)
        await self._send(
            self.alerts_topic, alert.alert_id.encode(), value, tracing.outgoing_headers()
        )

    async def _send_tick(self, tick: CameraTick) -> None:
        value: bytes = tick.dumps(serializer="json")
        await self._send(self.ticks_topic, tick.camera_id.encode(), value, None)

    async def _send_changes(self, changes: list[Change]) -> None:
        if not changes:
            return
        sends = [
            await self.producer.send(
                self.changelog, data, key=encode_plate_key(plate), partition=partition
            )
            for partition, plate, data in changes
        ]
        await asyncio.gather(*sends)

    # -- timers and partitions --------------------------------------------------------

    async def on_timer(self, now: float) -> list[Alert]:
        """Raise the alerts that the passing of time fires by ``now`` for the plates held
        here (dwell); their state writes go to the changelog as a batch's do."""
        if not RULE_BOOK.ready.is_set():
            return []
        async with self.lock:
            raised: list[Alert] = await self._in_step(
                lambda: self.engine.on_timer(now, _write_state)
            )
        return raised

    async def expire(self, now: float, owned: Collection[int]) -> int:
        """Remove the plate states of the ``owned`` partitions no rule can need any more
        (``AlertEngine.keep_s``), with a tombstone each. Returns how many went.

        The walk over every plate (a decode each) runs outside the batch lock, so batches go
        on between its chunks; the plates it found are checked again and removed under the
        lock (one written meanwhile stays)."""
        if not RULE_BOOK.ready.is_set():
            return 0  # the rule set decides how long state matters
        found: list[str] = []
        await self.engine.expire_plates(now, owned, lambda _table, plate, _p: found.append(plate))
        if not found:
            return 0
        keep_s = self.engine.keep_s()

        async def remove() -> int:
            removed = 0
            for plate in found:
                stored = self.states.get(plate)
                if stored is None or stored.partition not in owned:
                    continue
                if now - (stored.written_at or stored.watermark) > keep_s:
                    del self.states[plate]
                    removed += 1
            return removed

        async with self.lock:
            removed: int = await self._in_step(remove)
        return removed

    async def restore(self, bootstrap: str, assigned: Collection[TopicPartition]) -> None:
        """Hold the state of the ``assigned`` partitions of the detected topic alone, each
        read in full from its changelog partition (another worker may have written it since
        this one last held it)."""
        partitions = {tp.partition for tp in assigned}
        async with self.lock:
            held = set(self.states.partitions.values())
            self.states.forget_partitions(held | partitions)
            if partitions:
                starts: dict[int, int | None] = dict.fromkeys(partitions)
                await read_changelog(bootstrap, self.changelog, starts, self.states.apply)
        if self.states.malformed:
            log.warning("rule state changelog: %d malformed records skipped", self.states.malformed)


def _write_state(
    table: MutableMapping[str, PlateRuleState], key: str, value: PlateRuleState
) -> None:
    table[key] = value


async def flush_faust_producer() -> None:
    await app.producer.flush()


@app.service
class RuleFeedService(BatchConsumerService):
    """Evaluates the plate-keyed rules on every read of the detected topic."""

    feed: RuleFeed | None = None

    async def on_start(self) -> None:
        kafka = get_settings().kafka
        for declared in (alerts, camera_ticks):
            await declared.maybe_declare()
        await ensure_changelog(
            kafka.bootstrap_servers, plates_detected.get_topic_name(), changelog_topic(),
            kafka.replication_factor,
        )  # fmt: skip
        await self.start_producer(service_producer(f"{group_id()}-producer"))
        await super().on_start()

    def build_consumer(self) -> BatchConsumer:
        assert self.producer is not None
        bootstrap = get_settings().kafka.bootstrap_servers
        self.feed = feed = RuleFeed(
            self.producer,
            PlateStates(),
            get_settings().rules,
            Backoff(0.2, 10.0, stopping=self.abandoning),
            alerts_topic=alerts.get_topic_name(),
            ticks_topic=camera_ticks.get_topic_name(),
            changelog=changelog_topic(),
            flush_dead_letters=flush_faust_producer,
        )

        async def restore(assigned: list[TopicPartition]) -> None:
            await feed.restore(bootstrap, assigned)

        return BatchConsumer(
            "rule-feed",
            bootstrap,
            [plates_detected.get_topic_name()],
            group_id(),
            feed.handle,
            # One batch at a time: the reads of one plate reach the rules in order.
            BatchConsumerSettings(max_records=5000, max_in_flight=1, commit_interval_s=0.25),
            abandoned=(Abandoned,),
            on_assigned=restore,
        )

    def owned(self) -> set[int]:
        consumer = self.consumer
        return {tp.partition for tp in consumer.assignment()} if consumer is not None else set()

    @Service.timer(get_settings().rules.timer_interval_s)
    async def _fire_timed_rules(self) -> None:
        if self.feed is not None:
            try:
                await self.feed.on_timer(time.time())
            except (KafkaError, Unavailable) as exc:  # the next turn tries again
                log.warning("timed plate rules not checked: %r", exc)

    @Service.timer(get_settings().rules.state_expiry_interval_s)
    async def _expire_rule_state(self) -> None:
        if self.feed is None:
            return
        try:
            removed = await self.feed.expire(time.time(), self.owned())
        except (KafkaError, Unavailable) as exc:
            log.warning("plate rule state not expired: %r", exc)
            return
        if removed:
            log.info("rule state: removed %d plates no rule needs any more", removed)
