"""``alpr db migrate`` on a fresh database of the real PostgreSQL: applied once, recorded,
idempotent, safe to run concurrently, and refusing an applied file that was edited; stores made
before a field was added take it (PostgreSQL by a migration, Elasticsearch's indices when the
projection puts its template)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from elasticsearch import AsyncElasticsearch

from config.settings import Settings
from stores.es_docs import ADDED_PROPERTIES, MAPPING, index_for, read_document
from stores.es_writer import put_template
from stores.migrations import MigrationError, migrate, migration_files
from stores.partitions import partition_name
from tests.integration.conftest import require_port
from tests.support.stores import plate_read_datum

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]


async def test_migrate_applies_each_file_once_and_creates_partitions_ahead(fresh_dsn: str) -> None:
    env = {
        **os.environ,
        "ALPR_POSTGRES__DSN": fresh_dsn,
        "ALPR_PROJECTIONS__PARTITIONS_AHEAD_DAYS": "3",
    }
    runs = [
        subprocess.run([str(BIN / "alpr"), "db", "migrate"], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
        for _ in range(2)
    ]  # fmt: skip
    assert [run.returncode for run in runs] == [0, 0], runs[0].stderr[-2000:]
    count = len(migration_files()) - 1  # one version has a file per mode
    assert f"{count} already applied" in runs[1].stdout and "applied none" in runs[1].stdout

    conn = await asyncpg.connect(fresh_dsn)
    try:
        versions = [r[0] for r in await conn.fetch("SELECT version FROM schema_migrations")]
        tables = {r[0] for r in await conn.fetch("SELECT tablename FROM pg_tables")}
    finally:
        await conn.close()
    assert sorted(versions) == list(range(1, count + 1))
    today = datetime.now(UTC).date()
    expected = {partition_name(today + timedelta(days=n)) for n in range(-1, 4)}
    assert expected <= tables
    assert {"cameras", "alerts", "api_keys", "search_audit", "plate_reads_hourly"} <= tables


async def test_concurrent_runs_apply_once_and_an_edited_file_is_refused(
    fresh_dsn: str, tmp_path: Path
) -> None:
    for path in migration_files():
        (tmp_path / path.name).write_text(path.read_text())
    conns = [await asyncpg.connect(fresh_dsn) for _ in range(3)]
    try:
        reports = await asyncio.gather(*(migrate(conn, tmp_path) for conn in conns))
        applied = sorted(len(report.applied) for report in reports)
        assert applied == [0, 0, len(migration_files()) - 1]  # one version has a file per mode
        first = sorted(tmp_path.glob("0001_*.sql"))[0]
        first.write_text(first.read_text() + "\n-- edited\n")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(conns[0], tmp_path)
    finally:
        for conn in conns:
            await conn.close()


async def columns(conn: asyncpg.Connection, table: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_name = $1"
        " ORDER BY ordinal_position",
        table,
    )
    return [row[0] for row in rows]


async def test_the_vehicle_colour_is_added_to_a_database_migrated_before_it(
    fresh_dsn: str, tmp_path: Path
) -> None:
    # A database at 0011 (before reads carried a colour) migrated on: reads and retained reads
    # gain the column in the same place, as retention copies one into the other by position.
    for path in migration_files():
        if int(path.name[:4]) <= 11:
            (tmp_path / path.name).write_text(path.read_text())
    conn = await asyncpg.connect(fresh_dsn)
    try:
        await migrate(conn, tmp_path)
        assert "vehicle_colour" not in await columns(conn, "plate_reads")
        report = await migrate(conn)
        assert report.applied[0] == "0012_vehicle_colour.sql"
        reads, retained = await columns(conn, "plate_reads"), await columns(conn, "retained_reads")
    finally:
        await conn.close()
    assert reads == retained and "vehicle_colour" in reads


async def test_indices_made_before_the_vehicle_colour_take_it_when_the_template_is_put(
    settings: Settings, unique: str
) -> None:
    # An index the old template made is strict and lacks the field: a read with a colour
    # would be refused there until the projection puts the template again at its start.
    require_port(settings.elasticsearch.url, "Elasticsearch")
    prefix = f"t{unique}"
    read = plate_read_datum(vehicle_colour="green")
    index = index_for(prefix, read["captured_at"])
    old = {n: p for n, p in MAPPING["properties"].items() if n not in ADDED_PROPERTIES}
    es = AsyncElasticsearch(settings.elasticsearch.url)
    try:
        await es.indices.create(index=index, mappings={"dynamic": "strict", "properties": old})
        refused = await es.options(ignore_status=400).index(
            index=index, id=read["event_id"], document=read_document(read)
        )
        assert refused["error"]["type"] == "strict_dynamic_mapping_exception"
        await put_template(es, prefix, shards=1, replicas=0)
        await es.create(
            index=index, id=read["event_id"], document=read_document(read), refresh=True
        )
        found = await es.search(index=index, query={"term": {"vehicle_colour": "green"}})
        assert [hit["_id"] for hit in found["hits"]["hits"]] == [read["event_id"]]
    finally:
        await es.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
        await es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-reads")
        await es.close()
