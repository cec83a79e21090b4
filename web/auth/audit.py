"""The access audit log: who read which plate data, when, why, and how much they got.

Every request that answers with plate data (a plate search or history, an event list, an
image, an alert list) writes exactly one ``search_audit`` row before its answer is sent, and
every such request refused by the access policy (no reason, a reason too short, a bad plate)
writes one row with the code it was refused with. Admins read the log newest first through
``GET /api/audit``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict

from web.auth.keys import ApiKey, Executor

Kind = Literal["search", "plate", "events", "image", "alerts"]
KINDS: tuple[Kind, ...] = get_args(Kind)


class AuditRecord(BaseModel):
    """One audited request."""

    model_config = ConfigDict(frozen=True)

    id: int
    searched_at: datetime
    key_id: str | None
    actor: str
    kind: Kind
    query: str
    reason: str | None
    results: int | None
    client_addr: str | None
    refused: str | None = None


def client_inet(value: str | None) -> str | None:
    """A client address PostgreSQL's inet takes, or None (aiohttp may report a socket path)."""
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


async def record(
    db: Executor,
    key: ApiKey,
    kind: Kind,
    query: str,
    reason: str | None,
    results: int | None,
    client: str | None,
    refused: str | None = None,
) -> int:
    """Write one audit row for ``key``'s request; its id."""
    if not query.isprintable():  # refused input may hold anything (NUL is no text for PG)
        query = ascii(query)
    row_id: int = await db.fetchval(
        "INSERT INTO search_audit (key_id, actor, kind, query, fuzzy, reason, results,"
        " client_addr, refused) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::inet, $9) RETURNING id",
        key.key_id,
        key.owner,
        kind,
        query[:500],
        kind == "search",
        reason,
        results,
        client_inet(client),
        refused,
    )
    return row_id


@dataclass(frozen=True)
class AuditFilter:
    """Which rows of the log to read; every field given must match."""

    who: str | None = None  # a key id, or words of its owner (case-insensitive)
    plate: str | None = None  # the exact query: a plate, or the start of one for searches
    since: datetime | None = None
    until: datetime | None = None
    reason: str | None = None  # words of the reason (case-insensitive)
    kind: Kind | None = None
    refused: bool | None = None


async def trail(db: Executor, plate: str, ids: Sequence[str], *, limit: int) -> list[AuditRecord]:
    """Who looked at ``plate`` (a normalised plate): up to ``limit`` rows newest first whose
    query names the plate as a word (searches, histories, exports, reports) or holds one of
    ``ids`` (its reads' event ids and its alerts' ids: images, read and alert reports)."""
    if not plate.isalnum() or not plate.isascii():
        raise ValueError(f"plate must be normalised (A-Z, 0-9), got {plate[:40]!r}")
    rows = await db.fetch(
        "SELECT id, searched_at, key_id, actor, kind, query, reason, results, refused,"
        " host(client_addr) AS client_addr FROM search_audit"
        " WHERE query ~ $1 OR EXISTS"
        " (SELECT 1 FROM unnest($2::text[]) AS named(id) WHERE strpos(query, named.id) > 0)"
        " ORDER BY id DESC LIMIT $3",
        rf"\m{plate}\M", [i for i in ids if i], limit,
    )  # fmt: skip
    return [AuditRecord(**dict(row)) for row in rows]


def _like(text: str | None) -> str | None:
    if text is None:
        return None
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def read(
    db: Executor, where: AuditFilter = AuditFilter(), *, before: int | None, limit: int
) -> list[AuditRecord]:
    """Up to ``limit`` rows matching ``where`` newest first, with ids below ``before``."""
    rows = await db.fetch(
        "SELECT id, searched_at, key_id, actor, kind, query, reason, results, refused,"
        " host(client_addr) AS client_addr FROM search_audit"
        " WHERE ($1::bigint IS NULL OR id < $1)"
        " AND ($3::text IS NULL OR key_id = $3 OR actor ILIKE $4)"
        " AND ($5::text IS NULL OR query = $5)"
        " AND ($6::timestamptz IS NULL OR searched_at >= $6)"
        " AND ($7::timestamptz IS NULL OR searched_at < $7)"
        " AND ($8::text IS NULL OR reason ILIKE $8)"
        " AND ($9::text IS NULL OR kind = $9)"
        " AND ($10::boolean IS NULL OR (refused IS NOT NULL) = $10)"
        " ORDER BY id DESC LIMIT $2",
        before, limit, where.who, _like(where.who), where.plate, where.since, where.until,
        _like(where.reason), where.kind, where.refused,
    )  # fmt: skip
    return [AuditRecord(**dict(row)) for row in rows]
