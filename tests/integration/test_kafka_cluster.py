"""The three-broker cluster of ``ops/stack up --brokers 3`` loses no acknowledged record when a
broker is killed mid-production (issue 17: the sites' reference layout).

A private cluster on free ports with folders of its own (the shared one-broker stack other
tests use is not touched), small heaps: a topic of three replicas (``min.insync.replicas=2``
from the brokers' defaults), a producer with the project's settings (``acks=all``,
idempotent), and the leader of partition 0 SIGKILLed a third of the way through. Then every
message id whose send was acknowledged must be read back, exactly once; the cluster must have
gone on acknowledging sends after the kill, and the two brokers left must stop cleanly.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from config.settings import Settings
from ops.private_stack import PrivateKafkaCluster

PARTITIONS = 6
MESSAGES = 6_000
#: Sends per tick and the pause between ticks: production lasts a few seconds, the kill
#: lands in the middle of it, and the rest is sent while the cluster elects new leaders.
PER_TICK = 100
TICK_S = 0.1
KILL_AFTER = MESSAGES // 3


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateKafkaCluster]:
    cluster = PrivateKafkaCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()


def _service(node: int) -> str:
    return "kafka" if node == 1 else f"kafka-{node}"


async def _create_topic(bootstrap: str, topic: str) -> dict[int, Any]:
    """The topic with three replicas per partition; its partitions' metadata."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, PARTITIONS, replication_factor=3)])
        for _ in range(50):  # the leaders are elected a moment after the creation
            (described,) = await admin.describe_topics([topic])
            partitions = {p["partition"]: p for p in described["partitions"]}
            if len(partitions) == PARTITIONS and all(p["leader"] >= 0 for p in partitions.values()):
                return partitions
            await asyncio.sleep(0.2)
        raise AssertionError(f"{topic}: no leader for every partition: {described}")
    finally:
        await admin.close()


async def _produce(
    bootstrap: str, topic: str, options: dict[str, Any], kill: Any
) -> tuple[set[str], set[str], set[str]]:
    """Send MESSAGES ids, calling ``kill`` after KILL_AFTER; the acknowledged ids, the
    failed ones and the ids sent after the kill."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, **options)
    await producer.start()
    sends: dict[str, asyncio.Future[Any]] = {}
    after_kill: set[str] = set()
    try:
        for sent in range(MESSAGES):
            if sent == KILL_AFTER:
                kill()
            message_id = uuid.uuid4().hex
            if sent > KILL_AFTER:
                after_kill.add(message_id)
            sends[message_id] = await producer.send(
                topic, key=message_id.encode(), value=message_id.encode()
            )
            if sent % PER_TICK == PER_TICK - 1:
                await asyncio.sleep(TICK_S)
        results = await asyncio.gather(*sends.values(), return_exceptions=True)
    finally:
        await producer.stop()
    acked = {i for i, r in zip(sends, results, strict=True) if not isinstance(r, BaseException)}
    return acked, set(sends) - acked, after_kill


async def _read_all(bootstrap: str, topic: str) -> Counter[str]:
    """Every id in the topic, with how often it is there."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    seen: Counter[str] = Counter()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        end = await consumer.end_offsets(partitions)
        deadline = time.monotonic() + 60
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            assert time.monotonic() < deadline, "the topic was not read to its end in 60 s"
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for records in batches.values():
                seen.update(r.value.decode() for r in records if r.value is not None)
    finally:
        await consumer.stop()
    return seen


async def test_a_broker_killed_mid_production_loses_no_acknowledged_record(
    cluster: PrivateKafkaCluster, settings: Settings
) -> None:
    options = settings.kafka.producer_options()
    assert options == {"acks": "all", "enable_idempotence": True}  # the project's defaults
    bootstrap = cluster.bootstrap_servers
    topic = f"alpr.test.replicated-{uuid.uuid4().hex[:8]}"
    partitions = await _create_topic(bootstrap, topic)
    assert all(len(p["replicas"]) == 3 for p in partitions.values())
    victim = _service(partitions[0]["leader"])

    began = time.monotonic()
    acked, failed, after_kill = await _produce(
        bootstrap, topic, options, kill=lambda: cluster.kill(victim)
    )
    produced_s = time.monotonic() - began
    seen = await _read_all(bootstrap, topic)

    lost = acked - set(seen)
    duplicated = {i for i, n in seen.items() if n > 1}
    print(
        f"\nkilled {victim} after {KILL_AFTER} of {MESSAGES} sends; produced in "
        f"{produced_s:.1f}s: {len(acked)} acknowledged, {len(failed)} failed, "
        f"{len(lost)} lost, {len(duplicated)} duplicated"
    )
    assert not lost, f"{len(lost)} acknowledged messages lost, e.g. {sorted(lost)[:5]}"
    assert not duplicated, f"{len(duplicated)} messages written twice despite idempotence"
    assert set(seen) <= acked | failed  # nothing that was never sent
    assert acked & after_kill, "no send was acknowledged after the broker died"

    survivors = [n for n in (1, 2, 3) if _service(n) != victim]
    cluster.stop(*map(_service, survivors))
    for node in survivors:
        log = (cluster.layout.logs / f"{_service(node)}.log").read_text(errors="replace")
        assert f"[BrokerServer id={node}] shut down completed" in log, f"broker {node} was killed"
        # The last line of a broker's own shutdown, never reached by a SIGKILL.
        assert f"App info kafka.server for {node} unregistered" in log
