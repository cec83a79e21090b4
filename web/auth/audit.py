"""The search audit log: who looked for which plate, when, why, and how much they got.

Every plate search and plate lookup writes one ``search_audit`` row before its answer is
sent; admins read the log newest first through ``GET /api/audit``.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from web.auth.keys import ApiKey, Executor

Kind = Literal["search", "plate"]


class AuditRecord(BaseModel):
    """One audited lookup."""

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


def _address(value: str | None) -> str | None:
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
    results: int,
    client: str | None,
) -> None:
    """Write one audit row for ``key``'s lookup."""
    await db.execute(
        "INSERT INTO search_audit (key_id, actor, kind, query, fuzzy, reason, results,"
        " client_addr) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::inet)",
        key.key_id,
        key.owner,
        kind,
        query,
        kind == "search",
        reason,
        results,
        _address(client),
    )


async def read(db: Executor, *, before: int | None, limit: int) -> list[AuditRecord]:
    """Up to ``limit`` rows newest first, with ids below ``before`` when given."""
    rows = await db.fetch(
        "SELECT id, searched_at, key_id, actor, kind, query, reason, results,"
        " host(client_addr) AS client_addr FROM search_audit"
        " WHERE ($1::bigint IS NULL OR id < $1) ORDER BY id DESC LIMIT $2",
        before,
        limit,
    )
    return [AuditRecord(**dict(row)) for row in rows]
