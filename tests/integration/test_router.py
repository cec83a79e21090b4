"""The router end to end: a real Faust worker, the real broker and registry.

10,000 valid events and 1,000 bad ones go in; exactly 10,000 reads come out, every bad one
is a dead letter with the right reason, and replaying the dead letters (``alpr dlq replay``)
adds no read: each original fails again with its reason and its attempt count goes up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sqlite3
import struct
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from config.settings import Settings
from ops.worker import WorkerProcess, free_port
from streams.codec import AvroSchema, SchemaCache, decode, default_schema_cache
from streams.registry import SchemaRegistryClient
from tables.dedupe import DiskSeenEvents, SeenEvent, encode_entry, encode_key
from tests.integration.conftest import require_port
from tests.support.isolated import IsolatedRun
from tests.support.streams import (
    create_topics,
    encode_plate_event,
    plate_event_datum,
)

VALID = 10_000
BAD = {
    "truncated": 150,
    "unknown_schema": 150,
    "wrong_magic": 150,
    "json_payload": 150,
    "out_of_range": 150,
    "empty_plate": 149,
    "oversized": 1,
    "duplicate": 100,
}
BIG = 8 * 1024 * 1024
BIN = Path(sys.executable).parent


@dataclass
class Topics:
    raw: str
    detected: str
    dlq: str
    cameras: str

    @property
    def prefix(self) -> str:
        """``test.<unique>.``: every topic of the test, its workers' own included."""
        return self.raw.removesuffix("raw")

    @property
    def all(self) -> list[str]:
        return [self.raw, self.detected, self.dlq, self.cameras]

    def env(self) -> dict[str, str]:
        return {
            "ALPR_TOPICS__RAW": self.raw,
            "ALPR_TOPICS__DETECTED": self.detected,
            "ALPR_TOPICS__DLQ": self.dlq,
            "ALPR_TOPICS__CAMERAS": self.cameras,
            # The other stages on topics of their own: none reads another run's messages.
            "ALPR_TOPICS__CORRECTED": f"{self.prefix}corrected",
            "ALPR_RULES__TOPIC": f"{self.prefix}rules",
            "ALPR_RULES__ALERTS_TOPIC": f"{self.prefix}alerts",
        }


@dataclass
class Workload:
    """What goes into the raw topic and what each bad message must become."""

    messages: list[tuple[bytes, bytes]] = field(default_factory=list)
    valid_ids: set[str] = field(default_factory=set)
    reason_by_payload: dict[bytes, str] = field(default_factory=dict)


@pytest.fixture
async def topics(settings: Settings, unique: str) -> AsyncIterator[Topics]:
    require_port(settings.kafka.bootstrap_servers, "Kafka")
    require_port(settings.schema_registry.url, "schema registry")
    names = Topics(*(f"test.{unique}.{t}" for t in ("raw", "detected", "dlq", "cameras")))
    large = {"max.message.bytes": str(BIG)}
    await create_topics(
        settings.kafka.bootstrap_servers,
        names.all,
        partitions=settings.kafka.partitions,
        configs={names.raw: large, names.dlq: large, names.cameras: {"cleanup.policy": "compact"}},
    )
    yield names
    # Its topics and those the workers' other stages made for themselves (rules, alerts, ...).
    await IsolatedRun("test", unique).drop(settings.kafka.bootstrap_servers)
    registry = SchemaRegistryClient(settings.schema_registry.url)
    for topic in names.all:
        registry.delete_subject(f"{topic}-value", permanent=True)


def alpr_env(topics: Topics, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        **topics.env(),
        "PRODUCER_MAX_REQUEST_SIZE": str(BIG * 2),
        # the stores' projections are not under test here and would write these reads
        "ALPR_PROJECTIONS__ENABLE_PG": "false",
        "ALPR_PROJECTIONS__ENABLE_ES": "false",
        **extra,
    }


@pytest.fixture
def worker(topics: Topics, tmp_path: Path) -> Iterator[int]:
    """A real ``faust -A alpr worker`` on the test's topics; its web port."""
    with WorkerProcess(tmp_path, free_port(), env=alpr_env(topics)) as proc:
        # Ready and holding partitions: a member of an earlier run may delay the assignment.
        proc.wait_ready(timeout=120)
        yield int(proc.web_url.rsplit(":", 1)[1])


def assigned_partitions(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return int(json.load(response)["assigned_partitions"])
    except OSError:
        return 0


def build_workload(cache: SchemaCache, raw_subject: str) -> Workload:
    rnd = random.Random(1234)
    work = Workload()
    originals: list[tuple[bytes, bytes]] = []
    for _ in range(VALID):
        event_id = str(uuid.uuid4())
        payload = encode_plate_event(cache, raw_subject, event_id=event_id)
        work.valid_ids.add(event_id)
        originals.append((event_id.encode(), payload))
    work.messages += originals

    def bad(reason: str, payload: bytes) -> None:
        work.messages.append((str(uuid.uuid4()).encode(), payload))
        work.reason_by_payload[payload] = reason

    def valid_bytes(**overrides: Any) -> bytes:
        return encode_plate_event(cache, raw_subject, **overrides)

    for _ in range(BAD["truncated"]):
        good = valid_bytes()
        bad("truncated", good[: rnd.randrange(6, len(good) - 1)])
    for _ in range(BAD["unknown_schema"]):
        bad("unknown_schema", b"\x00" + struct.pack(">I", 2_000_000_000) + valid_bytes()[5:])
    for _ in range(BAD["wrong_magic"]):
        bad("wrong_magic", b"\x01" + valid_bytes()[1:])
    for _ in range(BAD["json_payload"]):
        datum = plate_event_datum()
        bad(
            "json_payload", json.dumps({**datum, "captured_at": str(datum["captured_at"])}).encode()
        )
    for _ in range(BAD["out_of_range"]):
        bad("out_of_range", valid_bytes(plate_confidence=1.7))
    for _ in range(BAD["empty_plate"]):
        bad("empty_plate", valid_bytes(plate_text=""))
    bad("oversized", valid_bytes()[:5] + rnd.randbytes(2 * 1024 * 1024))
    for key, payload in rnd.sample(originals, BAD["duplicate"]):
        work.messages.append((key, payload))  # same key: the same partition as the original
        work.reason_by_payload[payload] = "duplicate"
    return work


async def produce(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, max_request_size=BIG * 2, linger_ms=5, acks="all"
    )
    await producer.start()
    try:
        for key, value in messages:
            await producer.send(topic, value=value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


class Collector:
    """Reads a topic from the start in the background and decodes every record."""

    def __init__(self, bootstrap: str, topic: str, record: str) -> None:
        self.consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            max_partition_fetch_bytes=BIG * 2,
            fetch_max_bytes=BIG * 4,
        )
        self.schema = AvroSchema.named(record)
        self.records: list[dict[str, Any]] = []
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Collector:
        await self.consumer.start()
        self.task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.consumer.stop()

    async def _run(self) -> None:
        cache = default_schema_cache()
        async for record in self.consumer:
            self.records.append(decode(record.value, self.schema, cache))

    async def wait_for(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.records) < count:
            assert self.task is not None and not self.task.done(), self.task
            assert time.monotonic() < deadline, f"{len(self.records)} of {count} records"
            await asyncio.sleep(0.2)


def dead_letter_reasons(letters: list[dict[str, Any]], work: Workload) -> Counter[str]:
    for letter in letters:
        assert letter["reason"] == work.reason_by_payload[letter["payload"]], letter["message"]
        assert letter["topic"].endswith(".raw") and letter["offset"] >= 0
        assert letter["key"] and letter["timestamp"] is not None
    return Counter(letter["reason"] for letter in letters)


def metric(port: int, sample: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    lines = [line for line in text.splitlines() if line.startswith(sample + " ")]
    assert lines, f"{sample} not exported"
    return float(lines[0].split()[-1])


def replay(topics: Topics) -> str:
    done = subprocess.run(
        [str(BIN / "alpr"), "dlq", "replay"],
        env=alpr_env(topics),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


async def test_ten_thousand_reads_every_bad_one_dead_lettered_and_replay_adds_none(
    settings: Settings, topics: Topics, worker: int
) -> None:
    bootstrap = settings.kafka.bootstrap_servers
    work = build_workload(default_schema_cache(), f"{topics.raw}-value")
    bad_total = sum(BAD.values())
    async with (
        Collector(bootstrap, topics.detected, "PlateRead") as reads,
        Collector(bootstrap, topics.dlq, "DeadLetter") as letters,
    ):
        await produce(bootstrap, topics.raw, work.messages)
        await reads.wait_for(VALID, timeout=240)
        await letters.wait_for(bad_total, timeout=120)
        await asyncio.sleep(3)  # anything extra would show up now
        assert len(reads.records) == VALID
        assert {r["event_id"] for r in reads.records} == work.valid_ids
        assert all(r["plate"] == "AB12CDE" and r["search_key"] == "A812C0E" for r in reads.records)
        assert dead_letter_reasons(letters.records, work) == Counter(BAD)
        assert all(letter["attempts"] == 1 for letter in letters.records)
        # Several bad messages may carry the same bytes: compare (payload, first failure) pairs.
        first_failures = Counter(
            (letter["payload"], letter["first_failed_at"]) for letter in letters.records
        )

        assert f"replayed {bad_total} messages" in replay(topics)
        await letters.wait_for(2 * bad_total, timeout=120)
        await asyncio.sleep(3)
        assert len(reads.records) == VALID
        replayed = letters.records[bad_total:]
        assert len(replayed) == bad_total
        assert dead_letter_reasons(replayed, work) == Counter(BAD)
        assert all(letter["attempts"] == 2 for letter in replayed)
        assert (
            Counter((letter["payload"], letter["first_failed_at"]) for letter in replayed)
            == first_failures
        )

    detected_out = f'alpr_events_out_total{{topic="{topics.detected}"}}'
    assert metric(worker, detected_out) == VALID
    duplicates = 'alpr_dead_letters_total{reason="duplicate",stage="dedupe"}'
    assert metric(worker, duplicates) == 2 * BAD["duplicate"]
    assert metric(worker, "alpr_router_latency_seconds_count") == VALID + 2 * bad_total


async def test_a_router_killed_and_replaced_still_knows_what_it_routed(
    settings: Settings, topics: Topics, tmp_path: Path, unique: str
) -> None:
    """The dedupe state comes back from its changelog: after a SIGKILL, the next worker
    dead-letters the edge's second send of an event routed before, and routes a new one."""
    bootstrap = settings.kafka.bootstrap_servers
    app_id = IsolatedRun("test-router", unique).app_id
    env = alpr_env(topics, ALPR_FAUST__APP_ID=app_id)
    cache = default_schema_cache()
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    sent_twice = encode_plate_event(cache, f"{topics.raw}-value", event_id=first)
    try:
        async with (
            Collector(bootstrap, topics.detected, "PlateRead") as reads,
            Collector(bootstrap, topics.dlq, "DeadLetter") as letters,
        ):
            killed = WorkerProcess(tmp_path / "killed", free_port(), env=env).start()
            try:
                await asyncio.to_thread(killed.wait_ready, 120, 1, ("router",))
                await produce(bootstrap, topics.raw, [(first.encode(), sent_twice)])
                await reads.wait_for(1, timeout=60)
            finally:
                assert killed.process is not None
                os.killpg(killed.process.pid, signal.SIGKILL)
                killed.process.wait()

            with WorkerProcess(tmp_path / "next", free_port(), env=env) as replacement:
                await asyncio.to_thread(replacement.wait_ready, 120, 1, ("router",))
                again = [
                    (first.encode(), sent_twice),
                    (second.encode(), encode_plate_event(cache, event_id=second)),
                ]
                await produce(bootstrap, topics.raw, again)
                await reads.wait_for(2, timeout=60)
                await letters.wait_for(1, timeout=60)
                await asyncio.sleep(3)  # anything extra would show up now
                health = replacement.health()
        assert [r["event_id"] for r in reads.records] == [first, second]
        assert [(d["reason"], d["event_id"]) for d in letters.records] == [("duplicate", first)]
        assert health is not None and health["consumers"]["router"]["group"] == f"{app_id}-router"
    finally:
        await IsolatedRun("test-router", unique).drop(bootstrap)


def dedupe_file(workdir: Path, app_id: str) -> Path:
    """Where a worker in ``workdir`` keeps its dedupe state (the default dedupe_dir)."""
    return workdir / "worker-data" / "router-dedupe" / f"{app_id}-event_ids_seen-changelog.sqlite3"


async def test_a_router_restarted_on_its_state_file_reads_only_the_changelog_written_since(
    settings: Settings, topics: Topics, tmp_path: Path, unique: str
) -> None:
    """Killed and started again in the same data directory, the router knows what it routed
    from its file and reads only what was written to the changelog while it was down."""
    bootstrap = settings.kafka.bootstrap_servers
    app_id = IsolatedRun("test-router", unique).app_id
    changelog = f"{app_id}-event_ids_seen-changelog"
    env = alpr_env(topics, ALPR_FAUST__APP_ID=app_id, ALPR_ROUTER__DEDUPE_STORE="disk")
    cache = default_schema_cache()
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    events = {
        event_id: encode_plate_event(cache, f"{topics.raw}-value", event_id=event_id)
        for event_id in (first, second)
    }
    try:
        async with (
            Collector(bootstrap, topics.detected, "PlateRead") as reads,
            Collector(bootstrap, topics.dlq, "DeadLetter") as letters,
        ):
            node = WorkerProcess(tmp_path / "node", free_port(), env=env).start()
            try:
                await asyncio.to_thread(node.wait_ready, 120, 1, ("router",))
                await produce(bootstrap, topics.raw, [(first.encode(), events[first])])
                await reads.wait_for(1, timeout=60)
                await wait_stored(dedupe_file(tmp_path / "node", app_id), 1)
            finally:
                assert node.process is not None
                os.killpg(node.process.pid, signal.SIGKILL)
                node.process.wait()

            # While it is down, another worker routes `second` from raw partition 0.
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
            await producer.start()
            try:
                entry = SeenEvent(time.time(), partition=0)  # no raw offset: not a redelivery
                await producer.send_and_wait(
                    changelog, encode_entry(entry), key=encode_key(second), partition=0
                )
            finally:
                await producer.stop()

            with WorkerProcess(tmp_path / "node", free_port(), env=env) as restarted:
                await asyncio.to_thread(restarted.wait_ready, 120, 1, ("router",))
                again = [(first.encode(), events[first])]
                await produce(bootstrap, topics.raw, again)
                await produce_to(bootstrap, topics.raw, 0, second.encode(), events[second])
                await letters.wait_for(2, timeout=60)
                await asyncio.sleep(3)  # anything extra would show up now
                restored = restarted.log_path.read_text(errors="replace")
        assert f"{changelog}: 1 records of" in restored  # the tail only, not `first`
        assert [r["event_id"] for r in reads.records] == [first]
        assert sorted((d["reason"], d["event_id"]) for d in letters.records) == sorted(
            [("duplicate", first), ("duplicate", second)]
        )
    finally:
        await IsolatedRun("test-router", unique).drop(bootstrap)


async def test_a_state_file_ahead_of_its_changelog_is_restored_from_the_changelog(
    settings: Settings, topics: Topics, tmp_path: Path, unique: str
) -> None:
    """A file whose positions lie past the changelog's end (the topic was recreated) is not
    the changelog's state: its entries are dropped, so an event it lists is routed."""
    bootstrap = settings.kafka.bootstrap_servers
    app_id = IsolatedRun("test-router", unique).app_id
    changelog = f"{app_id}-event_ids_seen-changelog"
    listed = str(uuid.uuid4())
    stale = DiskSeenEvents(dedupe_file(tmp_path, app_id), changelog)
    stale.written(
        {listed: SeenEvent(time.time(), partition=0, offset=5)},
        {p: 99 for p in range(settings.kafka.partitions)},
    )
    stale.close()
    env = alpr_env(topics, ALPR_FAUST__APP_ID=app_id, ALPR_ROUTER__DEDUPE_STORE="disk")
    payload = encode_plate_event(default_schema_cache(), f"{topics.raw}-value", event_id=listed)
    try:
        async with Collector(bootstrap, topics.detected, "PlateRead") as reads:
            with WorkerProcess(tmp_path, free_port(), env=env) as worker:
                await asyncio.to_thread(worker.wait_ready, 120, 1, ("router",))
                await produce_to(bootstrap, topics.raw, 0, listed.encode(), payload)
                await reads.wait_for(1, timeout=60)
                log_text = worker.log_path.read_text(errors="replace")
        assert [r["event_id"] for r in reads.records] == [listed]
        assert "is stale: restoring them in full" in log_text
    finally:
        await IsolatedRun("test-router", unique).drop(bootstrap)


async def wait_stored(path: Path, count: int, timeout: float = 30) -> None:
    """Until the worker's state file holds ``count`` entries (read beside the worker: WAL)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with contextlib.closing(sqlite3.connect(path)) as db:
                if db.execute("SELECT count(*) FROM seen").fetchone()[0] >= count:
                    return
        except sqlite3.OperationalError:
            pass  # not created yet
        assert time.monotonic() < deadline, f"{path} did not get {count} entries"
        await asyncio.sleep(0.2)


async def produce_to(bootstrap: str, topic: str, partition: int, key: bytes, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key, partition=partition)
    finally:
        await producer.stop()
