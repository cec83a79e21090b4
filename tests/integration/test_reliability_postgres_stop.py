"""``ops/stack down postgres`` stops PostgreSQL cleanly while a worker's pool is connected
(issue 17, finding 5).

The stack sent SIGTERM, PostgreSQL's smart shutdown, which waits for every client to leave;
a worker's connection pool never leaves, so after 30 s the stack SIGKILLed the server, which
then started with crash recovery (and the schema registry on it answered 500 meanwhile).
Now the stack asks for the fast shutdown (SIGINT, as ``pg_ctl stop -m fast``): clients are
disconnected and the server writes its shutdown checkpoint. Run on a private PostgreSQL
(``ops.private_stack``), never the shared one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
import pytest

from ops.private_stack import PrivateStores


@pytest.fixture
def private_postgres() -> Iterator[PrivateStores]:
    stores = PrivateStores()
    try:
        stores.start("postgres")
        yield stores
    finally:
        stores.close()


def postgres_log(stores: PrivateStores) -> str:
    return "".join(p.read_text(errors="replace") for p in stores.layout.logs.glob("postgres*"))


async def test_postgres_stops_cleanly_with_a_pool_connected(
    private_postgres: PrivateStores,
) -> None:
    pool = await asyncpg.create_pool(private_postgres.postgres_dsn, min_size=4, max_size=4)
    try:
        assert await pool.fetchval("SELECT 1") == 1
        await asyncio.to_thread(private_postgres.stop, "postgres")
        log = postgres_log(private_postgres)
        assert "fast shutdown request" in log and "database system is shut down" in log, log
        assert "smart shutdown" not in log, log
    finally:
        pool.terminate()
    await asyncio.to_thread(private_postgres.start, "postgres")
    restarted = postgres_log(private_postgres)
    assert "was interrupted" not in restarted and "automatic recovery" not in restarted
    connection = await asyncpg.connect(private_postgres.postgres_dsn)
    try:
        assert await connection.fetchval("SELECT 1") == 1
    finally:
        await connection.close()
