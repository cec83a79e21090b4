"""Reading and writing the rule topic with plain aiokafka clients (no consumer group).

Every worker reads the whole compacted topic from the start, so each holds the full rule
set whatever partitions it owns, and then follows it to apply changes without a restart.

Compaction keeps only the latest version of each rule, so every published change is also
appended to ``<topic>.history`` (never compacted, kept forever): ``alpr rules history NAME``
lists a rule's versions from there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import NamedTuple

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from config.settings import get_settings
from rules.model import AnyRule
from rules.ruleset import encode_rule, rule_version

log = logging.getLogger(__name__)

Apply = Callable[[str, bytes | None], None]
#: Header of a history record naming who published that version.
BY_HEADER = "alpr-by"


class RuleVersion(NamedTuple):
    """One published version of a rule: when, the encoded rule (None: removed), by whom."""

    published: float
    value: bytes | None
    by: str | None


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    await consumer.start()
    parts = consumer.partitions_for_topic(topic)
    if not parts:
        parts = await consumer._client._wait_on_metadata(topic)
    return [TopicPartition(topic, p) for p in sorted(parts or ())]


async def _read_to_end(
    consumer: AIOKafkaConsumer, topic: str, on_record: Callable[[ConsumerRecord], None]
) -> None:
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
                on_record(message)
            if await consumer.position(tp) >= ends[tp]:
                pending.discard(tp)


async def catch_up(consumer: AIOKafkaConsumer, topic: str, apply: Apply) -> None:
    """Apply every message of ``topic`` from the start to its current end."""
    await _read_to_end(consumer, topic, lambda m: apply(m.key.decode() if m.key else "", m.value))


async def follow(consumer: AIOKafkaConsumer, apply: Apply) -> None:
    """Apply every later message, forever."""
    async for message in consumer:
        apply(message.key.decode() if message.key else "", message.value)


def new_consumer(bootstrap: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
        auto_offset_reset="earliest",
    )  # fmt: skip


_LARGE = {"max.message.bytes": str(8 * 1024 * 1024)}


def history_topic(topic: str) -> str:
    """The topic that keeps every published version of the rules of ``topic``."""
    return f"{topic}.history"


async def ensure_rule_topic(bootstrap: str, topic: str) -> None:
    """Create the rule topic (compacted, one partition) and its history topic (kept
    forever) unless they exist: the broker would otherwise auto-create them with its own
    cleanup and retention."""
    wanted = {
        topic: {"cleanup.policy": "compact", **_LARGE},
        history_topic(topic): {"cleanup.policy": "delete", "retention.ms": "-1", **_LARGE},
    }
    # As many replicas as the project's other topics (3 on a three-broker cluster).
    replicas = get_settings().kafka.replication_factor
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        for name, config in wanted.items():
            if name in existing:
                continue
            new = NewTopic(
                name, num_partitions=1, replication_factor=replicas, topic_configs=config
            )
            try:
                await admin.create_topics([new])
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()


async def read_history(bootstrap: str, topic: str, name: str) -> list[RuleVersion]:
    """Every published version of rule ``name``, oldest first."""
    versions: list[RuleVersion] = []

    def keep(record: ConsumerRecord) -> None:
        if record.key == name.encode():
            headers = dict(record.headers or ())
            by = headers.get(BY_HEADER)
            versions.append(
                RuleVersion(
                    record.timestamp / 1000.0,
                    record.value or None,
                    by.decode("utf-8", "replace") if by else None,
                )
            )

    consumer = new_consumer(bootstrap)
    try:
        await _read_to_end(consumer, history_topic(topic), keep)
    finally:
        await consumer.stop()
    return versions


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
    bootstrap: str, topic: str, rules: Iterable[AnyRule], prune: bool, by: str | None = None
) -> dict[str, list[str]]:
    """Publish rules whose version changed; with ``prune``, remove rules no longer given.
    ``by`` (who publishes: a key's owner, a system user) is kept with each version in the
    history.

    Returns the names ``added``, ``changed``, ``unchanged``, ``removed`` and ``kept``
    (published before, not given, left in force because ``prune`` is off).
    """
    from rules.ruleset import decode_rule

    await ensure_rule_topic(bootstrap, topic)
    current = {n: decode_rule(v)[1] for n, v in (await read_rule_topic(bootstrap, topic)).items()}
    report: dict[str, list[str]] = {
        "added": [], "changed": [], "unchanged": [], "removed": [], "kept": []
    }  # fmt: skip
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        max_request_size=8 * 1024 * 1024,
        **get_settings().kafka.producer_options(),
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
            await _send_version(producer, topic, rule.name, encode_rule(rule), by)
            report["added" if before is None else "changed"].append(rule.name)
        for name in sorted(set(current) - given):
            if not prune:
                report["kept"].append(name)
                continue
            await _send_version(producer, topic, name, None, by)
            report["removed"].append(name)
    finally:
        await producer.stop()
    return report


async def _send_version(
    producer: AIOKafkaProducer, topic: str, name: str, value: bytes | None, by: str | None
) -> None:
    """Publish one rule version (None: removal), first to the history: a crash between the
    two sends leaves a version in the history that the next publish sends again."""
    headers = [(BY_HEADER, by.encode())] if by else None
    await producer.send_and_wait(
        history_topic(topic), key=name.encode(), value=value or b"", headers=headers
    )
    await producer.send_and_wait(topic, key=name.encode(), value=value)
