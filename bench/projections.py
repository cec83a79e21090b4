"""Projection throughput against bare loops, in one run on the local stack.

    ops/stack exec -- .venv/bin/python -m bench.projections [--reads 100000]

Publishes N PlateReads to a fresh ``alpr.plates.detected`` topic, then measures on the same
messages:

- the PostgreSQL baseline: a bare aiokafka consume, fastavro decode and ``COPY`` into a plain
  table of the same columns (no dedupe, no partitions, no rollup, no Faust);
- the PostgreSQL projection: a real ``faust -A alpr worker`` with only that projection on;
- the Elasticsearch baseline: consume, decode and a bare ``_bulk`` loop into one index;
- the Elasticsearch projection: a worker with only that projection on.

A projection's rate is rows (documents) written over the span from its first to its last
write, read from its ``/metrics``, so worker start-up does not count. Ends with
``RESULT pg_rps=... pg_ratio=... es_dps=... es_ratio=...``.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer
from elasticsearch import AsyncElasticsearch

from config.settings import get_settings
from ops.worker import WorkerProcess, free_port
from stores.es_docs import MAPPING, alias_name, read_document
from stores.migrations import migrate
from stores.rows import COLUMNS, read_row
from streams.codec import AvroSchema, SchemaCache, decode, default_schema_cache
from tests.support.isolated import IsolatedRun
from tests.support.stores import (
    create_database,
    drop_database,
    encode_reads,
    produce,
    read_workload,
)
from tests.support.streams import create_topics, delete_topics

READ = AvroSchema.named("PlateRead")
BATCH = 5000


async def consume_batches(bootstrap: str, topic: str, count: int) -> AsyncIterator[list[bytes]]:
    """Every message of ``topic`` (``count`` of them) in batches, from a fresh group."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=f"bench-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest", enable_auto_commit=False, max_poll_records=BATCH,
    )  # fmt: skip
    await consumer.start()
    try:
        seen = 0
        while seen < count:
            fetched = await consumer.getmany(timeout_ms=1000, max_records=BATCH)
            batch = [m.value for messages in fetched.values() for m in messages]
            seen += len(batch)
            if batch:
                yield batch
    finally:
        await consumer.stop()


async def pg_baseline(bootstrap: str, topic: str, cache: SchemaCache, dsn: str, n: int) -> float:
    conn = await asyncpg.connect(dsn)
    await conn.execute(
        "CREATE TABLE bench_copy (LIKE plate_reads INCLUDING DEFAULTS);"
        "ALTER TABLE bench_copy ADD PRIMARY KEY (event_id, captured_at)"
    )
    try:
        started = time.perf_counter()
        async for batch in consume_batches(bootstrap, topic, n):
            rows = [read_row(decode(v, READ, cache)) for v in batch]
            await conn.copy_records_to_table("bench_copy", records=rows, columns=COLUMNS)
        elapsed = time.perf_counter() - started
        assert await conn.fetchval("SELECT count(*) FROM bench_copy") == n
        return n / elapsed
    finally:
        await conn.close()


async def es_baseline(bootstrap: str, topic: str, cache: SchemaCache, url: str, n: int) -> float:
    client = AsyncElasticsearch(url, request_timeout=120)
    index = f"bench-bare-{uuid.uuid4().hex[:8]}"
    await client.indices.create(
        index=index, mappings=MAPPING, settings={"number_of_shards": 1, "number_of_replicas": 0}
    )
    try:
        started = time.perf_counter()
        async for batch in consume_batches(bootstrap, topic, n):
            operations: list[dict[str, object]] = []
            for value in batch:
                read = decode(value, READ, cache)
                operations += [{"index": {"_index": index, "_id": read["event_id"]}},
                               read_document(read)]  # fmt: skip
            response = await client.bulk(operations=operations)
            assert not response["errors"], "baseline bulk failed"
        elapsed = time.perf_counter() - started
        await client.indices.refresh(index=index)
        assert (await client.count(index=index))["count"] == n
        return n / elapsed
    finally:
        await client.indices.delete(index=index)
        await client.close()


def metric(worker: WorkerProcess, name: str, store: str) -> float:
    """One sample of the worker's /metrics, 0 while it does not answer."""
    try:
        with urllib.request.urlopen(worker.web_url + "/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return 0.0
    match = re.search(rf'^{name}\{{store="{store}"\}} (\S+)$', text, re.M)
    return float(match[1]) if match else 0.0


def start_profiler(worker: WorkerProcess, out: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling the worker into collapsed stacks (``out``), until interrupted."""
    assert worker.process is not None
    spy = Path(sys.executable).parent / "py-spy"
    return subprocess.Popen(
        [str(spy), "record", "--pid", str(worker.process.pid), "--format", "raw",
         "--rate", "200", "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


#: Leaf frames of a thread that waits (event loop poll, idle thread pool): not work.
IDLE = ("select", "thread.py", "threading.py")


def top_functions(collapsed: Path, count: int = 12) -> list[tuple[float, str]]:
    """Share of the busy samples spent in each function itself (leaf frame), largest first."""
    own: dict[str, int] = {}
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if not samples.isdigit():
            continue
        leaf = stack.rsplit(";", 1)[-1]
        if any(idle in leaf for idle in IDLE):
            continue
        total += int(samples)
        name, _, where = leaf.partition(" (")
        key = f"{name} ({where.rsplit('/', 1)[-1].split(':')[0].rstrip(')')})"
        own[key] = own.get(key, 0) + int(samples)
    ranked = sorted(((n / max(total, 1), k) for k, n in own.items()), reverse=True)
    return ranked[:count]


def projection_rate(
    env: dict[str, str], store: str, n: int, workdir: Path, profile: Path | None = None
) -> float:
    """Start a worker with only ``store``'s projection on; rows per second while it writes."""
    with WorkerProcess(workdir / store, free_port(), env=env) as worker:
        worker.wait_ready(timeout=180)
        spy = start_profiler(worker, profile / f"{store}.txt") if profile else None
        first_at = first_count = None
        deadline = time.monotonic() + 1800
        while True:
            count = metric(worker, "alpr_projection_written_total", store)
            now = time.monotonic()
            if count > 0 and first_at is None:
                first_at, first_count = now, count
            if count >= n:
                break
            if now > deadline:
                raise TimeoutError(f"{store}: {count:.0f}/{n} after 30 min\n{worker.log_tail()}")
            time.sleep(0.1)
        assert first_at is not None and first_count is not None
        if spy is not None and profile is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
            print(f"  {store}: profile (share of busy samples in the function itself):")
            for share, name in top_functions(profile / f"{store}.txt"):
                print(f"    {share:6.1%}  {name}")
        batches = metric(worker, "alpr_projection_batch_events_count", store)
        events = metric(worker, "alpr_projection_batch_events_sum", store)
        seconds = metric(worker, "alpr_projection_write_seconds_sum", store)
        print(f"  {store}: {batches:.0f} batches, {events / max(batches, 1):.0f} reads per batch, "
              f"{seconds:.1f}s in decode and write")  # fmt: skip
        return (n - first_count) / max(now - first_at, 1e-9)


async def run(reads: int, partitions: int, profile: Path | None) -> None:
    settings = get_settings()
    bootstrap = settings.kafka.bootstrap_servers
    tag = uuid.uuid4().hex[:8]
    topics = [f"bench.{tag}.{t}" for t in ("raw", "detected", "dlq", "cameras")]
    database = f"alpr_bench_{tag}"
    prefix = f"bench{tag}"
    #: One worker per store; each app id names its group and changelogs (dropped after).
    runs = {store: IsolatedRun(kind="bench", tag=f"{tag}-{store}") for store in ("pg", "es")}
    await create_topics(bootstrap, topics, partitions=partitions)
    dsn = await create_database(settings.postgres.dsn, database)
    es = AsyncElasticsearch(settings.elasticsearch.url)
    try:
        conn = await asyncpg.connect(dsn)
        await migrate(conn)
        await conn.close()
        cache = default_schema_cache()
        start = datetime.now(UTC) - timedelta(days=2)
        print(f"publishing {reads} reads to {topics[1]} ({partitions} partitions)", flush=True)
        workload = read_workload(reads, start, timedelta(days=2))
        await produce(bootstrap, topics[1], encode_reads(cache, f"{topics[1]}-value", workload))
        del workload

        pg_base = await pg_baseline(bootstrap, topics[1], cache, dsn, reads)
        print(f"pg baseline (consume, decode, COPY): {pg_base:,.0f} rows/s", flush=True)
        es_base = await es_baseline(bootstrap, topics[1], cache, settings.elasticsearch.url, reads)
        print(f"es baseline (consume, decode, bulk): {es_base:,.0f} docs/s", flush=True)

        env = {
            "ALPR_TOPICS__RAW": topics[0], "ALPR_TOPICS__DETECTED": topics[1],
            "ALPR_TOPICS__DLQ": topics[2], "ALPR_TOPICS__CAMERAS": topics[3],
            "ALPR_POSTGRES__DSN": dsn, "ALPR_ELASTICSEARCH__INDEX_PREFIX": prefix,
            "ALPR_KAFKA__PARTITIONS": str(partitions),
        }  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="bench-projections-") as tmp:
            pg_rps = projection_rate(
                {**env, "ALPR_FAUST__APP_ID": runs["pg"].app_id,
                 "ALPR_PROJECTIONS__ENABLE_ES": "false"}, "pg", reads, Path(tmp), profile,
            )  # fmt: skip
            print(f"pg projection (faust worker): {pg_rps:,.0f} rows/s", flush=True)
            es_dps = projection_rate(
                {**env, "ALPR_FAUST__APP_ID": runs["es"].app_id,
                 "ALPR_PROJECTIONS__ENABLE_PG": "false"}, "es", reads, Path(tmp), profile,
            )  # fmt: skip
            print(f"es projection (faust worker): {es_dps:,.0f} docs/s", flush=True)
        assert (await es.count(index=alias_name(prefix)))["count"] <= reads
        print(
            f"RESULT pg_rps={pg_rps:.0f} pg_ratio={pg_rps / pg_base:.2f} "
            f"es_dps={es_dps:.0f} es_ratio={es_dps / es_base:.2f}",
            flush=True,
        )
    finally:
        await es.options(ignore_status=404).indices.delete(index=f"{prefix}-*")
        await es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-reads")
        await es.close()
        await drop_database(settings.postgres.dsn, database)
        await delete_topics(bootstrap, topics)
        for isolated in runs.values():
            await isolated.drop(bootstrap, settings.schema_registry.url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=100_000, help="reads to project")
    parser.add_argument("--partitions", type=int, default=4, help="partitions of the topic")
    parser.add_argument(
        "--profile", type=Path, help="sample each worker with py-spy into this folder"
    )
    args = parser.parse_args()
    if args.reads < 1:
        sys.exit("--reads must be at least 1")
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    asyncio.run(run(args.reads, args.partitions, args.profile))


if __name__ == "__main__":
    main()
