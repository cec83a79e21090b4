"""Alerts, reads per hour and cameras, from PostgreSQL (Elasticsearch holds only reads).

Alerts page newest first by keyset on (raised_at, alert_id). Each alert comes with its first
acknowledgement and its latest assignment, kept apart in ``alert_acknowledgements`` and
``alert_assignments`` by the alerts projection (``stores.alert_acknowledgements``,
``stores.alert_assignments``); an acknowledgement given before those tables existed is still
in the alerts row itself, and is shown when there is one.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from web.lookup import cursor
from web.lookup.contract import Alert, AlertFilter, BadQuery, Camera, HourlyCount, Page
from web.lookup.queries import check_name
from web.lookup.ranking import check_limit

#: When the alert was acknowledged: in its own row before migration 0011, else by the event.
_ACKNOWLEDGED_AT = "COALESCE(alerts.acknowledged_at, k.acknowledged_at)"
_ALERT_COLUMNS = (
    "alert_id, rule_id, event_id, captured_at, plate, camera_id, severity, raised_at, details,"
    f" {_ACKNOWLEDGED_AT} AS acknowledged_at,"
    " CASE WHEN alerts.acknowledged_at IS NULL THEN k.acknowledged_by"
    " ELSE alerts.acknowledged_by END AS acknowledged_by,"
    " CASE WHEN alerts.acknowledged_at IS NULL THEN k.note ELSE alerts.ack_note END AS ack_note,"
    " g.assignee AS assigned_to, g.assigned_by, g.assigned_at"
)
#: The alerts with their acknowledgements and assignments (``alert_id`` is the alert's:
#: ``USING`` merges them).
_ALERTS = (
    "alerts LEFT JOIN alert_acknowledgements k USING (alert_id)"
    " LEFT JOIN alert_assignments g USING (alert_id)"
)
_ORDER = "ORDER BY raised_at DESC, alert_id DESC"


def _alert(row: asyncpg.Record) -> Alert:
    values = dict(row)
    details = values["details"]
    values["details"] = json.loads(details) if isinstance(details, str) else dict(details or {})
    return Alert(**values)


def alerts_scope(where: AlertFilter) -> str:
    return cursor.scope_of("alerts", where.model_dump_json())


class PgReference:
    """Reads alerts, hourly counts and cameras; pool opened on first use."""

    def __init__(self, dsn: str, pool_min: int = 1, pool_max: int = 4) -> None:
        self.dsn = dsn
        self.pool_min = pool_min
        self.pool_max = pool_max
        self._pool: asyncpg.Pool | None = None

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        if self._pool is None:
            pool = await asyncpg.create_pool(
                self.dsn, min_size=self.pool_min, max_size=self.pool_max, timeout=5,
                command_timeout=30,
            )  # fmt: skip
            assert pool is not None  # create_pool only returns None when not awaited
            self._pool = pool
        async with self._pool.acquire() as conn:
            rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
            return rows

    async def alerts(self, where: AlertFilter, *, cursor: str | None, limit: int) -> Page[Alert]:
        """Alerts matching ``where``, newest first."""
        check_limit(limit)
        for name, value in (("severity", where.severity), ("rule_id", where.rule_id)):
            if value is not None:
                check_name(value, name)
        for name, moment in (("since", where.since), ("until", where.until)):
            if moment is not None and moment.tzinfo is None:
                raise BadQuery(f"{name} must carry a time zone, e.g. 2026-01-31T08:00:00Z")
        scope = alerts_scope(where)
        args: list[Any] = [limit + 1]
        conditions = []
        wanted: tuple[tuple[str, object], ...] = (
            ("raised_at >=", where.since), ("raised_at <", where.until),
            ("severity =", where.severity),
            ("rule_id =", where.rule_id),
        )  # fmt: skip
        for column, given in wanted:
            if given is not None:
                args.append(given)
                conditions.append(f"{column} ${len(args)}")
        if where.acknowledged is not None:
            conditions.append(f"{_ACKNOWLEDGED_AT} IS {'NOT ' if where.acknowledged else ''}NULL")
        if where.assigned_to is not None:
            args.append(where.assigned_to)
            conditions.append(f"g.assignee = ${len(args)}")
        if where.assigned is not None:
            conditions.append(f"g.assignee IS {'NOT ' if where.assigned else ''}NULL")
        if cursor is not None:
            after = _decode(scope, cursor)
            args.extend([after.at, after.id])
            at, ident = f"${len(args) - 1}", f"${len(args)}"
            conditions.append(f"raised_at <= {at} AND (raised_at, alert_id) < ({at}, {ident})")
        sql = (
            f"SELECT {_ALERT_COLUMNS} FROM {_ALERTS} WHERE {' AND '.join(conditions) or 'true'}"
            f" {_ORDER} LIMIT $1"
        )
        rows = await self._fetch(sql, *args)
        items = [_alert(row) for row in rows[:limit]]
        following = None
        if len(rows) > limit:
            following = cursor_of(scope, items[-1])
        return Page[Alert](items=items, next_cursor=following)

    async def alert(self, alert_id: str) -> Alert | None:
        """One alert by its id, or None."""
        check_name(alert_id, "alert id")
        rows = await self._fetch(
            f"SELECT {_ALERT_COLUMNS} FROM {_ALERTS} WHERE alert_id = $1", alert_id
        )
        return _alert(rows[0]) if rows else None

    async def alerts_for_read(self, event_id: str, plates: list[str]) -> list[Alert]:
        """The alerts read ``event_id`` raised or was one of the reads of, oldest first.

        ``plates`` are the texts the read has had (its current plate and, when corrected,
        the earlier ones): an alert that lists the read among others carries one of them,
        which keeps the search on the plate index.
        """
        check_name(event_id, "event id")
        rows = await self._fetch(
            f"SELECT {_ALERT_COLUMNS} FROM {_ALERTS} WHERE event_id = $1"
            " OR (plate = ANY($2::text[]) AND details->'event_ids' ? $1)"
            " ORDER BY raised_at, alert_id LIMIT 100",
            event_id, plates,
        )  # fmt: skip
        return [_alert(row) for row in rows]

    async def alerts_for_plate(self, plate: str, event_ids: list[str]) -> list[Alert]:
        """The alerts raised on ``plate`` or by one of ``event_ids`` (its reads: one may
        have raised an alert under the text it had before a correction), oldest first."""
        check_name(plate, "plate")
        rows = await self._fetch(
            f"SELECT {_ALERT_COLUMNS} FROM {_ALERTS} WHERE plate = $1"
            " OR event_id = ANY($2::text[]) ORDER BY raised_at, alert_id LIMIT 200",
            plate, event_ids,
        )  # fmt: skip
        return [_alert(row) for row in rows]

    async def rule_ids(self) -> list[str]:
        """The rules that raised alerts, by name (for the alerts page's filter)."""
        rows = await self._fetch("SELECT DISTINCT rule_id FROM alerts ORDER BY rule_id LIMIT 500")
        return [row["rule_id"] for row in rows]

    async def hourly(
        self, *, since: datetime, until: datetime, camera_id: str | None = None
    ) -> list[HourlyCount]:
        """Reads per camera and hour in [since, until), oldest hour first."""
        if since.tzinfo is None or until.tzinfo is None or since >= until:
            raise BadQuery("since and until need time zones, and since must be before until")
        if camera_id is not None:
            check_name(camera_id, "camera_id")
        rows = await self._fetch(
            "SELECT camera_id, hour, reads::bigint AS reads FROM plate_reads_hourly"
            " WHERE hour >= $1 AND hour < $2 AND ($3::text IS NULL OR camera_id = $3)"
            " ORDER BY hour, camera_id",
            since, until, camera_id,
        )  # fmt: skip
        return [HourlyCount(**dict(row)) for row in rows]

    async def cameras(self) -> list[Camera]:
        rows = await self._fetch(
            "SELECT camera_id, site_id, name, zone, state, lat, lon, edge_version, last_seen_at"
            " FROM cameras ORDER BY site_id, camera_id"
        )
        return [Camera(**dict(row)) for row in rows]

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


def cursor_of(scope: str, alert: Alert) -> str:
    return cursor.encode(scope, cursor.Position(alert.raised_at, alert.alert_id))


def _decode(scope: str, token: str) -> cursor.Position:
    return cursor.decode(scope, token)
