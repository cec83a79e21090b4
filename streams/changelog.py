"""A compacted changelog topic behind in-memory state kept per partition.

For state that lives beside a batch consumer (the router's seen event ids) rather than in a
Faust table: the topic has one partition per partition of the input topic, a worker writes
the changelog partition of each input partition it owns, and a worker that takes an input
partition over reads its changelog partition up to the end before it handles a message of
it. This is what Faust does for its tables, at the scale of one topic and one dict.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

log = logging.getLogger(__name__)

#: Applies one record read back: partition, offset, key, value (None for a tombstone).
Apply = Callable[[int, int, bytes | None, bytes | None], None]


class ChangelogMismatch(RuntimeError):
    """The changelog topic cannot hold the state of every input partition."""


async def topic_partitions(admin: AIOKafkaAdminClient, topics: list[str]) -> dict[str, int]:
    """How many partitions each of ``topics`` that exists has. Existence is asked first,
    without naming them: a metadata request naming a topic may create it, uncompacted."""
    existing = set(await admin.list_topics())
    wanted = [topic for topic in topics if topic in existing]
    counts: dict[str, int] = {}
    for described in await admin.describe_topics(wanted) if wanted else []:
        if described.get("error_code", 0) == 0 and described.get("partitions"):
            counts[described["topic"]] = len(described["partitions"])
    return counts


async def ensure_changelog(
    bootstrap: str, input_topic: str, changelog_topic: str, replication: int
) -> int:
    """Create ``changelog_topic`` (compacted) with as many partitions as ``input_topic``;
    refuse one that exists with fewer. Returns the partition count."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        counts = await topic_partitions(admin, [input_topic, changelog_topic])
        partitions = counts.get(input_topic)
        if partitions is None:
            raise ChangelogMismatch(f"input topic {input_topic} does not exist")
        existing = counts.get(changelog_topic)
        if existing is None:
            topic = NewTopic(
                changelog_topic,
                num_partitions=partitions,
                replication_factor=replication,
                topic_configs={"cleanup.policy": "compact"},
            )
            try:
                await admin.create_topics([topic])
            except TopicAlreadyExistsError:
                pass  # another worker created it meanwhile
            existing = partitions
        if existing < partitions:
            raise ChangelogMismatch(
                f"changelog topic {changelog_topic} has {existing} partitions but "
                f"{input_topic} has {partitions}: add partitions to the changelog "
                f"(kafka-topics --alter --partitions {partitions}) or delete it"
            )
        return partitions
    finally:
        await admin.close()


async def read_changelog(
    bootstrap: str,
    topic: str,
    starts: Mapping[int, int | None],
    apply: Apply,
    poll_ms: int = 500,
) -> dict[int, int]:
    """Read each partition of ``starts`` from its start offset (None: the beginning) up to
    the end it had when called, giving every record to ``apply``. Returns the end offsets.

    Waits out a broker that does not answer (aiokafka retries); it returns only once every
    partition was read to its end.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=50_000,
    )
    await consumer.start()
    started, count = time.monotonic(), 0
    try:
        tps = [TopicPartition(topic, p) for p in starts]
        consumer.assign(tps)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(tps)
        for tp in tps:
            start = starts[tp.partition]
            if start is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, start)
        remaining = {tp for tp in tps if ends[tp] > 0}
        remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
        while remaining:
            fetched = await consumer.getmany(*remaining, timeout_ms=poll_ms)
            for tp, records in fetched.items():
                for record in records:
                    if record.offset < ends[tp]:
                        apply(tp.partition, record.offset, record.key, record.value)
                        count += 1
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        if count:
            log.info(
                "%s: %d records of %d partition(s) restored in %.1fs",
                topic, count, len(tps), time.monotonic() - started,
            )  # fmt: skip
        return {tp.partition: ends[tp] for tp in tps}
    finally:
        await consumer.stop()
