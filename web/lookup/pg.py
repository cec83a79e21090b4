"""Plate lookups in PostgreSQL: search through ``plate_keys``, histories from ``plate_reads``.

Search finds candidate plates in ``plate_keys`` (migration 0003): the exact plate and the
first plates after it in ``C`` order (prefix) by its primary key, and fuzzy candidates by
probing the search-key index with every key within one edit of the query's. The figures of
the hits come from ``plate_reads`` and ``retained_reads`` through their (plate, captured_at)
indexes. Histories and event lists page by keyset on (captured_at, event_id), newest first,
over the reads and the reads retained for alerts, each read once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from web.lookup import cursor, ranking
from web.lookup.contract import EventFilter, Page, SearchHit, Sighting
from web.lookup.cursor import decode as cursor_decode
from web.lookup.queries import (
    check_event_filter,
    check_event_id,
    events_scope,
    history_scope,
    like_pattern,
)
from web.lookup.ranking import PlateStats

_SIGHTING_COLUMNS = (
    "event_id, plate, captured_at, camera_id, site_id, camera_name, plate_confidence,"
    " direction, vehicle_type, vehicle_colour, plate_crop_key, vehicle_image_key, lat, lon"
)

_CANDIDATES = """
SELECT plate, 'exact' AS kind FROM plate_keys WHERE plate = $1
UNION ALL
(SELECT plate, 'prefix' FROM plate_keys
 WHERE $2 AND plate > $1 AND plate < $1 || '~' ORDER BY plate LIMIT $3)
UNION ALL
(SELECT plate, 'fuzzy' FROM plate_keys
 WHERE search_key = ANY($4::text[]) AND levenshtein(search_key, $5) <= 1
 ORDER BY plate LIMIT $6)
"""

_STATS = """
SELECT p.plate, s.sightings, l.captured_at, l.camera_id
FROM unnest($1::text[]) AS p(plate)
CROSS JOIN LATERAL (
    SELECT count(*) AS sightings FROM (
        SELECT event_id FROM plate_reads r WHERE r.plate = p.plate
        UNION
        SELECT event_id FROM retained_reads t WHERE t.plate = p.plate
    ) AS u
) AS s
LEFT JOIN LATERAL (
    SELECT captured_at, camera_id FROM (
        (SELECT captured_at, event_id, camera_id FROM plate_reads r WHERE r.plate = p.plate
         ORDER BY captured_at DESC, event_id DESC LIMIT 1)
        UNION ALL
        (SELECT captured_at, event_id, camera_id FROM retained_reads t WHERE t.plate = p.plate
         ORDER BY captured_at DESC, event_id DESC LIMIT 1)
    ) AS newest ORDER BY captured_at DESC, event_id DESC LIMIT 1
) AS l ON true
"""

_ORDER = "ORDER BY captured_at DESC, event_id DESC"
_AFTER = "captured_at <= {at} AND (captured_at, event_id) < ({at}, {id})"


def _union_page(where: str, limit_param: str) -> str:
    """Newest reads matching ``where`` in the reads and the retained reads, each read once."""
    branch = (
        f"(SELECT {_SIGHTING_COLUMNS} FROM {{table}} WHERE {where} {_ORDER} LIMIT {limit_param})"
    )
    return (
        f"SELECT * FROM ({branch.format(table='plate_reads')} UNION "
        f"{branch.format(table='retained_reads')}) AS page {_ORDER} LIMIT {limit_param}"
    )


def _sighting(row: asyncpg.Record) -> Sighting:
    return Sighting(
        event_id=row["event_id"],
        plate=row["plate"],
        captured_at=row["captured_at"],
        camera_id=row["camera_id"],
        site_id=row["site_id"],
        camera_name=row["camera_name"],
        # real (float4) in the table: round off the float4 noise, as Elasticsearch shows it.
        confidence=round(float(row["plate_confidence"]), 6),
        direction=row["direction"],
        vehicle_type=row["vehicle_type"],
        vehicle_colour=row["vehicle_colour"],
        plate_crop_key=row["plate_crop_key"],
        vehicle_image_key=row["vehicle_image_key"],
        lat=row["lat"],
        lon=row["lon"],
    )


def _page(rows: Sequence[asyncpg.Record], limit: int, scope: str) -> Page[Sighting]:
    items = [_sighting(row) for row in rows[:limit]]
    following = None
    if len(rows) > limit:
        last = items[-1]
        following = cursor.encode(scope, cursor.Position(last.captured_at, last.event_id))
    return Page[Sighting](items=items, next_cursor=following)


class PgLookup:
    """The ``LookupBackend`` over PostgreSQL; opens its pool on first use."""

    name = "postgres"

    def __init__(self, dsn: str, pool_min: int = 1, pool_max: int = 10) -> None:
        self.dsn = dsn
        self.pool_min = pool_min
        self.pool_max = pool_max
        self._pool: asyncpg.Pool | None = None

    async def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            pool = await asyncpg.create_pool(
                self.dsn,
                min_size=self.pool_min,
                max_size=self.pool_max,
                timeout=5,
                command_timeout=30,
            )
            assert pool is not None  # create_pool only returns None when not awaited
            self._pool = pool
        return self._pool

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        pool = await self.pool()
        async with pool.acquire() as conn:
            rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
            return rows

    async def search(self, query: str, *, limit: int) -> list[SearchHit]:
        plan = ranking.plan_search(query, limit)
        rows = await self._fetch(
            _CANDIDATES, plan.query, plan.prefix, limit, list(plan.key_neighbours), plan.key,
            ranking.FUZZY_CANDIDATES if plan.fuzzy else 0,
        )  # fmt: skip
        found: dict[str, list[str]] = {"exact": [], "prefix": [], "fuzzy": []}
        for row in rows:
            found[row["kind"]].append(row["plate"])
        ranked = ranking.rank(plan, bool(found["exact"]), found["prefix"], found["fuzzy"], limit)
        stats = await self._stats([match.plate for match in ranked])
        return ranking.hits(ranked, stats)

    async def _stats(self, plates: list[str]) -> dict[str, PlateStats]:
        if not plates:
            return {}
        rows = await self._fetch(_STATS, plates)
        return {
            row["plate"]: PlateStats(row["sightings"], row["captured_at"], row["camera_id"])
            for row in rows
            if row["sightings"]
        }

    async def history(self, plate: str, *, cursor: str | None, limit: int) -> Page[Sighting]:
        ranking.check_plate(plate, "plate")
        ranking.check_limit(limit)
        scope = history_scope(plate)
        if cursor is None:
            rows = await self._fetch(_union_page("plate = $1", "$2"), plate, limit + 1)
        else:
            after = cursor_decode(scope, cursor)
            where = "plate = $1 AND " + _AFTER.format(at="$3", id="$4")
            rows = await self._fetch(_union_page(where, "$2"), plate, limit + 1, after.at, after.id)
        return _page(rows, limit, scope)

    async def events(self, where: EventFilter, *, cursor: str | None, limit: int) -> Page[Sighting]:
        check_event_filter(where)
        ranking.check_limit(limit)
        scope = events_scope(where)
        pattern = None if where.plate_pattern is None else like_pattern(where.plate_pattern)
        conditions: list[str] = []
        args: list[Any] = [limit + 1]
        for column, op, value, cast in (
            ("camera_id", "=", where.camera_id, ""),
            ("captured_at", ">=", where.since, ""),
            ("captured_at", "<", where.until, ""),
            ("plate_confidence", ">=", where.min_confidence, "::real"),
            ("vehicle_type", "=", where.vehicle_type, ""),
            ("vehicle_colour", "=", where.vehicle_colour, ""),
            ("plate", "LIKE", pattern, ""),
        ):
            if value is not None:
                args.append(value)
                conditions.append(f"{column} {op} ${len(args)}{cast}")
        if cursor is not None:
            after = cursor_decode(scope, cursor)
            args.extend([after.at, after.id])
            conditions.append(_AFTER.format(at=f"${len(args) - 1}", id=f"${len(args)}"))
        sql = _union_page(" AND ".join(conditions) or "true", "$1")
        return _page(await self._fetch(sql, *args), limit, scope)

    async def sighting(self, event_id: str) -> Sighting | None:
        check_event_id(event_id)
        rows = await self._fetch(
            f"(SELECT {_SIGHTING_COLUMNS} FROM plate_reads WHERE event_id = $1 LIMIT 1)"
            f" UNION ALL (SELECT {_SIGHTING_COLUMNS} FROM retained_reads WHERE event_id = $1"
            " LIMIT 1) LIMIT 1",
            event_id,
        )
        return _sighting(rows[0]) if rows else None

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
