"""A worker whose PostgreSQL lacks a migration waits and says which one and what to run,
instead of crashing on ``UndefinedColumnError`` at its first write."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from stores import alerts_writer, pg_writer
from stores.migrations import SchemaBehind
from streams.outages import OUTAGES
from streams.retry import Backoff, retry_until_done


def test_the_message_names_the_missing_migrations_and_the_command() -> None:
    error = SchemaBehind(["0012_vehicle_colour.sql", "0013_more.sql"])
    assert error.component == "postgres"
    assert "0012_vehicle_colour.sql, 0013_more.sql not applied" in str(error)
    assert "run `alpr bootstrap`" in str(error)


@pytest.mark.parametrize("is_transient", [pg_writer.is_transient, alerts_writer.is_transient])
def test_both_postgres_writers_wait_for_it(is_transient: Callable[[BaseException], bool]) -> None:
    assert is_transient(SchemaBehind(["0012_vehicle_colour.sql"]))


async def test_health_names_the_migration_while_the_write_waits() -> None:
    seen: list[dict[str, dict[str, object]]] = []
    attempts = 0

    async def write() -> int:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise SchemaBehind(["0012_vehicle_colour.sql"])
        return 7

    async def sleep(_pause: float) -> None:
        seen.append(OUTAGES.status())

    written = await retry_until_done(
        "PostgreSQL write", write, pg_writer.is_transient, Backoff(0.0, 0.0), sleep=sleep
    )
    assert written == 7 and attempts == 3
    assert [set(status) for status in seen] == [{"postgres"}, {"postgres"}]
    error = str(seen[-1]["postgres"]["error"])
    assert "0012_vehicle_colour.sql not applied" in error and "alpr bootstrap" in error
    assert "postgres" not in OUTAGES.status()
