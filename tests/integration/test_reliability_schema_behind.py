"""A worker on a PostgreSQL one migration behind the code (a deployment that skipped
``alpr bootstrap``): it stays up, ``/health`` says ``degraded`` and names the missing
migration and the command, no read is lost, and once the migration is applied every read is
stored without a restart. Before, the PostgreSQL projection crashed the worker with
``UndefinedColumnError`` at its first write."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from config.settings import Settings
from ops.worker import WorkerProcess, free_port
from stores.migrations import migrate, migration_files
from streams.codec import default_schema_cache
from tests.integration.conftest import require_port
from tests.integration.test_router import produce
from tests.support.isolated import IsolatedRun
from tests.support.stores import create_database, drop_database
from tests.support.streams import encode_plate_event

READS = 50
#: How long the test waits for each state it expects (not a measure: it waits for less).
WAIT_S = 120.0


@pytest.fixture
async def run(settings: Settings, unique: str) -> AsyncIterator[IsolatedRun]:
    require_port(settings.kafka.bootstrap_servers, "Kafka")
    isolated = IsolatedRun("test-schema", unique)
    await isolated.create_worker_topics(settings.kafka.bootstrap_servers, settings.kafka.partitions)
    yield isolated
    await isolated.drop(settings.kafka.bootstrap_servers, settings.schema_registry.url)


@pytest.fixture
async def behind_dsn(settings: Settings, unique: str, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh database with every migration but the last."""
    require_port(settings.postgres.dsn.split("@")[-1].split("/")[0], "PostgreSQL")
    database = f"alpr_test_{unique}"
    dsn = await create_database(settings.postgres.dsn, database)
    older = tmp_path / "migrations"
    older.mkdir()
    for path in migration_files()[:-1]:
        shutil.copy(path, older / path.name)
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn, older)
    finally:
        await conn.close()
    yield dsn
    await drop_database(settings.postgres.dsn, database)


async def wait_for(what: str, check: Any, worker: WorkerProcess) -> Any:
    """Poll ``check`` (async, returning a truthy value when done) while the worker runs."""
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while asyncio.get_running_loop().time() < deadline:
        assert worker.process is not None and worker.process.poll() is None, (
            f"the worker exited:\n{worker.log_tail()}"
        )
        if found := await check():
            return found
        await asyncio.sleep(1)
    raise AssertionError(f"{what} not seen in {WAIT_S:.0f}s:\n{worker.log_tail()}")


async def test_a_worker_on_a_schema_behind_waits_names_the_migration_and_loses_nothing(
    settings: Settings, run: IsolatedRun, behind_dsn: str, tmp_path: Path
) -> None:
    raw = run.topic("raw")
    cache = default_schema_cache()
    ids = {str(uuid.uuid4()) for _ in range(READS)}
    messages = [(e.encode(), encode_plate_event(cache, f"{raw}-value", event_id=e)) for e in ids]
    await produce(settings.kafka.bootstrap_servers, raw, messages)
    missing = migration_files()[-1].name
    env = {
        **os.environ,
        **run.env(),
        "ALPR_POSTGRES__DSN": behind_dsn,
        "ALPR_PROJECTIONS__ENABLE_ES": "false",
    }

    async def stored() -> int:
        conn = await asyncpg.connect(behind_dsn)
        try:
            count = await conn.fetchval(
                "SELECT count(*) FROM plate_reads WHERE event_id = ANY($1::text[])", list(ids)
            )
        finally:
            await conn.close()
        return int(count)

    with WorkerProcess(tmp_path / "worker", free_port(), env=env) as worker:

        async def waiting_on_the_schema() -> dict[str, Any] | None:
            health = worker.health()
            waiting = (health or {}).get("waiting_on", {}).get("postgres", {})
            return health if missing in str(waiting.get("error", "")) else None

        health = await wait_for("/health naming the migration", waiting_on_the_schema, worker)
        assert health["status"] == "degraded", health
        assert "run `alpr bootstrap`" in health["waiting_on"]["postgres"]["error"], health
        assert await stored() == 0

        conn = await asyncpg.connect(behind_dsn)
        try:
            await migrate(conn)  # what `alpr bootstrap` does
        finally:
            await conn.close()

        async def all_stored() -> bool:
            return await stored() == READS

        await wait_for("every read stored", all_stored, worker)
        after = worker.health()
        assert after is not None and "postgres" not in after["waiting_on"], after
        assert "UndefinedColumn" not in worker.log_path.read_text(errors="replace")
