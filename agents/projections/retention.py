"""``alpr retention run`` and the retention timer of every worker.

Both run the same pass (``stores.retention``) under a PostgreSQL advisory lock, so with many
workers one pass runs at a time and the others skip theirs.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import asyncpg
from faust.cli import AppCommand
from faust.cli.base import cli

from alpr import app
from commands.groups import group_command
from config.settings import Settings, get_settings
from stores.es_writer import make_client
from stores.retention import (
    LOCK_KEY,
    Limits,
    RetentionReport,
    alert_event_ids,
    expire_es,
    expire_pg,
)

log = logging.getLogger(__name__)


@cli.group(name="retention")
def retention_group() -> None:
    """Expire plate reads, their documents and crop images past the retention limits."""


RetentionCommand = group_command(retention_group, "retention_")


async def delete_objects(settings: Settings, keys: list[str]) -> int:
    """Delete ``keys`` from the crops bucket, a thousand per request; return how many."""
    if not keys:
        return 0
    from aiobotocore.session import get_session

    async with get_session().create_client("s3", **settings.s3.client_kwargs()) as s3:
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            response = await s3.delete_objects(
                Bucket=settings.s3.bucket,
                Delete={"Objects": [{"Key": key} for key in chunk], "Quiet": True},
            )
            if response.get("Errors"):
                raise RuntimeError(f"S3 refused to delete: {response['Errors'][:5]}")
    return len(keys)


async def run_retention(settings: Settings, now: datetime | None = None) -> RetentionReport | None:
    """One retention pass; None when another pass holds the lock."""
    limits = Limits.at(
        now or datetime.now(UTC), settings.retention.reads_days, settings.retention.alert_days
    )
    conn = await asyncpg.connect(settings.postgres.dsn)
    try:
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY):
            return None
        report = RetentionReport()
        try:
            if settings.elasticsearch.url:
                client = make_client(settings.elasticsearch.url)
                try:

                    async def linked(day: Any) -> list[str]:
                        return await alert_event_ids(conn, day)

                    await expire_es(
                        client, settings.elasticsearch.index_prefix, limits, linked, report
                    )
                finally:
                    await client.close()

            async def delete_keys(keys: list[str]) -> int:
                return await delete_objects(settings, keys)

            await expire_pg(conn, limits, delete_keys, report)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
        return report
    finally:
        await conn.close()


@app.timer(get_settings().projections.retention_interval_s, on_leader=False)
async def expire_old_reads() -> None:
    """Run a retention pass now and then; a failed pass is logged and tried at the next tick."""
    try:
        report = await run_retention(get_settings())
    except Exception:
        log.exception("retention pass failed; trying again at the next tick")
        return
    if report is not None:
        log.info("retention: %s", report.summary())


@app.command(base=RetentionCommand)
async def retention_run(self: AppCommand) -> None:
    """Drop partitions, indices and crop images older than retention.reads_days now.

    Reads linked to an alert are kept in retained_reads (and the retained index) until
    retention.alert_days. Workers run the same pass on a timer
    (ALPR_PROJECTIONS__RETENTION_INTERVAL_S).
    """
    report = await run_retention(get_settings())
    if report is None:
        self.say("another retention pass is running; nothing done")
        return
    self.say(report.summary())
    for name in [*report.partitions, *report.indices]:
        self.say(f"  dropped {name}")
