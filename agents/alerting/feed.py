"""The rule feed: ``alpr.plates.detected`` -> the reads some rule needs (``rule_reads``).

Every read used to pass through Faust's per-event machinery on its way to the alert agent,
though with watch lists alone (the common rule set) about one read in a hundred can raise
anything: at 1,000 reads/s that machinery was most of the worker's time, and the alerts
waited behind it. The feed reads the topic in batches below Faust (its own consumer group,
``<app id>-rule-feed``), asks the rule set about each read's key (the normalised plate: a
hash lookup, no decoding) and forwards the reads a rule can act on, unchanged (key, value,
timestamp, headers), to the topic the alert agent consumes. With any rule that needs every
read (rate, sequence, dwell, threshold...) every read is forwarded.

The reads of a batch that go to one partition of that topic (the partition their key would
choose) travel as bundles (:mod:`agents.alerting.bundles`) of at most ``BUNDLE_MAX_READS`` reads and
``BUNDLE_MAX_BYTES``: the agent then pays Faust's per-event cost once per bundle. With
every read forwarded at 1,000 reads/s, that cost per read had the worker falling behind.

Until the rule set is loaded (bounded by ``ALPR_RULES__READY_TIMEOUT_S``) every read is
forwarded, so none is missed at start. A batch's offsets are committed once Kafka has all
of its forwarded reads; a failed send makes the batch go again (reads may then reach the
agent twice: alert ids are deterministic and the notifier delivers one per id).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner
from prometheus_client import Counter

from agents.alerting.alerts import build_engine, wait_for_rules
from agents.alerting.bundles import encode_bundle, encoded_size
from agents.alerting.rule_book import RULE_BOOK
from agents.alerting.topics import rule_reads
from alpr import app
from config.settings import get_settings
from streams import tracing
from streams.batch_consumer import Batch, BatchConsumer, BatchConsumerSettings
from streams.batch_service import BatchConsumerService
from streams.producer import Producer, service_producer
from streams.retry import Abandoned, Backoff, retry_until_done

log = logging.getLogger(__name__)

#: Most reads in one bundle: a bundle is evaluated in one go (about 0.1 ms a read).
BUNDLE_MAX_READS = 100
#: Most bytes of reads in one bundle (a larger read travels alone, in its own bundle).
BUNDLE_MAX_BYTES = 256 * 1024

READS = Counter("alpr_rule_feed_reads_total", "Reads the rule feed looked at")
FORWARDED = Counter("alpr_rule_feed_forwarded_total", "Reads forwarded to the alert agent")
RETRIES = Counter("alpr_rule_feed_retries_total", "Batches forwarded again after a failed send")


class RuleFeed:
    """Forwards the reads of a batch that a rule needs; the handler of the feed's consumer."""

    def __init__(
        self,
        producer: Producer,
        topic: str,
        partitions: int,
        needs_read: Callable[[str], bool],
        rules_ready: Callable[[], Awaitable[bool]],
        backoff: Backoff,
    ) -> None:
        self.producer = producer
        self.topic = topic
        self.partitions = list(range(partitions))
        self.needs_read = needs_read
        self.rules_ready = rules_ready
        self.backoff = backoff
        self.partitioner = DefaultPartitioner()

    async def handle(self, batch: Batch) -> None:
        everything = not await self.rules_ready()
        wanted = [
            record
            for record in batch.records
            # No key: not the router's; the agent dead-letters what it cannot read.
            if everything or record.key is None or self.needs_read(record.key.decode())
        ]
        if wanted:
            # Each traced read goes on in its trace, as a child of the feed's span for it.
            with tracing.spans_per_message("rule_feed forward", wanted, carry=True) as carried:
                bundles = self.bundles(list(carried))
                await retry_until_done(
                    f"forwarding {len(wanted)} reads to {self.topic}",
                    lambda: self._forward(bundles),
                    lambda exc: isinstance(exc, KafkaError),
                    self.backoff,
                    on_retry=lambda _exc: RETRIES.inc(),
                )
        READS.inc(len(batch))
        FORWARDED.inc(len(wanted))

    def partition_of(self, key: bytes | None) -> int:
        """The partition a keyed send of ``key`` would go to (keyless reads: the first)."""
        if key is None:
            return self.partitions[0]
        return int(self.partitioner(key, self.partitions, self.partitions))

    def bundles(self, records: list[Any]) -> list[tuple[int, bytes]]:
        """``records`` as bundles, each with its partition; in order within a partition."""
        by_partition: dict[int, list[Any]] = {}
        for record in records:
            by_partition.setdefault(self.partition_of(record.key), []).append(record)
        bundles: list[tuple[int, bytes]] = []
        for partition, members in by_partition.items():
            bundle: list[Any] = []
            size = 0
            for record in members:
                record_size = encoded_size(record)
                if bundle and (
                    len(bundle) >= BUNDLE_MAX_READS or size + record_size > BUNDLE_MAX_BYTES
                ):
                    bundles.append((partition, encode_bundle(bundle)))
                    bundle, size = [], 0
                bundle.append(record)
                size += record_size
            bundles.append((partition, encode_bundle(bundle)))
        return bundles

    async def _forward(self, bundles: list[tuple[int, bytes]]) -> None:
        sends = [
            await self.producer.send(self.topic, bundle, partition=partition)
            for partition, bundle in bundles
        ]
        await asyncio.gather(*sends)


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


def group_id() -> str:
    return f"{app.conf.id}-rule-feed"


@app.service
class RuleFeedService(BatchConsumerService):
    """Forwards the reads some rule needs to the alert agent's topic."""

    partitions = 1

    async def on_start(self) -> None:
        await rule_reads.maybe_declare()
        producer = service_producer(
            f"{group_id()}-producer",
            max_request_size=get_settings().topics.max_message_bytes + 64 * 1024,
        )
        await self.start_producer(producer)
        self.partitions = len(await producer.partitions_for(rule_reads.get_topic_name()))
        await super().on_start()

    def build_consumer(self) -> BatchConsumer:
        assert self.producer is not None
        engine = build_engine()
        feed = RuleFeed(
            self.producer,
            rule_reads.get_topic_name(),
            self.partitions,
            engine.needs_read,
            RulesLoaded(),
            Backoff(0.2, 10.0, stopping=self.abandoning),
        )
        return BatchConsumer(
            "rule-feed",
            get_settings().kafka.bootstrap_servers,
            [get_settings().topics.detected],
            group_id(),
            feed.handle,
            # One batch at a time: the reads of one plate reach the rules in order.
            BatchConsumerSettings(max_records=5000, max_in_flight=1, commit_interval_s=0.25),
            abandoned=(Abandoned,),
        )
