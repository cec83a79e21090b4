"""The projections end to end: a real Faust worker, Kafka, the registry, PostgreSQL and
Elasticsearch.

Reads go straight onto the test's ``alpr.plates.detected`` topic in the router's wire format;
the worker's two projections (batch consumers of their own) must store each exactly once in
both stores, add nothing when the same reads come again, and lose nothing when PostgreSQL and
Elasticsearch restart in the middle of a load. The restart test stops private instances of
the stores (``ops.private_stack.PrivateStores``), never the shared ones other tests are using.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from elasticsearch import AsyncElasticsearch

from config.settings import Settings
from ops.private_stack import PrivateStores
from ops.worker import WorkerProcess, free_port
from stores.es_docs import alias_name
from stores.migrations import migrate
from streams.codec import SchemaCache, default_schema_cache
from tests.integration.conftest import require_port
from tests.integration.kafka_reading import committed
from tests.support.isolated import IsolatedRun
from tests.support.stores import (
    create_database,
    drop_database,
    encode_reads,
    es_count,
    es_event_ids,
    pg_event_ids,
    pg_scalar,
    plate_read_datum,
    produce,
    read_workload,
)
from tests.support.streams import create_topics

#: Reads per load. The issue asks for 100,000; 20,000 keeps the suite within minutes on two
#: cores. ALPR_TEST_PROJECTION_READS=100000 runs the full load.
READS = int(os.environ.get("ALPR_TEST_PROJECTION_READS", "20000"))
PARTITIONS = 4
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@dataclass
class Scratch:
    """One test's own topics, consumer group, database and index prefix."""

    unique: str
    dsn: str
    prefix: str
    detected: str
    dlq: str
    topics: list[str]
    app_id: str
    es_url: str

    @property
    def alias(self) -> str:
        return alias_name(self.prefix)

    def env(self) -> dict[str, str]:
        raw, detected, dlq, cameras = self.topics
        return {
            "ALPR_FAUST__APP_ID": self.app_id,
            "ALPR_TOPICS__RAW": raw,
            "ALPR_TOPICS__DETECTED": detected,
            "ALPR_TOPICS__DLQ": dlq,
            "ALPR_TOPICS__CAMERAS": cameras,
            # The worker's other stages on topics of their own too: the alerting stage would
            # otherwise read the shared rule-feed topic and dead-letter other runs' messages
            # into this test's dead-letter topic.
            "ALPR_TOPICS__CORRECTED": f"test.{self.unique}.corrected",
            "ALPR_RULES__TOPIC": f"test.{self.unique}.rules",
            "ALPR_RULES__ALERTS_TOPIC": f"test.{self.unique}.alerts",
            "ALPR_POSTGRES__DSN": self.dsn,
            "ALPR_ELASTICSEARCH__URL": self.es_url,
            "ALPR_ELASTICSEARCH__INDEX_PREFIX": self.prefix,
            "ALPR_KAFKA__PARTITIONS": str(PARTITIONS),
            "ALPR_PROJECTIONS__RETRY_MAX_S": "2",
        }


@asynccontextmanager
async def scratch_on(
    settings: Settings, unique: str, pg_dsn: str, es_url: str
) -> AsyncIterator[Scratch]:
    """Topics on the shared Kafka, a database on ``pg_dsn``'s server, indices on ``es_url``."""
    require_port(settings.kafka.bootstrap_servers, "Kafka")
    require_port(settings.schema_registry.url, "schema registry")
    require_port(pg_dsn.split("@")[-1].split("/")[0], "PostgreSQL")
    require_port(es_url, "Elasticsearch")
    database = f"alpr_test_{unique}"
    topics = [f"test.{unique}.{t}" for t in ("raw", "detected", "dlq", "cameras")]
    await create_topics(settings.kafka.bootstrap_servers, topics, partitions=PARTITIONS)
    dsn = await create_database(pg_dsn, database)
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    yield Scratch(unique, dsn, f"t{unique}", topics[1], topics[2], topics,
                  IsolatedRun("test", unique).app_id, es_url)  # fmt: skip
    await drop_database(pg_dsn, database)
    es = AsyncElasticsearch(es_url)
    try:
        await es.indices.delete(index=f"t{unique}-*", ignore_unavailable=True)
        await es.options(ignore_status=404).indices.delete_index_template(name=f"t{unique}-reads")
    finally:
        await es.close()
    # The topics, the worker's own (changelogs) and the value subjects.
    await IsolatedRun("test", unique).drop(
        settings.kafka.bootstrap_servers, settings.schema_registry.url
    )


@pytest.fixture
async def scratch(settings: Settings, unique: str) -> AsyncIterator[Scratch]:
    """A scratch on the shared stores."""
    async with scratch_on(settings, unique, settings.postgres.dsn, settings.elasticsearch.url) as s:
        yield s


@pytest.fixture
def private_stores() -> Iterator[PrivateStores]:
    """PostgreSQL and Elasticsearch of the test's own, which it may stop and start."""
    stores = PrivateStores()
    try:
        stores.start()
        yield stores
    finally:
        stores.close()


@contextmanager
def worker_starter(scratch: Scratch, tmp_path: Path) -> Iterator[Callable[[], WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start() -> WorkerProcess:
        worker = WorkerProcess(tmp_path / f"w{len(started)}", free_port(), env=scratch.env())
        started.append(worker)
        worker.start()
        worker.wait_ready(min_partitions=PARTITIONS)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()


@pytest.fixture
def start_worker(scratch: Scratch, tmp_path: Path) -> Iterator[Callable[[], WorkerProcess]]:
    with worker_starter(scratch, tmp_path) as start:
        yield start


async def wait_for(what: str, check: Callable[[], Awaitable[bool]], worker: WorkerProcess,
                   timeout: float = 420) -> None:  # fmt: skip
    """Poll ``check`` until true; fail with the worker's log after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not reached within {timeout:.0f}s; worker log:\n"
                        f"{worker.log_tail()}")  # fmt: skip
        await asyncio.sleep(1)


def consumed(worker: WorkerProcess) -> dict[str, float]:
    """Messages each projection of ``worker`` has handled (its /metrics), by store.

    Counted by the projections themselves: the group's committed offsets also wait for every
    other agent on the topic.
    """
    try:
        with urllib.request.urlopen(worker.web_url + "/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return {}
    found = re.findall(r'^alpr_projection_events_total\{store="(\w+)"\} (\S+)$', text, re.M)
    return {store: float(value) for store, value in found}


async def all_consumed(worker: WorkerProcess, count: int) -> bool:
    seen = consumed(worker)
    return seen.get("pg", 0) >= count and seen.get("es", 0) >= count


async def dead_letters(bootstrap: str, topic: str, cache: SchemaCache) -> list[dict[str, Any]]:
    from streams.codec import AvroSchema, decode

    schema = AvroSchema.named("DeadLetter")
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(parts)
        ends = await consumer.end_offsets(parts)
        letters: list[dict[str, Any]] = []

        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in parts])

        while await behind():
            batch = await consumer.getmany(timeout_ms=1000)
            for messages in batch.values():
                letters.extend(decode(m.value, schema, cache) for m in messages)
        return letters
    finally:
        await consumer.stop()


def workload(count: int) -> list[dict[str, Any]]:
    start = datetime.now(UTC) - timedelta(days=2)
    return read_workload(count, start, timedelta(days=2, hours=12))


async def test_every_read_is_stored_once_in_both_stores_and_a_replay_adds_nothing(
    settings: Settings, scratch: Scratch, start_worker: Callable[[], WorkerProcess]
) -> None:
    cache = default_schema_cache()
    reads = workload(READS)
    messages = encode_reads(cache, f"{scratch.detected}-value", reads)
    # One read Elasticsearch can never index (a latitude off the globe): one dead letter.
    unindexable = plate_read_datum(location={"lat": 123.0, "lon": 0.0})
    bad = encode_reads(cache, f"{scratch.detected}-value", [unindexable])
    await produce(settings.kafka.bootstrap_servers, scratch.detected, [*messages, *bad])
    ids = {r["event_id"] for r in reads}

    worker = start_worker()
    es = AsyncElasticsearch(settings.elasticsearch.url)
    try:

        async def stored() -> bool:
            return (
                await pg_scalar(scratch.dsn, "SELECT count(*) FROM plate_reads") >= READS + 1
                and await es_count(es, scratch.alias) >= READS
                and await all_consumed(worker, READS + 1)
            )

        await wait_for("every read stored", stored, worker)

        # /health shows each projection's consumer: its group, partitions, nothing left behind.
        # Its lag is the group's committed lag, measured every few seconds: a measurement
        # taken before the last commit still shows the batch, so wait for a fresh one.
        async def caught_up() -> bool:
            found = (worker.health() or {}).get("consumers", {})
            return all(found.get(f"projection-{s}", {}).get("lag") == 0 for s in ("pg", "es"))

        await wait_for("the projections' lag measured at 0", caught_up, worker, timeout=60)
        consumers = (worker.health() or {}).get("consumers", {})
        for store in ("pg", "es"):
            status = consumers[f"projection-{store}"]
            assert status["group"] == f"{scratch.app_id}-projection-{store}"
            assert status["running"] and status["failed"] is None
            assert (status["assigned_partitions"], status["lag"]) == (PARTITIONS, 0)
        pg_ids = await pg_event_ids(scratch.dsn)
        es_ids = await es_event_ids(es, scratch.alias)
        assert len(pg_ids) == READS + 1 and set(pg_ids) == ids | {unindexable["event_id"]}
        assert len(es_ids) == READS and set(es_ids) == ids
        hourly = await pg_scalar(scratch.dsn, "SELECT sum(reads) FROM plate_reads_hourly")
        assert hourly == READS + 1

        letters = await dead_letters(settings.kafka.bootstrap_servers, scratch.dlq, cache)
        assert [letter["reason"] for letter in letters] == ["unwritable"]
        assert letters[0]["stage"] == "project" and "geo_point" in letters[0]["message"]

        # The same reads once more: consumed and committed, and nothing added anywhere.
        await produce(settings.kafka.bootstrap_servers, scratch.detected, messages)

        async def replayed() -> bool:
            return await all_consumed(worker, 2 * READS + 1)

        await wait_for("the replay consumed", replayed, worker)
        assert await pg_scalar(scratch.dsn, "SELECT count(*) FROM plate_reads") == READS + 1
        assert await pg_scalar(scratch.dsn, "SELECT sum(reads) FROM plate_reads_hourly") == (
            READS + 1
        )
        assert await es_count(es, scratch.alias) == READS

        # Rebuilt by replay, the stores equal the incrementally built ones.
        before = await fingerprints(scratch, es)
        said = rebuild(scratch)
        assert f"pg: {READS + 1} new, 0 refused" in said and f"es: {READS} new, 1 refused" in said
        said = rebuild(scratch, "--since", "1d", "--store", "pg")
        assert "pg: 0 new" not in said and "es:" not in said
        assert await fingerprints(scratch, es) == before
    finally:
        await es.close()


async def fingerprints(scratch: Scratch, es: AsyncElasticsearch) -> tuple[Any, ...]:
    """Digests of every row, every hourly count and every document."""
    reads = await pg_scalar(
        scratch.dsn, "SELECT md5(string_agg(r::text, '|' ORDER BY event_id)) FROM plate_reads r"
    )
    hourly = await pg_scalar(
        scratch.dsn,
        "SELECT md5(string_agg(h::text, '|' ORDER BY camera_id, hour)) FROM plate_reads_hourly h",
    )
    await es.indices.refresh(index=scratch.alias)
    docs: list[tuple[str, str, str]] = []
    response = await es.search(
        index=scratch.alias, size=10_000, sort=[{"event_id": "asc"}], scroll="1m"
    )
    while hits := response["hits"]["hits"]:
        docs.extend((hit["_id"], hit["_index"], json.dumps(hit["_source"], sort_keys=True))
                    for hit in hits)  # fmt: skip
        response = await es.scroll(scroll_id=response["_scroll_id"], scroll="1m")
    return reads, hourly, hashlib.sha256(repr(sorted(docs)).encode()).hexdigest(), len(docs)


def rebuild(scratch: Scratch, *args: str) -> str:
    """Run ``alpr projections rebuild`` on the scratch stores; return what it said."""
    env = {**os.environ, **scratch.env()}
    done = subprocess.run(
        [str(BIN / "alpr"), "projections", "rebuild", *args],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


async def test_stores_restarted_mid_load_lose_nothing_and_duplicate_nothing(
    settings: Settings, unique: str, private_stores: PrivateStores, tmp_path: Path
) -> None:
    """PostgreSQL, then Elasticsearch (private instances: the shared ones serve other tests)
    stopped and started again while reads keep arriving."""
    async with scratch_on(
        settings, unique, private_stores.postgres_dsn, private_stores.elasticsearch_url
    ) as scratch:
        with worker_starter(scratch, tmp_path) as start_worker:
            await outage_load(settings, scratch, private_stores, start_worker)


async def outage_load(
    settings: Settings,
    scratch: Scratch,
    stores: PrivateStores,
    start_worker: Callable[[], WorkerProcess],
) -> None:
    cache = default_schema_cache()
    reads = workload(READS)
    ids = {r["event_id"] for r in reads}
    messages = encode_reads(cache, f"{scratch.detected}-value", reads)
    # A third before the outages, a third during each: every store outage meets new reads.
    third = len(messages) // 3
    await produce(settings.kafka.bootstrap_servers, scratch.detected, messages[:third])
    worker = start_worker()
    es = AsyncElasticsearch(scratch.es_url)
    try:

        async def some_stored() -> bool:
            return await pg_scalar(scratch.dsn, "SELECT count(*) FROM plate_reads") > 0

        await wait_for("the first reads stored", some_stored, worker)
        # PostgreSQL goes away while reads keep arriving, then comes back.
        stores.stop("postgres")
        await produce(
            settings.kafka.bootstrap_servers, scratch.detected, messages[third : 2 * third]
        )
        await asyncio.sleep(3)
        stores.start("postgres")
        # Then Elasticsearch, with the last third arriving while it is away.
        stores.stop("elasticsearch")
        await produce(settings.kafka.bootstrap_servers, scratch.detected, messages[2 * third :])
        await asyncio.sleep(3)
        stores.start("elasticsearch")

        async def stored() -> bool:
            return (
                await pg_scalar(scratch.dsn, "SELECT count(*) FROM plate_reads") >= READS
                and await es_count(es, scratch.alias) >= READS
                and await all_consumed(worker, READS)
            )

        await wait_for("every read stored after the restarts", stored, worker)
        pg_ids = await pg_event_ids(scratch.dsn)
        es_ids = await es_event_ids(es, scratch.alias)
        assert len(pg_ids) == READS and set(pg_ids) == ids
        assert len(es_ids) == READS and set(es_ids) == ids
        assert await pg_scalar(scratch.dsn, "SELECT sum(reads) FROM plate_reads_hourly") == READS
        # The whole log: the Elasticsearch client logs every request, so a tail may miss it.
        log = worker.log_path.read_text(errors="replace")
        assert "PostgreSQL write failed" in log and "Elasticsearch bulk failed" in log
    finally:
        await es.close()


async def test_two_workers_share_the_projections_and_one_leaving_mid_load_loses_nothing(
    settings: Settings, scratch: Scratch, start_worker: Callable[[], WorkerProcess]
) -> None:
    """A second worker joins during a load (rebalance), then the first stops (rebalance
    again): every read is stored exactly once and both groups commit to the end."""
    cache = default_schema_cache()
    reads = workload(READS)
    messages = encode_reads(cache, f"{scratch.detected}-value", reads)
    half = len(messages) // 2
    bootstrap = settings.kafka.bootstrap_servers
    await produce(bootstrap, scratch.detected, messages[:half])
    first = start_worker()
    es = AsyncElasticsearch(scratch.es_url)
    try:

        async def some_stored() -> bool:
            return await pg_scalar(scratch.dsn, "SELECT count(*) FROM plate_reads") > 0

        await wait_for("the first reads stored", some_stored, first)
        second = start_worker()
        await produce(bootstrap, scratch.detected, messages[half:])
        first.stop()

        async def stored() -> bool:
            return (
                await pg_scalar(scratch.dsn, "SELECT count(*) FROM plate_reads") >= READS
                and await es_count(es, scratch.alias) >= READS
                and all(
                    [await committed(bootstrap, f"{scratch.app_id}-projection-{store}",
                                     scratch.detected) == READS for store in ("pg", "es")]
                )
            )  # fmt: skip

        await wait_for("every read stored and committed", stored, second)
        ids = {r["event_id"] for r in reads}
        pg_ids = await pg_event_ids(scratch.dsn)
        es_ids = await es_event_ids(es, scratch.alias)
        assert len(pg_ids) == READS and set(pg_ids) == ids
        assert len(es_ids) == READS and set(es_ids) == ids
        assert await pg_scalar(scratch.dsn, "SELECT sum(reads) FROM plate_reads_hourly") == READS
    finally:
        await es.close()


async def test_a_worker_stopped_during_an_outage_commits_nothing_it_did_not_write(
    settings: Settings, scratch: Scratch, tmp_path: Path
) -> None:
    """With PostgreSQL unreachable the batch waits; stopping the worker then must leave the
    group's offsets before it, so the next worker writes it (here: against the real store)."""
    cache = default_schema_cache()
    reads = workload(200)
    await produce(
        settings.kafka.bootstrap_servers,
        scratch.detected,
        encode_reads(cache, f"{scratch.detected}-value", reads),
    )
    unreachable = scratch.dsn.replace(f":{urlsplit(scratch.dsn).port}/", f":{free_port()}/")
    # Small batches: more reads wait behind the one being retried, and must be held back too.
    env = {**scratch.env(), "ALPR_POSTGRES__DSN": unreachable, "ALPR_PROJECTIONS__ENABLE_ES": "0",
           "ALPR_PROJECTIONS__BATCH_SIZE": "50"}  # fmt: skip
    with WorkerProcess(tmp_path / "down", free_port(), env=env) as worker:
        worker.wait_ready(min_partitions=PARTITIONS)

        async def retrying() -> bool:
            return "PostgreSQL write failed" in worker.log_tail(100_000)

        await wait_for("the write retried", retrying, worker)
        await asyncio.sleep(4)  # more than Faust's commit interval (2.8 s)
        # It stops when told, without waiting the outage out (SIGKILL comes after 30 s).
        code = worker.stop()
        assert code is not None and code >= 0, f"worker killed ({code}):\n{worker.log_tail()}"
    group = f"{scratch.app_id}-projection-pg"
    assert await committed(settings.kafka.bootstrap_servers, group, scratch.detected) == 0

    env["ALPR_POSTGRES__DSN"] = scratch.dsn
    with WorkerProcess(tmp_path / "up", free_port(), env=env) as worker:
        worker.wait_ready(min_partitions=PARTITIONS)

        async def stored() -> bool:
            return await pg_scalar(scratch.dsn, "SELECT count(*) FROM plate_reads") >= len(reads)

        await wait_for("the reads stored by the next worker", stored, worker)
    assert set(await pg_event_ids(scratch.dsn)) == {r["event_id"] for r in reads}
