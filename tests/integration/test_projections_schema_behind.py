"""The PostgreSQL writers on a real database one migration behind the code: they refuse to
open with :class:`SchemaBehind` naming that migration (waited for, shown in ``/health``), not
a missing column at the first write, and open once ``alpr bootstrap`` has applied it."""

from __future__ import annotations

import shutil
from pathlib import Path

import asyncpg
import pytest

from stores.alerts_writer import AlertWriter
from stores.migrations import SchemaBehind, migrate, migration_files, pending
from stores.pg_writer import PgReadWriter


async def test_writers_name_the_missing_migration_until_it_is_applied(
    fresh_dsn: str, tmp_path: Path
) -> None:
    files = migration_files()
    last = files[-1]
    for path in files[:-1]:
        shutil.copy(path, tmp_path / path.name)
    conn = await asyncpg.connect(fresh_dsn)
    try:
        await migrate(conn, tmp_path)  # a database as the code before the last migration
        assert [m.path.name for m in await pending(conn)] == [last.name]
        for writer in (PgReadWriter(fresh_dsn), AlertWriter(fresh_dsn)):
            with pytest.raises(SchemaBehind) as behind:
                await writer.pool()
            assert behind.value.missing == [last.name]
            assert "run `alpr bootstrap`" in str(behind.value)
        await migrate(conn)
        assert await pending(conn) == []
    finally:
        await conn.close()
    for writer in (PgReadWriter(fresh_dsn), AlertWriter(fresh_dsn)):
        await writer.pool()
        await writer.close()
