"""The lookup backends against the real PostgreSQL and Elasticsearch, loaded with the same reads.

A fresh database (all migrations applied) and a fresh index prefix get a few thousand reads
through the projections' own writing code; some reads are then moved to the retained reads,
as retention does before dropping a day. Each backend must find what the reads say it should,
and both must return the same hits, reasons, pages and filters; bad cursors, malformed
queries and injection strings are ``BadCursor`` / ``BadQuery``, never a store error.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import asyncpg
import pytest
from elasticsearch import AsyncElasticsearch

from config.settings import load_settings
from stores.es_docs import daily_index, read_document, retained_index
from stores.migrations import migrate
from stores.partitions import utc_day
from streams.plates import search_key
from tests.integration.conftest import require_port
from tests.support.lookup import load_es, load_pg, plate_pool, reads
from tests.support.stores import create_database, drop_database
from web.lookup.contract import BadCursor, BadQuery, EventFilter, LookupBackend, Page, Sighting
from web.lookup.distance import key_distance
from web.lookup.es import EsLookup
from web.lookup.pg import PgLookup

READS = 3000
PLATES = 300
START = datetime(2026, 3, 1, 6, tzinfo=UTC)
SPREAD = timedelta(days=3)
BACKENDS = ["postgres", "elasticsearch"]


@dataclass
class Loaded:
    dsn: str
    prefix: str
    es_url: str
    reads: list[dict[str, Any]]
    retained: set[str]
    plates: list[str]

    def plate_reads(self, plate: str) -> list[dict[str, Any]]:
        return newest_first([r for r in self.reads if r["plate"] == plate])


def newest_first(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda r: (r["captured_at"], r["event_id"]), reverse=True)


async def _move_to_retained(loaded: Loaded, client: AsyncElasticsearch) -> None:
    """Move some reads to the retained reads, as retention does before a day is dropped."""
    moved = [r for r in loaded.reads if r["event_id"] in loaded.retained]
    conn = await asyncpg.connect(loaded.dsn)
    try:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO retained_reads SELECT * FROM plate_reads WHERE event_id = ANY($1)",
                sorted(loaded.retained),
            )
            await conn.execute("DELETE FROM plate_reads WHERE event_id = ANY($1)",
                               sorted(loaded.retained))  # fmt: skip
    finally:
        await conn.close()
    operations: list[dict[str, Any]] = []
    for read in moved:
        day = daily_index(loaded.prefix, utc_day(read["captured_at"]))
        operations.append({"delete": {"_index": day, "_id": read["event_id"]}})
        operations.append({"create": {"_index": retained_index(loaded.prefix),
                                      "_id": read["event_id"]}})  # fmt: skip
        operations.append(read_document(read))
    await client.bulk(operations=operations, refresh=True)


@pytest.fixture(scope="module")
def loaded() -> Iterator[Loaded]:
    settings = load_settings()
    require_port(settings.postgres.dsn.split("@")[-1].split("/")[0], "PostgreSQL")
    require_port(settings.elasticsearch.url, "Elasticsearch")
    import uuid

    unique = uuid.uuid4().hex[:10]
    database, prefix = f"alpr_lookup_{unique}", f"lookup-{unique}"
    plates = plate_pool(PLATES)
    data = list(reads(READS, plates, START, SPREAD))
    retained = {r["event_id"] for r in data[:: READS // 40]}

    async def setup() -> Loaded:
        dsn = await create_database(settings.postgres.dsn, database)
        conn = await asyncpg.connect(dsn)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        assert await load_pg(dsn, data) == READS
        client = AsyncElasticsearch(settings.elasticsearch.url)
        try:
            assert await load_es(client, prefix, data) == READS
            loaded = Loaded(dsn, prefix, settings.elasticsearch.url, data, retained, plates)
            await _move_to_retained(loaded, client)
        finally:
            await client.close()
        return loaded

    async def teardown() -> None:
        await drop_database(settings.postgres.dsn, database)
        client = AsyncElasticsearch(settings.elasticsearch.url)
        try:
            await client.indices.delete(index=f"{prefix}-reads*", ignore_unavailable=True)
            await client.indices.delete_index_template(name=f"{prefix}-reads")
        finally:
            await client.close()

    try:
        yield asyncio.run(setup())
    finally:
        asyncio.run(teardown())


def _open(name: str, loaded: Loaded) -> LookupBackend:
    if name == "postgres":
        return PgLookup(loaded.dsn, pool_max=4)
    return EsLookup(AsyncElasticsearch(loaded.es_url), loaded.prefix)


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, loaded: Loaded) -> AsyncIterator[LookupBackend]:
    store = _open(request.param, loaded)
    yield store
    await store.close()


@pytest.fixture
async def both(loaded: Loaded) -> AsyncIterator[list[LookupBackend]]:
    stores = [_open(name, loaded) for name in BACKENDS]
    yield stores
    for store in stores:
        await store.close()


async def _walk(fetch: Any, limit: int) -> list[Sighting]:
    seen: list[Sighting] = []
    cursor = None
    for _ in range(READS):
        page: Page[Sighting] = await fetch(cursor=cursor, limit=limit)
        seen.extend(page.items)
        if page.next_cursor is None:
            return seen
        assert len(page.items) == limit
        cursor = page.next_cursor
    raise AssertionError("pagination did not end")


async def test_exact_search_counts_every_read_of_the_plate(
    backend: LookupBackend, loaded: Loaded
) -> None:
    plate = loaded.reads[0]["plate"]
    expected = loaded.plate_reads(plate)
    found = await backend.search(plate, limit=20)
    assert found[0].plate == plate and found[0].match == "exact"
    assert found[0].reason == "exact plate" and found[0].distance == 0
    assert found[0].sightings == len(expected)
    assert found[0].last_seen == expected[0]["captured_at"]
    assert found[0].last_camera_id == expected[0]["camera_id"]


async def test_fuzzy_search_finds_lookalikes_and_one_edit(
    backend: LookupBackend, loaded: Loaded
) -> None:
    stored = {r["plate"] for r in loaded.reads}
    plate = next(p for p in loaded.plates if p in stored and any(
        q != p and search_key(q) == search_key(p) for q in stored))  # fmt: skip
    query = plate[:-1] + ("X" if plate[-1] != "X" else "Y")  # one real error at the end
    found = await backend.search(query, limit=1000)
    plates = {hit.plate for hit in found}
    expected = {p for p in stored if key_distance(search_key(p), search_key(query)) <= 1}
    expected |= {p for p in stored if p.startswith(query)}
    assert plates == expected
    hit = next(h for h in found if h.plate == plate)
    assert hit.match == "fuzzy" and hit.reason.startswith("fuzzy: ")
    lookalike = next(h for h in found if h.plate != plate and search_key(h.plate)
                     == search_key(plate))  # fmt: skip
    assert "read as" in lookalike.reason
    assert [h.score for h in found] == sorted((h.score for h in found), reverse=True)


async def test_prefix_search_lists_plates_in_order(backend: LookupBackend, loaded: Loaded) -> None:
    stored = sorted({r["plate"] for r in loaded.reads})
    query = stored[len(stored) // 2][:2]
    found = await backend.search(query, limit=5)
    assert [h.plate for h in found] == [p for p in stored if p.startswith(query) and p != query][:5]
    assert all(h.match == "prefix" for h in found)


async def test_both_backends_return_the_same_hits(
    both: list[LookupBackend], loaded: Loaded
) -> None:
    queries = sorted({r["plate"] for r in loaded.reads[:30]})
    queries += [q[:3] for q in queries[:5]] + [q.replace("B", "8") for q in queries[:10]]
    queries += [q[:-1] + "Q" for q in queries[:10]] + ["ZZZZZZZ", "AB"]
    for query in queries:
        results = [await store.search(query, limit=25) for store in both]
        assert results[0] == results[1], query


async def test_history_walks_every_read_once_newest_first(
    both: list[LookupBackend], loaded: Loaded
) -> None:
    busiest = max(loaded.plates[:3], key=lambda p: len(loaded.plate_reads(p)))
    with_retained = next(r["plate"] for r in loaded.reads if r["event_id"] in loaded.retained)
    for plate in (busiest, with_retained):
        expected = [r["event_id"] for r in loaded.plate_reads(plate)]
        walks = []
        for store in both:
            walk = await _walk(partial(store.history, plate), limit=7)
            assert [s.event_id for s in walk] == expected, store.name
            walks.append(walk)
        assert walks[0] == walks[1]


async def test_events_filters_and_pages_agree(both: list[LookupBackend], loaded: Loaded) -> None:
    filters = [
        EventFilter(camera_id="cam-3"),
        EventFilter(since=START + timedelta(days=1), until=START + timedelta(days=1, hours=6)),
        EventFilter(min_confidence=0.9, vehicle_type="van"),
        EventFilter(camera_id="cam-1", min_confidence=0.7, since=START + timedelta(hours=30)),
    ]
    for where in filters:
        expected = [
            r["event_id"] for r in newest_first([r for r in loaded.reads if _keeps(where, r)])
        ]
        walks = []
        for store in both:
            walk = await _walk(partial(store.events, where), limit=50)
            assert [s.event_id for s in walk] == expected, (store.name, where)
            walks.append(walk)
        assert walks[0] == walks[1]


def _keeps(where: EventFilter, read: dict[str, Any]) -> bool:
    return (
        (where.camera_id is None or read["camera_id"] == where.camera_id)
        and (where.since is None or read["captured_at"] >= where.since)
        and (where.until is None or read["captured_at"] < where.until)
        and (where.min_confidence is None or read["plate_confidence"] >= where.min_confidence)
        and (where.vehicle_type is None or read["vehicle_type"] == where.vehicle_type)
    )


async def test_sighting_by_event_id(both: list[LookupBackend], loaded: Loaded) -> None:
    read = loaded.reads[10]
    found = [await store.sighting(read["event_id"]) for store in both]
    assert found[0] is not None and found[0] == found[1]
    assert (found[0].plate, found[0].camera_id, found[0].confidence) == (
        read["plate"], read["camera_id"], read["plate_confidence"])  # fmt: skip
    assert found[0].plate_crop_key == read["plate_crop_key"]
    assert [await store.sighting("no-such-event") for store in both] == [None, None]


async def test_bad_cursors_are_refused(backend: LookupBackend, loaded: Loaded) -> None:
    plate = loaded.plates[0]
    page = await backend.history(plate, cursor=None, limit=1)
    assert page.next_cursor is not None
    with pytest.raises(BadCursor, match="another query"):
        await backend.history(loaded.plates[1], cursor=page.next_cursor, limit=1)
    with pytest.raises(BadCursor, match="another query"):
        await backend.events(EventFilter(), cursor=page.next_cursor, limit=1)
    for junk in ["garbage", "eyJ2IjoxfQ", "' OR '1'='1", "%00", "x" * 4000]:
        with pytest.raises(BadCursor):
            await backend.history(plate, cursor=junk, limit=5)


INJECTIONS = ["AB12'; DROP TABLE plate_reads; --", "' OR 1=1 --", '{"match_all": {}}', "*",
              "AB%", "AB_", "ab12cde", "", " ", "A" * 200, "AB\x00", "🚗"]  # fmt: skip
NOT_NAMES = [text for text in INJECTIONS if text not in ("AB_", "ab12cde", "A" * 200)]


async def test_malformed_queries_and_injections_are_bad_queries(
    backend: LookupBackend, loaded: Loaded
) -> None:
    for text in INJECTIONS:
        with pytest.raises(BadQuery):
            await backend.search(text, limit=10)
        with pytest.raises(BadQuery):
            await backend.history(text, cursor=None, limit=10)
    for text in NOT_NAMES:
        with pytest.raises(BadQuery):
            await backend.events(EventFilter(camera_id=text), cursor=None, limit=10)
        with pytest.raises(BadQuery):
            await backend.sighting(text)
    # Names that are well formed but match nothing are harmless: no rows, no error.
    for text in ("ab12cde", "AB_", "A" * 200, "cam-1/../x"):
        page = await backend.events(EventFilter(camera_id=text), cursor=None, limit=10)
        assert page.items == [] and await backend.sighting(text) is None
    for limit in (0, -5, 10**9):
        with pytest.raises(BadQuery):
            await backend.search("AB12", limit=limit)
        with pytest.raises(BadQuery):
            await backend.history("AB12", cursor=None, limit=limit)
    with pytest.raises(BadQuery):
        await backend.events(EventFilter(since=START, until=START), cursor=None, limit=10)
    # The stores are untouched: the first plate is still found.
    assert (await backend.search(loaded.reads[0]["plate"], limit=1))[0].match == "exact"


async def test_postgres_counts_a_read_in_both_tables_once(loaded: Loaded) -> None:
    read = next(r for r in loaded.reads if r["event_id"] not in loaded.retained)
    conn = await asyncpg.connect(loaded.dsn)
    try:
        await conn.execute(
            "INSERT INTO retained_reads SELECT * FROM plate_reads WHERE event_id = $1",
            read["event_id"],
        )
        store = PgLookup(loaded.dsn, pool_max=2)
        try:
            hit = (await store.search(read["plate"], limit=1))[0]
            history = await _walk(partial(store.history, read["plate"]), 5)
        finally:
            await store.close()
    finally:
        await conn.execute("DELETE FROM retained_reads WHERE event_id = $1", read["event_id"])
        await conn.close()
    expected = loaded.plate_reads(read["plate"])
    assert hit.sightings == len(expected)
    assert [s.event_id for s in history] == [r["event_id"] for r in expected]
