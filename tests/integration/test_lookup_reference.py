"""Alerts (list, filters, acknowledgement), hourly counts and cameras from a fresh PostgreSQL
database, and the choice of lookup backend against the real services."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from elasticsearch import AsyncElasticsearch

import stores.migrations
from config.settings import Settings, load_settings
from ops.worker import free_port
from stores.alert_acknowledgements import apply_acknowledgement
from stores.migrations import migrate, migration_files, plan
from streams.records import AlertAcknowledgement
from tests.integration.conftest import require_port
from tests.support.lookup import load_es, load_pg, plate_pool, reads
from tests.support.stores import create_database, drop_database, migrated_database
from web.lookup.contract import AlertFilter, BadCursor, BadQuery
from web.lookup.es import EsLookup
from web.lookup.factory import LookupConfigError, open_backend, open_reference
from web.lookup.pg import PgLookup
from web.lookup.reference import PgReference

T0 = datetime(2026, 4, 1, 8, tzinfo=UTC)


@pytest.fixture
async def dsn(settings: Settings, unique: str) -> AsyncIterator[str]:
    require_port(settings.postgres.dsn.split("@")[-1].split("/")[0], "PostgreSQL")
    async with migrated_database(settings.postgres.dsn, f"alpr_lookupref_{unique}") as fresh:
        await fill_reference(fresh)
        yield fresh


async def fill_reference(dsn: str) -> None:
    """25 alerts (every fifth critical) and two cameras."""
    conn = await asyncpg.connect(dsn)
    try:
        for n in range(25):
            await conn.execute(
                "INSERT INTO alerts (alert_id, rule_id, event_id, captured_at, plate, camera_id,"
                " severity, raised_at, details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                f"alert-{n:02d}", f"rule-{n % 3}", f"event-{n}", T0 + timedelta(minutes=n),
                f"AB{n:02d}CDE", "cam-1", "critical" if n % 5 == 0 else "info",
                T0 + timedelta(minutes=n, seconds=1), json.dumps({"n": n}),
            )  # fmt: skip
        await conn.execute(
            "INSERT INTO cameras (camera_id, site_id, name, lat, lon) VALUES"
            " ('cam-2', 'site-b', 'South gate', 51.1, -0.2), ('cam-1', 'site-a', 'North', 51, 0)"
        )
    finally:
        await conn.close()


@pytest.fixture
async def reference(dsn: str) -> AsyncIterator[PgReference]:
    store = PgReference(dsn)
    yield store
    await store.close()


async def test_alerts_page_newest_first_and_filter(reference: PgReference) -> None:
    seen, cursor = [], None
    while True:
        page = await reference.alerts(AlertFilter(), cursor=cursor, limit=4)
        seen.extend(page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert [a.alert_id for a in seen] == [f"alert-{n:02d}" for n in reversed(range(25))]
    assert seen[0].details == {"n": 24} and seen[0].acknowledged_at is None

    critical = await reference.alerts(AlertFilter(severity="critical"), cursor=None, limit=100)
    assert [a.alert_id for a in critical.items] == ["alert-20", "alert-15", "alert-10",
                                                    "alert-05", "alert-00"]  # fmt: skip
    recent = AlertFilter(rule_id="rule-1", since=T0 + timedelta(minutes=15))
    assert {a.alert_id for a in (await reference.alerts(recent, cursor=None, limit=100)).items} == {
        "alert-16", "alert-19", "alert-22"}  # fmt: skip
    with pytest.raises(BadCursor, match="another query"):
        await reference.alerts(AlertFilter(severity="info"), cursor=cursor, limit=4)
    with pytest.raises(BadQuery):
        await reference.alerts(AlertFilter(rule_id="x' OR 1=1 --"), cursor=None, limit=4)


def acknowledgement(alert_id: str, owner: str, note: str, minutes: int) -> AlertAcknowledgement:
    return AlertAcknowledgement(
        acknowledgement_id=f"ack-{owner}", alert_id=alert_id, key_id=f"k-{owner}", owner=owner,
        acknowledged_at=T0 + timedelta(hours=1, minutes=minutes), note=note,
    )  # fmt: skip


async def test_the_first_acknowledgement_is_shown_old_ones_too_and_filtered_by(
    reference: PgReference, dsn: str
) -> None:
    first = acknowledgement("alert-03", "operator-1", "false alarm", 1)
    conn = await asyncpg.connect(dsn)
    try:
        assert await apply_acknowledgement(conn, acknowledgement("alert-03", "op-2", "me", 2)) == 1
        assert await apply_acknowledgement(conn, first) == 1  # the first wins, in any order
        assert await apply_acknowledgement(conn, first) == 0
        # Before migration 0011, an acknowledgement was written into the alert's own row.
        await conn.execute(
            "UPDATE alerts SET acknowledged_at = $2, acknowledged_by = 'old (k-0)',"
            " ack_note = 'from before' WHERE alert_id = $1", "alert-04", T0,
        )  # fmt: skip
        await apply_acknowledgement(conn, acknowledgement("alert-04", "operator-1", "again", 3))
    finally:
        await conn.close()
    acked = await reference.alert("alert-03")
    assert acked is not None and acked.acknowledged_by == "operator-1 (k-operator-1)"
    assert acked.ack_note == "false alarm" and acked.acknowledged_at == first.acknowledged_at
    old = await reference.alert("alert-04")
    assert old is not None and (old.acknowledged_by, old.ack_note, old.acknowledged_at) == (
        "old (k-0)", "from before", T0,
    )  # fmt: skip
    done = await reference.alerts(AlertFilter(acknowledged=True), cursor=None, limit=100)
    assert [a.alert_id for a in done.items] == ["alert-04", "alert-03"]
    open_ = await reference.alerts(AlertFilter(acknowledged=False), cursor=None, limit=100)
    assert len(open_.items) == 23 and await reference.alert("no-such-alert") is None


async def test_hourly_counts_and_cameras(reference: PgReference, dsn: str) -> None:
    data = list(reads(500, plate_pool(50), T0, timedelta(hours=5), cameras=3))
    assert await load_pg(dsn, data) == 500
    counts = await reference.hourly(since=T0, until=T0 + timedelta(hours=5))
    expected: dict[tuple[str, datetime], int] = {}
    for read in data:
        hour = read["captured_at"].replace(minute=0, second=0, microsecond=0)
        expected[(read["camera_id"], hour)] = expected.get((read["camera_id"], hour), 0) + 1
    assert {(c.camera_id, c.hour): c.reads for c in counts} == expected
    one = await reference.hourly(since=T0, until=T0 + timedelta(hours=1), camera_id="cam-1")
    assert {c.camera_id for c in one} == {"cam-1"} and len(one) == 1
    with pytest.raises(BadQuery):
        await reference.hourly(since=T0, until=T0)

    cameras = await reference.cameras()
    assert [(c.site_id, c.camera_id, c.name) for c in cameras] == [
        ("site-a", "cam-1", "North"), ("site-b", "cam-2", "South gate")]  # fmt: skip


async def test_backend_choice(dsn: str, unique: str) -> None:
    base = load_settings()
    require_port(base.elasticsearch.url, "Elasticsearch")
    prefix = f"lookupchoice-{unique}"

    def settings(choice: str, url: str | None = None) -> Settings:
        return load_settings(
            postgres={"dsn": dsn},
            elasticsearch={"url": base.elasticsearch.url if url is None else url,
                           "index_prefix": prefix},
            lookup={"search_backend": choice},
        )  # fmt: skip

    async def kind(choice: str, url: str | None = None) -> type:
        backend = await open_backend(settings(choice, url))
        await backend.close()
        return type(backend)

    assert await kind("postgres") is PgLookup
    assert await kind("auto") is PgLookup  # Elasticsearch answers but has no reads alias yet
    assert await kind("auto", f"http://127.0.0.1:{free_port()}") is PgLookup  # nothing listens
    assert await kind("auto", "") is PgLookup
    with pytest.raises(LookupConfigError):
        await open_backend(settings("elasticsearch", ""))
    client = AsyncElasticsearch(base.elasticsearch.url)
    try:
        await load_es(client, prefix, list(reads(10, ["AB12CDE"], T0, timedelta(minutes=1))))
        assert await kind("auto") is EsLookup
        assert await kind("elasticsearch") is EsLookup
    finally:
        await client.indices.delete(index=f"{prefix}-reads*", ignore_unavailable=True)
        await client.indices.delete_index_template(name=f"{prefix}-reads")
        await client.close()
    reference = open_reference(settings("auto"))
    try:
        assert len(await reference.cameras()) == 2
    finally:
        await reference.close()


async def test_migration_0003_on_a_database_with_reads(
    settings: Settings, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """0003 on a database that already holds reads fills plate_keys from them, applies once,
    and the trigger keeps it up to date afterwards."""
    # The old reads are loaded with today's writer, whose pool refuses a database that lacks
    # later migrations (stores.migrations.current_pool): the check is lifted for this load,
    # the one later column the writer fills (0012's vehicle_colour) added first below.
    monkeypatch.setattr(stores.migrations, "require_current", _no_check)
    require_port(settings.postgres.dsn.split("@")[-1].split("/")[0], "PostgreSQL")
    database = f"alpr_lookupmig_{unique}"
    fresh = await create_database(settings.postgres.dsn, database)
    before = [p for p in migration_files() if int(p.name[:4]) < 3]
    for path in before:
        (tmp_path / path.name).write_text(path.read_text())
    old = list(reads(300, plate_pool(40), T0, timedelta(hours=2)))
    new = list(reads(50, ["NEW1PLT", "NEW2PLT"], T0 + timedelta(hours=3), timedelta(minutes=5)))
    conn = await asyncpg.connect(fresh)
    try:
        assert [m.version for m in plan(tmp_path.glob("*.sql"), "native")] == [1, 2]
        await migrate(conn, tmp_path)
        # Today's writer also writes the vehicle's colour (0012, ADD COLUMN IF NOT EXISTS):
        # that column comes first here; 0003 reads only the plates.
        await conn.execute("ALTER TABLE plate_reads ADD COLUMN vehicle_colour text")
        assert await load_pg(fresh, old) == 300
        report = await migrate(conn)
        assert report.applied[0] == "0003_lookup.sql"  # and any later ones
        assert (await migrate(conn)).applied == []
        keys = {r["plate"]: r["search_key"] for r in await conn.fetch("SELECT * FROM plate_keys")}
        assert keys == {r["plate"]: r["search_key"] for r in old}
        await load_pg(fresh, new)
        assert {"NEW1PLT", "NEW2PLT"} <= {
            r[0] for r in await conn.fetch("SELECT plate FROM plate_keys")}  # fmt: skip
    finally:
        await conn.close()
        await drop_database(settings.postgres.dsn, database)


async def _no_check(conn: asyncpg.Connection) -> None:
    """``require_current`` lifted: the database is old on purpose."""
