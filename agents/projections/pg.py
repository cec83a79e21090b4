"""The PostgreSQL projection: ``alpr.plates.detected`` -> ``plate_reads`` in PostgreSQL.

Batches of the projection's own consumer go in one transaction each (binary COPY, then an
insert that skips event ids already stored), so replays and restarts add nothing; the batch's
offsets are committed only after the transaction. While PostgreSQL is down the batch is
retried with backoff and no further batch is fetched.
"""

from __future__ import annotations

import contextlib
from typing import Any

from agents.projections.common import DeadLetterFn, Pair, ProjectionService, Store, unwritable
from alpr import app
from config.settings import get_settings
from stores import metrics
from stores.copy_rows import CopyRow, ReadTranscoder
from stores.decoding import Convert
from stores.isolating import IsolatingWriter
from stores.pg_writer import ROW_ERRORS, PgReadWriter, is_transient
from streams.codec import SchemaCache
from streams.retry import Abandoned, Backoff, retry_until_done

STORE = "pg"


class PostgresProjection:
    """Stores reads transcoded into COPY rows (:mod:`stores.copy_rows`) as they were decoded;
    rows PostgreSQL refuses become dead letters."""

    def __init__(self, writer: PgReadWriter, backoff: Backoff, dead_letter: DeadLetterFn) -> None:
        self.writer = writer
        self.dead_letter = dead_letter
        retries = metrics.RETRIES.labels(STORE)
        self.isolating: IsolatingWriter[CopyRow] = IsolatingWriter(
            "PostgreSQL write",
            writer.write_copy_rows,
            is_transient,
            ROW_ERRORS,
            self._refused,
            backoff,
            on_retry=lambda _exc: retries.inc(),
        )

    async def store(self, rows: list[Pair]) -> int:
        return await self.isolating.write(rows)

    async def _refused(self, record: Any, message: str) -> None:
        await self.dead_letter(record, unwritable(message, None))


def build_writer() -> PgReadWriter:
    pg = get_settings().postgres
    return PgReadWriter(
        pg.dsn,
        pool_min=min(pg.pool_min, 2),
        pool_max=max(min(pg.pool_max, 4), 1),
        partitions_ahead=get_settings().projections.partitions_ahead_days,
    )


if get_settings().projections.enable_pg:

    @app.service
    class PostgresProjectionService(ProjectionService):
        """Stores every read of alpr.plates.detected in PostgreSQL exactly once."""

        store_name = STORE
        writer: PgReadWriter | None = None

        def make_store(self, backoff: Backoff, dead_letter: DeadLetterFn) -> Store:
            self.writer = build_writer()
            return PostgresProjection(self.writer, backoff, dead_letter).store

        def own_decode_failures(self) -> bool:
            return True

        def read_converter(self, cache: SchemaCache) -> Convert[CopyRow]:
            return ReadTranscoder(cache)

        async def on_start(self) -> None:
            await super().on_start()
            self.add_future(self._open_store())

        async def _open_store(self) -> None:
            """Open the store at start, not at the first read: a schema behind the code
            (``SchemaBehind``) or PostgreSQL down is in ``/health`` from the start."""
            assert self.writer is not None  # made by build_consumer
            settings = get_settings().projections
            backoff = Backoff(
                settings.retry_first_s, settings.retry_max_s, stopping=lambda: self.should_stop
            )
            with contextlib.suppress(Abandoned):
                await retry_until_done("PostgreSQL open", self.writer.pool, is_transient, backoff)

        async def close_store(self) -> None:
            if self.writer is not None:
                await self.writer.close()
