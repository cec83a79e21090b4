"""Consumer lag as Kafka holds it: each partition's log end minus the group's committed offset.

A consumer's own view of its lag (messages after the last batch it handed out) stays at 0
while its handler waits out a store outage with everything fetched, and says nothing of
partitions no member owns; ``/health`` showed lag 0 while 23,138 messages waited (issue 17,
finding 2). :class:`GroupLag` asks the broker instead: the committed offsets of the group (an
admin request to its coordinator) and the log start and end of every partition of its topics
(a consumer outside any group), so the figure is right whoever owns the partitions, and
whether or not anyone does. A partition the group never committed counts from its log start,
where the group would begin (``auto_offset_reset="earliest"``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import Gauge

CONSUMER_LAG = Gauge(
    "alpr_consumer_lag",
    "Messages of a partition after the consumer group's committed offset (log end minus "
    "committed offset), measured on the broker",
    ["group", "topic", "partition"],
)


@dataclass(frozen=True)
class PartitionLag:
    """One partition's log end and the group's committed offset (None: never committed)."""

    topic: str
    partition: int
    log_start: int
    log_end: int
    committed: int | None

    @property
    def lag(self) -> int:
        position = self.log_start if self.committed is None else self.committed
        return max(self.log_end - max(position, self.log_start), 0)


class LagView:
    """One group's lag per partition as this member knows it: the broker's last measure
    (:class:`GroupLag`), brought forward by the member's own commits in between, so the
    figure does not lag behind the member's progress by a measuring interval. Committed
    offsets and log ends only move forward: a measure that started before a commit cannot
    take the commit back."""

    def __init__(self, group: str) -> None:
        self.group = group
        self.partitions: dict[TopicPartition, PartitionLag] = {}
        #: ``time.monotonic()`` of the last measure; None before the first.
        self.measured_at: float | None = None

    def measured(self, lags: Iterable[PartitionLag]) -> None:
        for lag in lags:
            tp = TopicPartition(lag.topic, lag.partition)
            known = self.partitions.get(tp)
            if known is not None:
                lag = replace(
                    lag,
                    log_end=max(lag.log_end, known.log_end),
                    committed=_later(lag.committed, known.committed),
                )
            self._set(tp, lag)
        self.measured_at = time.monotonic()

    def committed(
        self, offsets: Mapping[TopicPartition, int], log_ends: Mapping[TopicPartition, int | None]
    ) -> None:
        """This member committed ``offsets``; ``log_ends`` are the ends it saw last."""
        for tp, offset in offsets.items():
            known = self.partitions.get(tp)
            if known is None:
                continue  # not measured yet: the first measure counts it
            end = log_ends.get(tp)
            self._set(tp, replace(
                known,
                committed=_later(offset, known.committed),
                log_end=max(known.log_end, end if end is not None else 0),
            ))  # fmt: skip

    @property
    def total(self) -> int | None:
        """Messages behind over every partition; None before the first measure."""
        if self.measured_at is None:
            return None
        return sum(lag.lag for lag in self.partitions.values())

    def _set(self, tp: TopicPartition, lag: PartitionLag) -> None:
        self.partitions[tp] = lag
        CONSUMER_LAG.labels(self.group, tp.topic, str(tp.partition)).set(lag.lag)


def _later(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


class GroupLag:
    """Measures the committed lag of consumer group ``group`` on ``topics`` (a
    :class:`LagView` keeps it and sets ``alpr_consumer_lag``)."""

    def __init__(self, bootstrap: str, group: str, topics: list[str]) -> None:
        if not topics:
            raise ValueError("topics must not be empty")
        self.bootstrap = bootstrap
        self.group = group
        self.topics = list(topics)
        self._admin: AIOKafkaAdminClient | None = None
        self._reader: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap, client_id=f"{self.group}-lag-admin"
        )
        reader = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            client_id=f"{self.group}-lag",
            enable_auto_commit=False,
        )
        try:
            await admin.start()
            await reader.start()
        except BaseException:
            await admin.close()
            await reader.stop()
            raise
        self._admin, self._reader = admin, reader

    async def stop(self) -> None:
        admin, reader, self._admin, self._reader = self._admin, self._reader, None, None
        if admin is not None:
            await admin.close()
        if reader is not None:
            await reader.stop()

    @property
    def started(self) -> bool:
        return self._admin is not None

    async def measure(self) -> list[PartitionLag]:
        """Every partition's lag now (raises ``KafkaError`` while Kafka cannot answer)."""
        admin, reader = self._admin, self._reader
        if admin is None or reader is None:
            raise RuntimeError("GroupLag.measure before start")
        # Fresh metadata each time: partitions added since the last measure are counted.
        described = await admin.describe_topics(self.topics)
        partitions = sorted(
            TopicPartition(topic["topic"], part["partition"])
            for topic in described
            if not topic["error_code"]
            for part in topic["partitions"]
        )
        if not partitions:
            return []
        committed = await admin.list_consumer_group_offsets(self.group, partitions=partitions)
        starts = await reader.beginning_offsets(partitions)
        ends = await reader.end_offsets(partitions)
        lags = []
        for tp in partitions:
            meta = committed.get(tp)
            offset = meta.offset if meta is not None and meta.offset >= 0 else None
            lags.append(PartitionLag(tp.topic, tp.partition, starts[tp], ends[tp], offset))
        return lags
