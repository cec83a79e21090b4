"""Reading and writing the rule topic with plain aiokafka clients (no consumer group).

Every worker reads the whole compacted topic from the start, so each holds the full rule
set whatever partitions it owns, and then follows it to apply changes without a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from rules.model import AnyRule
from rules.ruleset import encode_rule, rule_version

log = logging.getLogger(__name__)

Apply = Callable[[str, bytes | None], None]


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    await consumer.start()
    parts = consumer.partitions_for_topic(topic)
    if not parts:
        parts = await consumer._client._wait_on_metadata(topic)
    return [TopicPartition(topic, p) for p in sorted(parts or ())]


async def catch_up(consumer: AIOKafkaConsumer, topic: str, apply: Apply) -> None:
    """Assign every partition of ``topic``, read it from the start to its current end."""
    tps = await _partitions(consumer, topic)
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    ends = await consumer.end_offsets(tps)
    pending = {tp for tp in tps if ends[tp] > 0}
    while pending:
        batch = await consumer.getmany(timeout_ms=1000)
        for tp, messages in batch.items():
            for message in messages:
                apply(message.key.decode() if message.key else "", message.value)
            if await consumer.position(tp) >= ends[tp]:
                pending.discard(tp)


async def follow(consumer: AIOKafkaConsumer, apply: Apply) -> None:
    """Apply every later message, forever."""
    async for message in consumer:
        apply(message.key.decode() if message.key else "", message.value)


def new_consumer(bootstrap: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
        auto_offset_reset="earliest",
    )  # fmt: skip


async def ensure_rule_topic(bootstrap: str, topic: str) -> None:
    """Create the rule topic, compacted with one partition, unless it exists (the broker
    would otherwise auto-create it without compaction)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if topic in await admin.list_topics():
            return
        config = {"cleanup.policy": "compact", "max.message.bytes": str(8 * 1024 * 1024)}
        new = NewTopic(topic, num_partitions=1, replication_factor=1, topic_configs=config)
        try:
            await admin.create_topics([new])
        except TopicAlreadyExistsError:
            pass
    finally:
        await admin.close()


async def read_rule_topic(bootstrap: str, topic: str) -> dict[str, bytes]:
    """The current value of every rule on the topic, by name."""
    current: dict[str, bytes] = {}

    def apply(name: str, value: bytes | None) -> None:
        if value:
            current[name] = value
        else:
            current.pop(name, None)

    consumer = new_consumer(bootstrap)
    try:
        await catch_up(consumer, topic, apply)
    finally:
        await consumer.stop()
    return current


async def publish_rules(
    bootstrap: str, topic: str, rules: Iterable[AnyRule], prune: bool
) -> dict[str, list[str]]:
    """Publish rules whose version changed; with ``prune``, remove rules no longer given.

    Returns the names ``added``, ``changed``, ``unchanged`` and ``removed``.
    """
    from rules.ruleset import decode_rule

    await ensure_rule_topic(bootstrap, topic)
    current = {n: decode_rule(v)[1] for n, v in (await read_rule_topic(bootstrap, topic)).items()}
    report: dict[str, list[str]] = {"added": [], "changed": [], "unchanged": [], "removed": []}
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", max_request_size=8 * 1024 * 1024
    )
    await producer.start()
    try:
        given = set()
        for rule in rules:
            given.add(rule.name)
            before = current.get(rule.name)
            if before == rule_version(rule):
                report["unchanged"].append(rule.name)
                continue
            await producer.send_and_wait(topic, key=rule.name.encode(), value=encode_rule(rule))
            report["added" if before is None else "changed"].append(rule.name)
        for name in sorted(set(current) - given) if prune else ():
            await producer.send_and_wait(topic, key=name.encode(), value=None)
            report["removed"].append(name)
    finally:
        await producer.stop()
    return report
