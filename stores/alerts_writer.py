"""Alerts into PostgreSQL's ``alerts`` table (``migrations/0001``), idempotent on alert id.

One row per alert: ``event_id`` is the read that completed the rule (the last triggering
read), ``plate`` the plate or, for camera rules, the camera id the alert is about. The rest
of the alert (its message, type, every triggering read, the rule's figures) goes to
``details``. A replayed alert meets its row and inserts nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import asyncpg

from stores.migrations import SchemaBehind, current_pool
from stores.rows import rows_changed
from streams.alert import Alert

INSERT = """
INSERT INTO alerts (alert_id, rule_id, event_id, captured_at, plate, camera_id, severity,
                    raised_at, details)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[],
                     $6::text[], $7::text[], $8::timestamptz[], $9::jsonb[])
ON CONFLICT (alert_id) DO NOTHING
"""

#: Errors that pass: the server is down or restarting, or the pool lost its connection.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.InterfaceError,
    # The schema lacks a migration: waited for until `alpr bootstrap` (named in /health).
    SchemaBehind,
)


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT_ERRORS)


def alert_row(alert: Alert) -> tuple[Any, ...]:
    """The ``alerts`` row of ``alert`` (columns in the order of :data:`INSERT`)."""
    details = {
        "message": alert.message,
        "rule_type": alert.rule_type,
        "subject": alert.subject,
        "event_ids": list(alert.event_ids),
        "site_id": alert.site_id,
        "crop_key": alert.crop_key,
        **{f"figure_{key}": value for key, value in alert.details.items()},
    }
    return (
        alert.alert_id,
        alert.rule,
        alert.event_ids[-1] if alert.event_ids else alert.alert_id,
        alert.triggered_at,
        alert.plate or alert.subject,
        alert.camera_id,
        alert.severity,
        alert.raised_at,
        json.dumps(details, sort_keys=True),
    )


class AlertWriter:
    """Writes batches of alerts over a small pool opened on first use."""

    def __init__(self, dsn: str, pool_max: int = 2) -> None:
        self.dsn = dsn
        self.pool_max = pool_max
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()

    async def pool(self) -> asyncpg.Pool:
        async with self._opening:
            if self._pool is None:
                self._pool = await current_pool(
                    self.dsn, min_size=1, max_size=self.pool_max, command_timeout=60
                )
            return self._pool

    async def write(self, alerts: Sequence[Alert]) -> int:
        """Store ``alerts``; return how many were new."""
        rows = [alert_row(alert) for alert in alerts]
        columns = [list(column) for column in zip(*rows, strict=True)] if rows else [[]] * 9
        pool = await self.pool()
        async with pool.acquire() as conn:
            status = await conn.execute(INSERT, *columns)
        return rows_changed(status)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
