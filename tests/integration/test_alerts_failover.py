"""Two workers in one group; one is killed with SIGKILL inside a ``rate`` rule's window.

Two plates whose reads land on different partitions each get two reads while both workers
run, so each worker holds the rule state of one plate. Those reads all travel on raw
partition 1; the third read of each plate travels on raw partition 0, which the victim's
router owns (group ``<app id>-router``) and has therefore never committed. The victim is
killed, the third reads are produced while the groups have not noticed yet, and the
survivor must take over the partitions (router, rule feed and Faust's), restore the
victim's plate state from the changelog, read the raw partition from its start, and raise
each plate's alert exactly once, counting three reads.

Before ``ops.faust_fixes`` the survivor lost those third reads (see that module).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.partitioner import murmur2

from agents.alerting.rule_topic import publish_rules
from config.settings import Settings
from ops.worker import WorkerProcess, free_port
from rules.model import RateRule
from streams.codec import SchemaCache, default_schema_cache
from tests.integration.conftest import require_port
from tests.integration.test_alerts_worker import hook  # noqa: F401  (fixture)
from tests.support.isolated import IsolatedRun
from tests.support.streams import create_topics, encode_plate_event

PARTITIONS = 2
PLATES = ("FA11AAA", "FB22BBB")  # murmur2: partitions 0 and 1 of a two-partition topic
#: Faust reads these from the environment: a dead member is noticed within seconds.
FAST_GROUP = {"BROKER_SESSION_TIMEOUT": "10", "BROKER_HEARTBEAT_INTERVAL": "1"}


def partition_of(key: str) -> int:
    """The partition the default partitioner gives ``key`` on a two-partition topic."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % PARTITIONS


def event_id_on(partition: int) -> str:
    while True:
        event_id = str(uuid.uuid4())
        if partition_of(event_id) == partition:
            return event_id


async def send_reads(bootstrap: str, topic: str, cache: SchemaCache, partition: int) -> None:
    """One read of each plate, keyed by an event id that lands on raw ``partition``."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for plate in PLATES:
            event_id = event_id_on(partition)
            value = encode_plate_event(cache, f"{topic}-value", event_id=event_id, plate_text=plate)
            await producer.send_and_wait(topic, value, key=event_id.encode())
    finally:
        await producer.stop()


async def wait_for_sightings(bootstrap: str, topic: str, count: int, timeout: float) -> None:
    """Until the changelog holds ``count`` sightings for every plate of ``PLATES``."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    seen: dict[str, int] = {}
    deadline = time.monotonic() + timeout
    try:
        while any(seen.get(p, 0) < count for p in PLATES):
            assert time.monotonic() < deadline, f"changelog holds {seen}"
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    if record.key and record.value:
                        seen[json.loads(record.key)] = len(json.loads(record.value)["sightings"])
    finally:
        await consumer.stop()


async def owner_of(bootstrap: str, group: str, topic: str, partition: int) -> str:
    """The member id of the group member assigned ``topic``'s ``partition``, once the group
    is stable (a member that has just joined has no assignment yet)."""
    deadline = time.monotonic() + 60
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            (described,) = await admin.describe_consumer_groups([group])
        finally:
            await admin.close()
        (group_row,) = described.groups
        state, members = group_row[2], group_row[5]
        if state == "Stable" and members and all(m[4] for m in members):
            for member_id, _client, _host, _metadata, assignment in members:
                decoded = ConsumerProtocolMemberAssignment.decode(assignment)
                if any(t == topic and partition in parts for t, parts in decoded.assignment):
                    return str(member_id)
        assert time.monotonic() < deadline, f"nobody in {group} owns {topic}[{partition}]"
        await asyncio.sleep(0.5)


def member_id_of(worker: WorkerProcess, group: str) -> str:
    """The member id ``worker`` last joined ``group`` with (its log says)."""
    pattern = rf"Joined group '{re.escape(group)}' \(generation \d+\) with member_id (\S+)"
    joined = re.findall(pattern, worker.log_path.read_text(errors="replace"))
    return joined[-1] if joined else ""


async def test_survivor_fires_the_rate_alert_once_with_the_right_count(
    settings: Settings,
    unique: str,
    tmp_path: Path,
    hook: tuple[str, list[tuple[dict[str, str], bytes]]],  # noqa: F811
) -> None:
    assert {partition_of(p) for p in PLATES} == {0, 1}
    bootstrap = settings.kafka.bootstrap_servers
    require_port(bootstrap, "Kafka")
    require_port(settings.schema_registry.url, "schema registry")
    url, received = hook
    run = IsolatedRun(tag=unique)
    app_id = run.app_id
    names = {t: run.topic(t) for t in ("raw", "detected", "dlq", "cameras", "rules", "alerts")}
    env = {
        **run.env(partitions=PARTITIONS, alerts=True),
        # the store projections read the same reads and are not what this test is about
        "ALPR_PROJECTIONS__ENABLE_PG": "false",
        "ALPR_PROJECTIONS__ENABLE_ES": "false",
        **FAST_GROUP,
    }
    rule = RateRule(
        type="rate", name="circling", count=3, window=600,
        actions=[{"channel": "webhook", "url": url}],  # type: ignore[list-item]
    )  # fmt: skip
    cache = default_schema_cache()
    workers = [WorkerProcess(tmp_path / name, free_port(), env=env) for name in ("one", "two")]
    try:
        await create_topics(
            bootstrap, [names[t] for t in ("raw", "detected", "dlq", "alerts")], PARTITIONS
        )
        await publish_rules(bootstrap, names["rules"], [rule], prune=True)
        for worker in workers:
            worker.start()
        await asyncio.gather(
            *(asyncio.to_thread(w.wait_ready, 150.0, 1, ("router", "rule-feed")) for w in workers)
        )
        for _ in range(2):
            await send_reads(bootstrap, names["raw"], cache, partition=1)
        changelog = f"{app_id}-rule_state_by_plate-changelog"
        await wait_for_sightings(bootstrap, changelog, 2, timeout=60)
        assert received == []
        router_group = f"{app_id}-router"
        owner = await owner_of(bootstrap, router_group, names["raw"], 0)
        (victim,) = [w for w in workers if member_id_of(w, router_group) == owner]
        (survivor,) = [w for w in workers if w is not victim]
        assert victim.process is not None
        os.killpg(victim.process.pid, signal.SIGKILL)
        victim.process.wait(timeout=10)
        await send_reads(bootstrap, names["raw"], cache, partition=0)
        deadline = time.monotonic() + 120
        while len(received) < len(PLATES) and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        assert len(received) == len(PLATES), survivor.log_tail()
        await asyncio.sleep(5)  # a duplicate would come now
    finally:
        for worker in workers:
            worker.stop()
        await run.drop(bootstrap, settings.schema_registry.url)
    alerts = [json.loads(body) for _, body in received]
    assert sorted(a["plate"] for a in alerts) == sorted(PLATES)
    assert all(a["details"]["count"] == "3" and len(a["event_ids"]) == 3 for a in alerts)
