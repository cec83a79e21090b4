"""Daily range partitions of ``plate_reads`` (native mode): names, bounds and creation.

A partition holds the reads captured on one UTC day, ``[day 00:00, day+1 00:00)``, and is
named ``plate_reads_pYYYYMMDD`` so that names sort by day and say which day they hold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

import asyncpg

PARENT = "plate_reads"
_NAME = re.compile(rf"^{PARENT}_p(\d{{8}})$")


def partition_name(day: date) -> str:
    return f"{PARENT}_p{day:%Y%m%d}"


def day_of_partition(name: str) -> date | None:
    """The day a partition name holds, or None for a name that is not a daily partition."""
    match = _NAME.match(name)
    return None if match is None else datetime.strptime(match[1], "%Y%m%d").date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The half-open UTC range of one day."""
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start, start + timedelta(days=1)


def utc_day(moment: datetime) -> date:
    if moment.tzinfo is None:
        raise ValueError(f"moment must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(UTC).date()


def days_ahead(today: date, ahead: int, behind: int = 1) -> list[date]:
    """``today`` and the ``ahead`` days after it, plus ``behind`` days before it."""
    if ahead < 0 or behind < 0:
        raise ValueError(f"ahead and behind must be >= 0, got ahead={ahead} behind={behind}")
    return [today + timedelta(days=n) for n in range(-behind, ahead + 1)]


def create_sql(day: date) -> str:
    start, end = day_bounds(day)
    return (
        f"CREATE TABLE IF NOT EXISTS {partition_name(day)} PARTITION OF {PARENT} "
        f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
    )


async def existing_days(conn: asyncpg.Connection) -> set[date]:
    """The days that have a partition of ``plate_reads``."""
    rows = await conn.fetch(
        "SELECT c.relname FROM pg_inherits i"
        " JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = $1::regclass",
        PARENT,
    )
    return {day for row in rows if (day := day_of_partition(row["relname"])) is not None}


async def ensure_partitions(conn: asyncpg.Connection, days: Iterable[date]) -> list[date]:
    """Create the partitions of ``days`` that are missing; return the days created."""
    missing = sorted(set(days) - await existing_days(conn))
    for day in missing:
        # A concurrent writer may create the same day first: IF NOT EXISTS covers that, and
        # the lock serialises the check with the creation of partitions of one parent.
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", PARENT)
            await conn.execute(create_sql(day))
    return missing
