"""Retention: drop the reads, documents and crop images older than the configured limits.

A day of reads goes whole once its last moment is older than ``reads_days``: its partition
(or TimescaleDB chunk) and its daily index are dropped, and the crops its reads point to are
deleted from S3. Reads linked to an alert are first copied to ``retained_reads`` and the
``<prefix>-reads-retained`` index, where they stay until they are older than ``alert_days``.
Alerts older than ``alert_days`` go with their assignments and acknowledgements (a rebuild
of those from their topics brings back rows of alerts no longer stored, which no page shows).
The lookup keys (``plate_keys``) of plates left with no read go too. Every step can run
again: a run that stops half-way is finished by the next.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import asyncpg
from elasticsearch import AsyncElasticsearch

from stores.es_docs import day_of_index, index_pattern, retained_index
from stores.migrations import storage_mode
from stores.partitions import existing_days, partition_name

#: Advisory lock key: one retention run at a time across workers and commands.
LOCK_KEY = 0x41_4C_50_52_02

DeleteKeys = Callable[[list[str]], Awaitable[int]]

#: The tables of operators' actions on alerts, keyed by alert id: they go with their alerts.
ALERT_ACTIONS = ("alert_assignments", "alert_acknowledgements")

#: Plates whose keys are looked at in one locked step of :func:`prune_plate_keys`.
PRUNE_STEP = 1000

_LINKED = "EXISTS (SELECT 1 FROM alerts a WHERE a.event_id = r.event_id" \
    " AND a.captured_at = r.captured_at)"  # fmt: skip


@dataclass(frozen=True)
class Limits:
    """The moments before which reads (``reads_before``) and alert reads expire."""

    reads_before: datetime
    alerts_before: datetime

    @classmethod
    def at(cls, now: datetime, reads_days: int, alert_days: int) -> Limits:
        if not 1 <= reads_days <= alert_days:
            raise ValueError(
                f"need 1 <= reads_days <= alert_days, got {reads_days} and {alert_days}"
            )
        return cls(now - timedelta(days=reads_days), now - timedelta(days=alert_days))

    def day_expired(self, day: date) -> bool:
        """Whether every moment of ``day`` (UTC) is before ``reads_before``."""
        end = datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)
        return end <= self.reads_before


def expired_days(days: Iterable[date], limits: Limits) -> list[date]:
    return sorted(day for day in days if limits.day_expired(day))


@dataclass
class RetentionReport:
    partitions: list[str] = field(default_factory=list)
    indices: list[str] = field(default_factory=list)
    kept_for_alerts: int = 0
    expired_alert_reads: int = 0
    objects: int = 0
    plate_keys: int = 0

    def summary(self) -> str:
        return (
            f"{len(self.partitions)} partition(s) dropped, {len(self.indices)} index(es) "
            f"deleted, {self.kept_for_alerts} alert read(s) retained, "
            f"{self.expired_alert_reads} retained read(s) expired, {self.objects} object(s) "
            f"deleted, {self.plate_keys} plate key(s) pruned"
        )


async def _crop_keys(conn: asyncpg.Connection, source: str, where: str, *args: Any) -> list[str]:
    rows = await conn.fetch(
        f"SELECT plate_crop_key, vehicle_image_key FROM {source} r WHERE {where}", *args
    )
    return sorted({key for row in rows for key in row if key})


async def expire_pg(
    conn: asyncpg.Connection, limits: Limits, delete_keys: DeleteKeys, report: RetentionReport
) -> None:
    """Expire reads in PostgreSQL, deleting the crops of reads that go."""
    mode = await storage_mode(conn)
    if mode == "native":
        for day in expired_days(await existing_days(conn), limits):
            table = partition_name(day)
            report.objects += await delete_keys(await _crop_keys(conn, table, f"NOT {_LINKED}"))
            async with conn.transaction():
                status = await conn.execute(
                    f"INSERT INTO retained_reads SELECT r.* FROM {table} r WHERE {_LINKED}"
                    " ON CONFLICT DO NOTHING"
                )
                report.kept_for_alerts += int(status.split()[-1])
                await _note_expiring(conn, table, "TRUE")
                await conn.execute(f"DROP TABLE {table}")
            report.partitions.append(table)
    elif mode == "timescale":
        where = f"r.captured_at < $1 AND NOT {_LINKED}"
        report.objects += await delete_keys(
            await _crop_keys(conn, "plate_reads", where, limits.reads_before)
        )
        async with conn.transaction():
            status = await conn.execute(
                "INSERT INTO retained_reads SELECT r.* FROM plate_reads r"
                f" WHERE r.captured_at < $1 AND {_LINKED} ON CONFLICT DO NOTHING",
                limits.reads_before,
            )
            report.kept_for_alerts += int(status.split()[-1])
            await _note_expiring(conn, "plate_reads", "r.captured_at < $1", limits.reads_before)
            chunks = await conn.fetch(
                "SELECT drop_chunks('plate_reads', older_than => $1)", limits.reads_before
            )
            report.partitions += [str(row[0]) for row in chunks]
    old = "r.captured_at < $1"
    report.objects += await delete_keys(
        await _crop_keys(conn, "retained_reads", old, limits.alerts_before)
    )
    async with conn.transaction():
        await _note_expiring(conn, "retained_reads", old, limits.alerts_before)
        status = await conn.execute(
            "DELETE FROM retained_reads r WHERE r.captured_at < $1", limits.alerts_before
        )
        report.expired_alert_reads += int(status.split()[-1])
        for actions in ALERT_ACTIONS:
            await conn.execute(
                f"DELETE FROM {actions} WHERE alert_id IN"
                " (SELECT alert_id FROM alerts WHERE raised_at < $1)",
                limits.alerts_before,
            )
        await conn.execute("DELETE FROM alerts WHERE raised_at < $1", limits.alerts_before)
        if mode == "native":
            await conn.execute(
                "DELETE FROM plate_reads_hourly WHERE hour < $1", limits.alerts_before
            )
    report.plate_keys += await prune_plate_keys(conn)


async def _note_expiring(conn: asyncpg.Connection, source: str, where: str, *args: Any) -> None:
    """Record the plates of the reads about to go (in the transaction that drops them)."""
    await conn.execute(
        f"INSERT INTO plate_keys_expiring SELECT DISTINCT r.plate FROM {source} r WHERE {where}"
        " ON CONFLICT DO NOTHING",
        *args,
    )


# The plate columns of the reads have the default collation, plate_keys' "C": compared in
# the reads' collation, so their (plate, captured_at) indexes answer.
_PRUNE = """
WITH step AS (
    DELETE FROM plate_keys_expiring WHERE plate IN (
        SELECT plate FROM plate_keys_expiring ORDER BY plate LIMIT $1
    ) RETURNING plate
), pruned AS (
    DELETE FROM plate_keys k USING step
    WHERE k.plate = step.plate
      AND NOT EXISTS (SELECT 1 FROM plate_reads r WHERE r.plate = k.plate COLLATE "default")
      AND NOT EXISTS (SELECT 1 FROM retained_reads r WHERE r.plate = k.plate COLLATE "default")
    RETURNING 1
)
SELECT (SELECT count(*) FROM step) AS looked, (SELECT count(*) FROM pruned) AS pruned
"""


async def prune_plate_keys(conn: asyncpg.Connection, step: int = PRUNE_STEP) -> int:
    """Delete the lookup keys of the plates retention noted that have no read left; return
    how many went.

    A projection adds keys (trigger on the reads) under a ROW EXCLUSIVE lock on plate_keys
    held until its commit. Each step takes SHARE ROW EXCLUSIVE first: it waits for the writes
    in flight, so their reads are seen and their keys kept, and holds new writes back for
    the step only (lookups, which only read plate_keys, are not held).
    """
    pruned = 0
    while True:
        async with conn.transaction():
            await conn.execute("LOCK TABLE plate_keys IN SHARE ROW EXCLUSIVE MODE")
            row = await conn.fetchrow(_PRUNE, step)
        assert row is not None  # an aggregate always returns its row
        pruned += int(row["pruned"])
        if row["looked"] < step:
            return pruned


async def expire_es(
    client: AsyncElasticsearch,
    prefix: str,
    limits: Limits,
    linked_ids: Callable[[date], Awaitable[list[str]]],
    report: RetentionReport,
) -> None:
    """Delete expired daily indices, copying alert-linked documents to the retained index."""
    found = await client.indices.get(index=index_pattern(prefix), allow_no_indices=True)
    kept = retained_index(prefix)
    for name in sorted(found.body):
        day = day_of_index(prefix, name)
        if day is None or not limits.day_expired(day):
            continue
        ids = await linked_ids(day)
        if ids:
            docs = await client.mget(index=name, ids=ids)
            operations: list[dict[str, Any]] = []
            for doc in docs["docs"]:
                if doc.get("found"):
                    operations += [{"index": {"_index": kept, "_id": doc["_id"]}}, doc["_source"]]
            if operations:
                response = await client.bulk(operations=operations, refresh=True)
                if response["errors"]:
                    raise RuntimeError(f"could not keep alert reads of {name}: {response['items']}")
        await client.indices.delete(index=name)
        report.indices.append(name)
    await _expire_retained_docs(client, kept, limits)


async def _expire_retained_docs(client: AsyncElasticsearch, index: str, limits: Limits) -> None:
    # delete_by_query lives in the reindex module, which the test distribution lacks.
    while True:
        response = await client.search(
            index=index, size=1000, source=False, ignore_unavailable=True,
            query={"range": {"captured_at": {"lt": limits.alerts_before.isoformat()}}},
        )  # fmt: skip
        hits = response["hits"]["hits"]
        if not hits:
            return
        await client.bulk(
            operations=[{"delete": {"_index": index, "_id": hit["_id"]}} for hit in hits],
            refresh=True,
        )


async def alert_event_ids(conn: asyncpg.Connection, day: date) -> list[str]:
    """Event ids of the reads captured on ``day`` that an alert links to."""
    start = datetime.combine(day, time(), tzinfo=UTC)
    rows = await conn.fetch(
        "SELECT DISTINCT event_id FROM alerts WHERE captured_at >= $1 AND captured_at < $2",
        start,
        start + timedelta(days=1),
    )
    return [row[0] for row in rows]
