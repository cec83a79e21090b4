"""Retention on the real PostgreSQL, Elasticsearch and S3: old days go whole, with their crop
images; reads linked to an alert stay until the longer alert limit; a second pass does
nothing more."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiobotocore.session import get_session
from elasticsearch import AsyncElasticsearch

from agents.projections.retention import run_retention
from config.settings import Settings, load_settings
from stores.es_docs import alias_name, index_for, read_document
from stores.es_writer import Doc, EsReadWriter, make_client, put_template
from stores.migrations import migrate
from stores.pg_writer import PgReadWriter
from stores.retention import prune_plate_keys
from stores.rows import read_row
from streams.retry import Backoff
from tests.integration.conftest import require_port
from tests.support.stores import create_database, drop_database, es_event_ids, plate_read_datum

NOW = datetime.now(UTC)


@pytest.fixture
async def scratch_settings(settings: Settings, unique: str) -> AsyncIterator[Settings]:
    require_port(settings.postgres.dsn.split("@")[-1].split("/")[0], "PostgreSQL")
    require_port(settings.elasticsearch.url, "Elasticsearch")
    require_port(settings.s3.endpoint, "S3")
    database = f"alpr_test_{unique}"
    dsn = await create_database(settings.postgres.dsn, database)
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    bucket = f"alpr-test-{unique}"
    scratch = load_settings(
        postgres={"dsn": dsn},
        elasticsearch={"url": settings.elasticsearch.url, "index_prefix": f"t{unique}"},
        s3={**settings.s3.model_dump(), "bucket": bucket,
            "secret_key": settings.s3.secret_key.get_secret_value()},
        retention={"reads_days": 30, "alert_days": 365},
    )  # fmt: skip
    async with get_session().create_client("s3", **scratch.s3.client_kwargs()) as s3:
        await s3.create_bucket(Bucket=bucket)
    yield scratch
    await drop_database(settings.postgres.dsn, database)
    es = AsyncElasticsearch(settings.elasticsearch.url)
    try:
        await es.indices.delete(index=f"t{unique}-*", ignore_unavailable=True)
        await es.options(ignore_status=404).indices.delete_index_template(name=f"t{unique}-reads")
    finally:
        await es.close()
    async with get_session().create_client("s3", **scratch.s3.client_kwargs()) as s3:
        listed = await s3.list_objects_v2(Bucket=bucket)
        for obj in listed.get("Contents", []):
            await s3.delete_object(Bucket=bucket, Key=obj["Key"])
        await s3.delete_bucket(Bucket=bucket)


def _read(name: str, age: timedelta, plate: str = "AB12CDE") -> dict[str, Any]:
    return plate_read_datum(
        captured_at=NOW - age,
        plate_text=plate,
        plate_crop_key=f"crops/{name}/plate.jpg",
        vehicle_image_key=f"crops/{name}/vehicle.jpg",
    )


async def _store(settings: Settings, reads: list[dict[str, Any]]) -> None:
    writer = PgReadWriter(settings.postgres.dsn)
    try:
        assert await writer.write([read_row(r) for r in reads]) == len(reads)
    finally:
        await writer.close()
    prefix = settings.elasticsearch.index_prefix
    client = make_client(settings.elasticsearch.url)
    try:
        await put_template(client, prefix, 1, 0)
        docs = [Doc(index_for(prefix, r["captured_at"]), r["event_id"], read_document(r))
                for r in reads]  # fmt: skip

        async def refused(position: int, reason: str) -> None:
            raise AssertionError(f"document {position} refused: {reason}")

        assert await EsReadWriter(client, Backoff()).write(docs, refused) == len(reads)
    finally:
        await client.close()
    async with get_session().create_client("s3", **settings.s3.client_kwargs()) as s3:
        for read in reads:
            for key in (read["plate_crop_key"], read["vehicle_image_key"]):
                await s3.put_object(Bucket=settings.s3.bucket, Key=key, Body=b"jpeg")


async def _alert(settings: Settings, read: dict[str, Any], raised_at: datetime) -> None:
    conn = await asyncpg.connect(settings.postgres.dsn)
    try:
        await conn.execute(
            "INSERT INTO alerts (alert_id, rule_id, event_id, captured_at, plate, camera_id,"
            " raised_at) VALUES ($1, 'watch', $2, $3, $4, $5, $6)",
            f"alert-{read['event_id']}", read["event_id"], read["captured_at"], read["plate"],
            read["camera_id"], raised_at,
        )  # fmt: skip
        # An operator assigned and acknowledged it: those rows go with the alert.
        await conn.execute(
            "INSERT INTO alert_assignments (alert_id, assignee, assigned_by, assigned_at,"
            " assignment_id) VALUES ($1, 'dana', 'eve (k1)', $2, 'g1')",
            f"alert-{read['event_id']}", raised_at,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO alert_acknowledgements (alert_id, acknowledged_by, acknowledged_at,"
            " acknowledgement_id) VALUES ($1, 'eve (k1)', $2, 'n1')",
            f"alert-{read['event_id']}", raised_at,
        )  # fmt: skip
    finally:
        await conn.close()


async def _objects(settings: Settings) -> set[str]:
    async with get_session().create_client("s3", **settings.s3.client_kwargs()) as s3:
        listed = await s3.list_objects_v2(Bucket=settings.s3.bucket)
        return {obj["Key"] for obj in listed.get("Contents", [])}


async def test_old_days_go_with_their_crops_and_alert_reads_stay_for_their_limit(
    scratch_settings: Settings,
) -> None:
    settings = scratch_settings
    recent = [_read("recent-1", timedelta(days=1)), _read("recent-2", timedelta(days=29))]
    old = [_read("old-1", timedelta(days=40)), _read("old-2", timedelta(days=40))]
    old_alert = _read("old-alert", timedelta(days=40))
    ancient_alert = _read("ancient-alert", timedelta(days=400))
    await _store(settings, [*recent, *old, old_alert, ancient_alert])
    await _alert(settings, old_alert, NOW - timedelta(days=40))
    await _alert(settings, ancient_alert, NOW - timedelta(days=380))

    report = await run_retention(settings, NOW)
    assert report is not None
    assert len(report.partitions) == 2 and len(report.indices) == 2
    assert (report.kept_for_alerts, report.expired_alert_reads) == (2, 1)

    conn = await asyncpg.connect(settings.postgres.dsn)
    try:
        live = {r[0] for r in await conn.fetch("SELECT event_id FROM plate_reads")}
        kept = {r[0] for r in await conn.fetch("SELECT event_id FROM retained_reads")}
        alerts = await conn.fetchval("SELECT count(*) FROM alerts")
        actions = [
            {r[0] for r in await conn.fetch(f"SELECT alert_id FROM {table}")}
            for table in ("alert_assignments", "alert_acknowledgements")
        ]
    finally:
        await conn.close()
    assert live == {r["event_id"] for r in recent}
    assert kept == {old_alert["event_id"]}
    assert alerts == 1
    assert actions == [{f"alert-{old_alert['event_id']}"}] * 2

    es = AsyncElasticsearch(settings.elasticsearch.url)
    try:
        searchable = set(await es_event_ids(es, alias_name(settings.elasticsearch.index_prefix)))
    finally:
        await es.close()
    assert searchable == {r["event_id"] for r in [*recent, old_alert]}

    names = ["recent-1", "recent-2", "old-alert"]
    assert await _objects(settings) == {
        f"crops/{n}/{kind}.jpg" for n in names for kind in ("plate", "vehicle")
    }

    again = await run_retention(settings, NOW)
    assert again is not None
    assert again.summary() == RetentionReportZero
    assert live == {r["event_id"] for r in recent}


RetentionReportZero = (
    "0 partition(s) dropped, 0 index(es) deleted, 0 alert read(s) retained, "
    "0 retained read(s) expired, 0 object(s) deleted, 0 plate key(s) pruned"
)


async def _plate_keys(settings: Settings) -> set[str]:
    conn = await asyncpg.connect(settings.postgres.dsn)
    try:
        return {row[0] for row in await conn.fetch("SELECT plate FROM plate_keys")}
    finally:
        await conn.close()


async def test_plates_left_with_no_read_lose_their_lookup_key(scratch_settings: Settings) -> None:
    settings = scratch_settings
    reads = [
        _read("gone", timedelta(days=40), plate="GONE1"),  # its only read expires
        _read("both-old", timedelta(days=40), plate="BOTH1"),  # a recent read is left
        _read("both-new", timedelta(days=2), plate="BOTH1"),
        _read("alert", timedelta(days=40), plate="ALRT1"),  # kept with its alert
        _read("ancient", timedelta(days=400), plate="OLDA1"),  # alert past its own limit
        _read("new", timedelta(days=1), plate="NEWS1"),
    ]
    await _store(settings, reads)
    await _alert(settings, reads[3], NOW - timedelta(days=40))
    await _alert(settings, reads[4], NOW - timedelta(days=380))
    assert await _plate_keys(settings) == {"GONE1", "BOTH1", "ALRT1", "OLDA1", "NEWS1"}

    report = await run_retention(settings, NOW)
    assert report is not None and report.plate_keys == 2
    assert await _plate_keys(settings) == {"BOTH1", "ALRT1", "NEWS1"}
    conn = await asyncpg.connect(settings.postgres.dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM plate_keys_expiring") == 0
    finally:
        await conn.close()

    # A plate read again after its key went gets it back through the trigger.
    await _store(settings, [_read("back", timedelta(hours=1), plate="GONE1")])
    assert "GONE1" in await _plate_keys(settings)


async def test_pruning_steps_through_every_noted_plate(scratch_settings: Settings) -> None:
    conn = await asyncpg.connect(scratch_settings.postgres.dsn)
    try:
        await conn.execute(
            "INSERT INTO plate_keys SELECT 'P' || n, 'P' || n FROM generate_series(1, 25) n"
        )
        await conn.execute(
            "INSERT INTO plate_keys_expiring SELECT 'P' || n FROM generate_series(1, 25) n"
        )
        assert await prune_plate_keys(conn, step=10) == 25
        assert await conn.fetchval("SELECT count(*) FROM plate_keys") == 0
        assert await conn.fetchval("SELECT count(*) FROM plate_keys_expiring") == 0
    finally:
        await conn.close()
