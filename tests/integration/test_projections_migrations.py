"""``alpr db migrate`` on a fresh database of the real PostgreSQL: applied once, recorded,
idempotent, safe to run concurrently, and refusing an applied file that was edited."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from config.settings import Settings
from stores.migrations import MigrationError, migrate, migration_files
from stores.partitions import partition_name
from tests.integration.conftest import require_port
from tests.support.stores import create_database, drop_database

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def fresh_dsn(settings: Settings, unique: str) -> AsyncIterator[str]:
    require_port(settings.postgres.dsn.split("@")[-1].split("/")[0], "PostgreSQL")
    database = f"alpr_test_{unique}"
    dsn = await create_database(settings.postgres.dsn, database)
    yield dsn
    await drop_database(settings.postgres.dsn, database)


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
