"""``project_reads_to_postgres``: ``alpr.plates.detected`` -> ``plate_reads`` in PostgreSQL.

Batches from ``stream.take`` go in one transaction each (binary COPY, then an insert that
skips event ids already stored), so replays and restarts add nothing; the batch's offsets
advance only after the commit. While PostgreSQL is down the batch is retried with backoff.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from agents.projections_common import (
    dead_letter,
    plates_detected_bytes,
    run_projection,
    unwritable,
    worker_backoff,
)
from alpr import app
from config.settings import get_settings
from stores import metrics
from stores.config import ProjectionSettings, get_projection_settings
from stores.isolating import IsolatingWriter
from stores.pg_writer import ROW_ERRORS, PgReadWriter, is_transient
from stores.rows import Row, read_row

STORE = "pg"


class PostgresProjection:
    """Maps reads to rows and stores them; rows PostgreSQL refuses become dead letters."""

    def __init__(self, writer: PgReadWriter, settings: ProjectionSettings) -> None:
        self.writer = writer
        retries = metrics.RETRIES.labels(STORE)
        self.isolating: IsolatingWriter[Row] = IsolatingWriter(
            "PostgreSQL write",
            writer.write,
            is_transient,
            ROW_ERRORS,
            self._refused,
            worker_backoff(settings),
            on_retry=lambda _exc: retries.inc(),
        )

    async def store(self, reads: list[tuple[Any, dict[str, Any]]]) -> int:
        pairs: list[tuple[Any, Row]] = []
        for event, read in reads:
            try:
                pairs.append((event, read_row(read)))
            except (KeyError, TypeError, ValueError) as exc:
                await self._refused(event, f"read does not map to a row: {exc!r}")
        return await self.isolating.write(pairs)

    async def _refused(self, event: Any, message: str) -> None:
        await dead_letter(STORE, event, unwritable(message, None))


def build_writer() -> PgReadWriter:
    pg = get_settings().postgres
    return PgReadWriter(
        pg.dsn,
        pool_min=min(pg.pool_min, 2),
        pool_max=max(min(pg.pool_max, 4), 1),
        partitions_ahead=get_projection_settings().partitions_ahead_days,
    )


if get_projection_settings().enable_pg:

    @app.agent(plates_detected_bytes, name="project_reads_to_postgres")
    async def project_reads_to_postgres(stream: Any) -> AsyncIterator[int]:
        """Store every read of alpr.plates.detected in PostgreSQL exactly once."""
        settings = get_projection_settings()
        writer = build_writer()
        projection = PostgresProjection(writer, settings)
        try:
            async for new in run_projection(STORE, stream, settings, projection.store, True):
                yield new
        finally:
            await writer.close()
