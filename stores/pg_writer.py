"""Writing reads to PostgreSQL: binary COPY, and an idempotent path for batches seen before.

``COPY`` cannot skip rows that exist. A batch first goes by binary ``COPY`` straight into
``plate_reads`` with its hourly counts (the fast path: new reads, the usual case); when a read
of it is already stored the unique key refuses the whole COPY, and the batch goes again by
``COPY`` into a temporary table and from there into ``plate_reads`` with ``ON CONFLICT DO
NOTHING`` on the event id, the same statement adding the rows really inserted to the hourly
rollup (native mode). Replays come in runs, so after a conflict the next batches take the
idempotent path directly. Either way a replay changes neither the reads nor the counts, the
batch is one transaction (all of it stored or nothing), and the caller moves its offsets only
after the commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

import asyncpg

from stores.copy_rows import COPY_COLUMNS, COPY_HEADER, COPY_TRAILER, CopyRow
from stores.migrations import SchemaBehind, StorageMode, current_pool, storage_mode
from stores.partitions import ensure_partitions, existing_days, utc_day
from stores.rows import COLUMNS, Row

INCOMING = "plate_reads_incoming"

_CREATE_INCOMING = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {INCOMING} (LIKE plate_reads) ON COMMIT DELETE ROWS"
)

_INSERT_NATIVE = f"""
WITH inserted AS (
    INSERT INTO plate_reads SELECT * FROM {INCOMING} ON CONFLICT DO NOTHING
    RETURNING camera_id, captured_at
), hourly AS (
    INSERT INTO plate_reads_hourly AS h (camera_id, hour, reads)
    SELECT camera_id, date_trunc('hour', captured_at, 'UTC'), count(*)
    FROM inserted GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (camera_id, hour) DO UPDATE SET reads = h.reads + EXCLUDED.reads
)
SELECT count(*) FROM inserted
"""

_INSERT_TIMESCALE = f"""
WITH inserted AS (
    INSERT INTO plate_reads SELECT * FROM {INCOMING} ON CONFLICT DO NOTHING RETURNING 1
)
SELECT count(*) FROM inserted
"""

#: Hourly counts of a batch copied straight into plate_reads (every row of it is new).
_ADD_HOURLY = """
INSERT INTO plate_reads_hourly AS h (camera_id, hour, reads)
SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::bigint[]) ORDER BY 1, 2
ON CONFLICT (camera_id, hour) DO UPDATE SET reads = h.reads + EXCLUDED.reads
"""

#: Batches that take the idempotent path after one met a stored read (a replay).
IDEMPOTENT_RUN = 20

#: Errors of a store that is down, restarting or busy: wait and write the batch again.
TRANSIENT_PG_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    ConnectionError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
    asyncpg.LockNotAvailableError,
    asyncpg.QueryCanceledError,
    # A connection whose server was killed mid-operation (SIGKILL, found by `alpr drill
    # --drill postgres-kill`): "cannot switch to state 15; another operation (2) is in
    # progress". The pool throws the connection away; the batch is written on a new one.
    asyncpg.InternalClientError,
    # The schema lacks a migration: waited for until `alpr bootstrap` (named in /health).
    SchemaBehind,
)

#: Errors a row itself causes: it can never be written as it is.
ROW_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.DataError,
    asyncpg.IntegrityConstraintViolationError,
    ValueError,
    TypeError,
)


Hourly = tuple[list[str], list[datetime], list[int]]

_HOUR_MS = 3_600_000
_DAY_MS = 86_400_000
_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def hourly_counts(rows: Sequence[Row]) -> Hourly:
    """Reads per (camera, UTC hour) of ``rows``, as the columns of ``plate_reads_hourly``,
    sorted so concurrent writers lock the rollup's rows in one order."""
    counts: dict[tuple[str, datetime], int] = {}
    for row in rows:
        hour = row[1].astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        key = (row[4], hour)
        counts[key] = counts.get(key, 0) + 1
    return _ordered(counts.items())


def hourly_counts_of_copy_rows(rows: Sequence[CopyRow]) -> Hourly:
    """:func:`hourly_counts` of transcoded rows (counted on integer hours, then dated)."""
    counts: dict[tuple[str, int], int] = {}
    for row in rows:
        key = (row.camera_id, row.captured_ms // _HOUR_MS)
        counts[key] = counts.get(key, 0) + 1
    return _ordered(
        ((camera, _UNIX_EPOCH + timedelta(hours=hour)), n) for (camera, hour), n in counts.items()
    )


def _ordered(counts: Iterable[tuple[tuple[str, datetime], int]]) -> Hourly:
    ordered = sorted(counts)
    return [c for (c, _), _ in ordered], [h for (_, h), _ in ordered], [n for _, n in ordered]


class _Batch(Protocol):
    """Rows to store, as tuples or as transcoded COPY rows."""

    def __len__(self) -> int: ...
    def days(self) -> set[date]: ...
    def hourly(self) -> Hourly: ...
    async def copy(self, conn: asyncpg.Connection, table: str) -> None: ...


@dataclass(frozen=True)
class _TupleRows:
    rows: Sequence[Row]

    def __len__(self) -> int:
        return len(self.rows)

    def days(self) -> set[date]:
        return {utc_day(row[1]) for row in self.rows}

    def hourly(self) -> Hourly:
        return hourly_counts(self.rows)

    async def copy(self, conn: asyncpg.Connection, table: str) -> None:
        await conn.copy_records_to_table(table, records=self.rows, columns=COLUMNS)


@dataclass(frozen=True)
class _CopyRows:
    rows: Sequence[CopyRow]

    def __len__(self) -> int:
        return len(self.rows)

    def days(self) -> set[date]:
        days = {row.captured_ms // _DAY_MS for row in self.rows}
        return {(_UNIX_EPOCH + timedelta(days=day)).date() for day in days}

    def hourly(self) -> Hourly:
        return hourly_counts_of_copy_rows(self.rows)

    async def copy(self, conn: asyncpg.Connection, table: str) -> None:
        payload = b"".join([COPY_HEADER, *(row.data for row in self.rows), COPY_TRAILER])
        # A memoryview: asyncpg would take bytes for a file name.
        await conn.copy_to_table(
            table, source=memoryview(payload), columns=COPY_COLUMNS, format="binary"
        )


def insert_sql(mode: StorageMode) -> str:
    """The statement that moves a batch into ``plate_reads``: in native mode it also counts
    the rows really inserted into the hourly rollup; TimescaleDB's continuous aggregate
    counts by itself."""
    return _INSERT_NATIVE if mode == "native" else _INSERT_TIMESCALE


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT_PG_ERRORS)


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.execute(_CREATE_INCOMING)


class PgReadWriter:
    """Writes batches of rows to ``plate_reads`` over a pool opened on first use."""

    def __init__(
        self, dsn: str, pool_min: int = 1, pool_max: int = 4, partitions_ahead: int = 7
    ) -> None:
        self.dsn = dsn
        self.pool_min = pool_min
        self.pool_max = pool_max
        self.partitions_ahead = partitions_ahead
        self._pool: asyncpg.Pool | None = None
        self._mode: StorageMode | None = None
        self._days: set[date] = set()
        self._opening = asyncio.Lock()
        #: Batches left to write by the idempotent path (set when one met a stored read).
        self._idempotent_left = 0

    async def pool(self) -> asyncpg.Pool:
        async with self._opening:
            if self._pool is None:
                pool = await current_pool(
                    self.dsn,
                    min_size=self.pool_min,
                    max_size=self.pool_max,
                    init=_init_connection,
                    command_timeout=120,
                )
                async with pool.acquire() as conn:
                    mode = await storage_mode(conn)
                    assert mode is not None  # recorded by the first migration
                    self._mode = mode
                    if mode == "native":
                        self._days = await existing_days(conn)
                self._pool = pool
            return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def write(self, rows: Sequence[Row]) -> int:
        """Store ``rows`` in one transaction; return how many were new."""
        return await self._write_batch(_TupleRows(rows))

    async def write_copy_rows(self, rows: Sequence[CopyRow]) -> int:
        """Store reads transcoded by :mod:`stores.copy_rows` in one transaction; return how
        many were new."""
        return await self._write_batch(_CopyRows(rows))

    async def _write_batch(self, rows: _Batch) -> int:
        if not len(rows):
            return 0
        pool = await self.pool()
        async with pool.acquire() as conn:
            try:
                return await self._write(conn, rows)
            except asyncpg.CheckViolationError as exc:
                if "no partition" not in str(exc):
                    raise
                # Retention dropped a partition this writer had seen: look again.
                self.forget_partitions()
                return await self._write(conn, rows)

    async def _write(self, conn: asyncpg.Connection, rows: _Batch) -> int:
        if self._mode == "native":
            await self._ensure_days(conn, rows.days())
        if self._idempotent_left > 0:
            self._idempotent_left -= 1
        else:
            try:
                return await self._copy_new(conn, rows)
            except asyncpg.UniqueViolationError:
                self._idempotent_left = IDEMPOTENT_RUN
        return await self._copy_idempotent(conn, rows)

    async def _copy_new(self, conn: asyncpg.Connection, rows: _Batch) -> int:
        """COPY straight into plate_reads; the unique key refuses a batch with a stored read."""
        async with conn.transaction():
            await rows.copy(conn, "plate_reads")
            if self._mode == "native":
                await conn.execute(_ADD_HOURLY, *rows.hourly())
        return len(rows)

    async def _copy_idempotent(self, conn: asyncpg.Connection, rows: _Batch) -> int:
        async with conn.transaction():
            await rows.copy(conn, INCOMING)
            assert self._mode is not None  # set when the pool was opened
            inserted: int = await conn.fetchval(insert_sql(self._mode))
        return inserted

    async def _ensure_days(self, conn: asyncpg.Connection, days: set[date]) -> None:
        missing = days - self._days
        if missing:
            await ensure_partitions(conn, missing)
            self._days |= missing

    def forget_partitions(self) -> None:
        """Forget the partitions seen, after retention or a rebuild dropped some."""
        self._days.clear()


async def create_partitions_ahead(conn: asyncpg.Connection, ahead: int) -> list[date]:
    """Create today's partition, yesterday's and ``ahead`` days after today (native mode)."""
    from stores.partitions import days_ahead

    if await storage_mode(conn) != "native":
        return []
    return await ensure_partitions(conn, days_ahead(datetime.now(UTC).date(), ahead))
