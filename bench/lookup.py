"""Plate lookup benchmark: exact, prefix and fuzzy search and plate history, p50/p99.

Loads ``--reads`` reads (1,000,000 by default; 10,000,000 works) of ``--reads/10`` plates over
``--days`` days into a scratch PostgreSQL database (binary COPY, through the plate_keys
trigger) and a scratch Elasticsearch prefix (bulk), with progress bars. Then it measures the
same queries twice: in process against each backend (``web.lookup``), and through the HTTP
API of a real worker (``alpr worker`` with its web port, an admin key from ``alpr keys
create``), once per backend. Everything it made is removed at the end (``--keep`` keeps it).

The last line is ``RESULT exact_p99_ms=... fuzzy_p99_ms=... history_p99_ms=... n=...`` from
the HTTP pass (PostgreSQL, the store every deployment has), or from the in-process pass when
the HTTP API could not be measured; the line before it says which.

    .venv/bin/python -m bench.lookup                 # 1,000,000 reads
    .venv/bin/python -m bench.lookup --reads 10000000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from elasticsearch import AsyncElasticsearch
from tqdm import tqdm

from config.settings import Settings, load_settings
from ops.worker import WorkerProcess, free_port
from stores.es_docs import index_for, read_document
from stores.es_writer import put_template
from stores.migrations import migrate
from stores.partitions import ensure_partitions, utc_day
from stores.rows import COLUMNS, read_row
from tests.support.isolated import IsolatedRun
from tests.support.lookup import plate_pool, reads
from tests.support.stores import create_database, drop_database
from tests.support.streams import create_topics, delete_topics
from web.lookup.contract import LookupBackend
from web.lookup.es import EsLookup
from web.lookup.pg import PgLookup

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("exact", "prefix", "fuzzy", "history")
CHUNK = 20_000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reads", type=int, default=1_000_000, help="reads to load")
    parser.add_argument("--days", type=int, default=30, help="days the reads span, to now")
    parser.add_argument("--queries", type=int, default=300, help="timed queries of each kind")
    parser.add_argument("--no-es", action="store_true", help="PostgreSQL only")
    parser.add_argument("--no-http", action="store_true", help="in-process measurement only")
    parser.add_argument("--keep", action="store_true", help="keep the database and indices")
    args = parser.parse_args()
    if not 1000 <= args.reads <= 50_000_000 or not 1 <= args.days <= 365:
        parser.error("--reads must be 1,000..50,000,000 and --days 1..365")
    if not 10 <= args.queries <= 100_000:
        parser.error("--queries must be 10..100,000")
    return args


# -- loading --------------------------------------------------------------------------------


async def load(args: argparse.Namespace, dsn: str, es: AsyncElasticsearch | None,
               prefix: str, plates: list[str]) -> float:  # fmt: skip
    """Load the reads into both stores in chunks; returns the seconds it took."""
    start = datetime.now(UTC) - timedelta(days=args.days)
    conn = await asyncpg.connect(dsn)
    if es is not None:
        await put_template(es, prefix, shards=1, replicas=0)
    began = time.perf_counter()
    try:
        await ensure_partitions(conn, {utc_day(start + timedelta(days=d)) for d in
                                       range(args.days + 2)})  # fmt: skip
        chunk: list[dict[str, Any]] = []
        with tqdm(total=args.reads, unit="read", desc="loading", mininterval=2) as bar:
            for read in reads(args.reads, plates, start, timedelta(days=args.days)):
                chunk.append(read)
                if len(chunk) == CHUNK:
                    await _load_chunk(conn, es, prefix, chunk)
                    bar.update(len(chunk))
                    chunk = []
            await _load_chunk(conn, es, prefix, chunk)
            bar.update(len(chunk))
        # What autovacuum does to insert-only tables in a while: statistics, and the visibility
        # map that lets counts of a plate's reads be index-only scans.
        await conn.execute("VACUUM (ANALYZE) plate_reads")
        await conn.execute("VACUUM (ANALYZE) plate_keys")
        if es is not None:
            await es.indices.refresh(index=f"{prefix}-reads*")
    finally:
        await conn.close()
    return time.perf_counter() - began


async def _load_chunk(conn: asyncpg.Connection, es: AsyncElasticsearch | None, prefix: str,
                      chunk: list[dict[str, Any]]) -> None:  # fmt: skip
    if not chunk:
        return
    rows = [read_row(read) for read in chunk]
    work: list[Awaitable[Any]] = [
        conn.copy_records_to_table("plate_reads", records=rows, columns=COLUMNS)
    ]
    if es is not None:
        operations: list[dict[str, Any]] = []
        for read in chunk:
            target = index_for(prefix, read["captured_at"])
            operations.append({"create": {"_index": target, "_id": read["event_id"]}})
            operations.append(read_document(read))
        work.append(es.options(request_timeout=300).bulk(operations=operations))
    await asyncio.gather(*work)


async def trigger_cost(dsn: str, plates: list[str], batches: int = 10, size: int = 2000) -> str:
    """Write cost of the plate_keys trigger: the projection's write path with and without it."""
    from stores.pg_writer import PgReadWriter

    writer = PgReadWriter(dsn, partitions_ahead=1)
    conn = await asyncpg.connect(dsn)
    timings: dict[bool, list[float]] = {True: [], False: []}
    written: list[str] = []
    try:
        start = datetime.now(UTC).replace(microsecond=0)
        batch_reads = reads(batches * size * 2, plates, start, timedelta(minutes=30), seed=99)
        for n in range(batches * 2):
            enabled = n % 2 == 0
            action = "ENABLE" if enabled else "DISABLE"
            await conn.execute(f"ALTER TABLE plate_reads {action} TRIGGER plate_reads_keys")
            batch = [next(batch_reads) for _ in range(size)]
            written.extend(r["event_id"] for r in batch)
            began = time.perf_counter()
            await writer.write([read_row(read) for read in batch])
            timings[enabled].append((time.perf_counter() - began) * 1000)
    finally:
        await conn.execute("ALTER TABLE plate_reads ENABLE TRIGGER plate_reads_keys")
        await conn.execute("DELETE FROM plate_reads WHERE event_id = ANY($1)", written)
        await conn.close()
        await writer.close()
    with_, without = (statistics.median(timings[k]) for k in (True, False))
    return (f"write of {size} reads through the projection's path: median {with_:.1f} ms with "
            f"the plate_keys trigger, {without:.1f} ms without")  # fmt: skip


# -- queries --------------------------------------------------------------------------------


def make_queries(plates: list[str], count: int, seed: int = 3) -> dict[str, list[str]]:
    rnd = random.Random(seed)
    letters = "ACEFHJKMNPRTUVWXY"  # no look-alikes: a typo, not an OCR confusion
    regulars = plates[: max(1, len(plates) // 100)]

    def typo(plate: str) -> str:
        i = rnd.randrange(len(plate))
        return plate[:i] + rnd.choice([c for c in letters if c != plate[i]]) + plate[i + 1 :]

    picks = [rnd.choice(plates) for _ in range(count)]
    return {
        "exact": picks,
        "prefix": [p[:3] for p in picks],
        "fuzzy": [typo(p) for p in picks],
        "history": [rnd.choice(regulars) if n % 2 else p for n, p in enumerate(picks)],
    }


def stats(timings: list[float]) -> tuple[float, float]:
    ordered = sorted(timings)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99


async def timed(call: Callable[[str], Awaitable[Any]], queries: list[str]) -> list[float]:
    for query in queries[:20]:  # warm caches and connections
        await call(query)
    timings = []
    for query in queries:
        began = time.perf_counter()
        await call(query)
        timings.append((time.perf_counter() - began) * 1000)
    return timings


async def measure_backend(backend: LookupBackend, queries: dict[str, list[str]]
                          ) -> dict[str, list[float]]:  # fmt: skip
    async def search(q: str) -> Any:
        return await backend.search(q, limit=20)

    async def history(q: str) -> Any:
        return await backend.history(q, cursor=None, limit=50)

    return {kind: await timed(history if kind == "history" else search, queries[kind])
            for kind in KINDS}  # fmt: skip


async def measure_http(url: str, key: str, queries: dict[str, list[str]]
                       ) -> dict[str, list[float]]:  # fmt: skip
    headers = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession(headers=headers) as session:

        async def get(path: str, params: dict[str, str]) -> None:
            async with session.get(url + path, params=params) as response:
                body = await response.read()
                if response.status != 200:
                    raise RuntimeError(f"GET {path} {params}: {response.status} {body[:300]!r}")

        async def search(q: str) -> None:
            await get("/api/plates/search", {"q": q, "reason": "benchmark", "limit": "20"})

        async def history(q: str) -> None:
            await get(f"/api/plates/{q}", {"reason": "benchmark", "limit": "50"})

        return {kind: await timed(history if kind == "history" else search, queries[kind])
                for kind in KINDS}  # fmt: skip


def report(label: str, timings: dict[str, list[float]]) -> None:
    cells = []
    for kind in KINDS:
        p50, p99 = stats(timings[kind])
        cells.append(f"{kind} p50 {p50:6.1f} p99 {p99:6.1f}")
    print(f"{label:<28} " + " | ".join(cells) + "  (ms)", flush=True)


# -- the worker -----------------------------------------------------------------------------


def worker_run(unique: str, backend: str) -> IsolatedRun:
    """The worker of one backend: its app id names its group and changelogs (dropped after)."""
    return IsolatedRun(kind="bench", tag=f"lookup-{unique}-{backend}")


def worker_env(unique: str, dsn: str, prefix: str, backend: str) -> dict[str, str]:
    names = {t: f"bench.lookup.{unique}.{t}" for t in ("raw", "detected", "dlq", "cameras")}
    return {
        "ALPR_FAUST__APP_ID": worker_run(unique, backend).app_id,
        "ALPR_KAFKA__PARTITIONS": "1",
        **{f"ALPR_TOPICS__{t.upper()}": name for t, name in names.items()},
        "ALPR_RULES__TOPIC": f"bench.lookup.{unique}.rules",
        "ALPR_RULES__ALERTS_TOPIC": f"bench.lookup.{unique}.alerts",
        "ALPR_POSTGRES__DSN": dsn,
        "ALPR_ELASTICSEARCH__INDEX_PREFIX": prefix,
        "ALPR_LOOKUP__SEARCH_BACKEND": backend,
        "ALPR_PROJECTIONS__ENABLE_PG": "false",
        "ALPR_PROJECTIONS__ENABLE_ES": "false",
        "ALPR_WEB__RATE_PER_S": "10000",
        "ALPR_WEB__RATE_BURST": "100000",
    }


def topic_names(unique: str) -> list[str]:
    kinds = ("raw", "detected", "dlq", "cameras", "rules", "alerts")
    return [f"bench.lookup.{unique}.{t}" for t in kinds]


def admin_key(dsn: str) -> str:
    run = subprocess.run(
        [sys.executable, "-m", "faust", "-A", "alpr", "keys", "create", "--role", "admin",
         "--owner", "bench.lookup"],
        cwd=ROOT, env={**os.environ, "ALPR_POSTGRES__DSN": dsn}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    if run.returncode != 0:
        raise RuntimeError(f"alpr keys create failed: {run.stderr[-2000:]}")
    return run.stdout.strip().splitlines()[-1].strip()


async def http_pass(settings: Settings, unique: str, dsn: str, prefix: str, backend: str,
                    queries: dict[str, list[str]]) -> dict[str, list[float]]:  # fmt: skip
    key = admin_key(dsn)
    with tempfile.TemporaryDirectory(prefix="bench-lookup-") as tmp:
        env = worker_env(unique, dsn, prefix, backend)
        with WorkerProcess(Path(tmp), free_port(), env=env) as worker:
            await asyncio.to_thread(worker.wait_ready, 180.0, 1)
            return await measure_http(worker.web_url, key, queries)


def http_available() -> bool:
    return (ROOT / "web" / "api" / "plates.py").exists()


# -- main -----------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> None:
    settings = load_settings()
    unique = uuid.uuid4().hex[:8]
    database, prefix = f"alpr_bench_lookup_{unique}", f"bench-lookup-{unique}"
    dsn = await create_database(settings.postgres.dsn, database)
    es = None if args.no_es else AsyncElasticsearch(settings.elasticsearch.url, request_timeout=300)
    topics = topic_names(unique)
    try:
        conn = await asyncpg.connect(dsn)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        plates = plate_pool(max(10, args.reads // 10))
        seconds = await load(args, dsn, es, prefix, plates)
        print(f"loaded {args.reads:,} reads of {len(plates):,} plates over {args.days} days "
              f"in {seconds:.0f} s ({args.reads / seconds:,.0f} reads/s, PostgreSQL"
              f"{'' if es is None else ' and Elasticsearch together'})", flush=True)  # fmt: skip
        print(await trigger_cost(dsn, plates), flush=True)
        if args.keep:
            print(f"kept afterwards: database {database}, index prefix {prefix}", flush=True)
        queries = make_queries(plates, args.queries)

        backends: list[tuple[str, LookupBackend]] = [("postgres", PgLookup(dsn, pool_max=4))]
        if es is not None:
            backends.append(("elasticsearch", EsLookup(
                AsyncElasticsearch(settings.elasticsearch.url), prefix)))  # fmt: skip
        results: dict[str, dict[str, list[float]]] = {}
        for name, backend in backends:
            try:
                results[f"in-process {name}"] = await measure_backend(backend, queries)
            finally:
                await backend.close()
            report(f"in-process {name}", results[f"in-process {name}"])

        if not args.no_http and http_available():
            await create_topics(settings.kafka.bootstrap_servers, topics, 1)
            for name, _ in backends:
                label = f"HTTP {name}"
                results[label] = await http_pass(settings, unique, dsn, prefix, name, queries)
                report(label, results[label])
        source = "HTTP postgres" if "HTTP postgres" in results else "in-process postgres"
        final = results[source]
        print(f"figures of the RESULT line: {source} (search limit 20, history page 50, "
              f"{args.queries} queries of each kind)")  # fmt: skip
        exact, fuzzy, history = (stats(final[k])[1] for k in ("exact", "fuzzy", "history"))
        print(f"RESULT exact_p99_ms={exact:.1f} fuzzy_p99_ms={fuzzy:.1f} "
              f"history_p99_ms={history:.1f} n={args.reads}")  # fmt: skip
    finally:
        if not args.keep:
            await drop_database(settings.postgres.dsn, database)
            if es is not None:
                await es.indices.delete(index=f"{prefix}-reads*", ignore_unavailable=True)
                await es.options(ignore_status=404).indices.delete_index_template(
                    name=f"{prefix}-reads"
                )
            if not args.no_http and http_available():
                await delete_topics(settings.kafka.bootstrap_servers, topics)
                # The workers' own topics, and those named after the run's (alerts.reads...).
                runs = [worker_run(unique, n) for n in ("postgres", "elasticsearch")]
                for isolated in [*runs, IsolatedRun(kind="bench", tag=f"lookup.{unique}")]:
                    await isolated.drop(
                        settings.kafka.bootstrap_servers, settings.schema_registry.url
                    )
        if es is not None:
            await es.close()


def main() -> None:
    asyncio.run(run(parse_args()))


if __name__ == "__main__":
    main()
