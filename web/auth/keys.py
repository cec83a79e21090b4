"""API keys: made once, shown once, stored as a SHA-256 hash in ``api_keys``.

A key reads ``alpr_<key id>_<secret>``: the id names the key in lists, audit records and
``alpr keys revoke`` without revealing it; the secret carries 256 random bits, so a plain
SHA-256 of the whole key is enough to make a stolen table useless (no slow hash needed for
keys no person chose).
"""

from __future__ import annotations

import getpass
import hashlib
import os
import re
import secrets
import socket
from collections.abc import Sequence
from datetime import datetime
from typing import TypeAlias

import asyncpg
from pydantic import BaseModel, ConfigDict

from web.auth.roles import Role, parse_role

_KEY = re.compile(r"^alpr_(?P<id>[0-9a-f]{12})_[A-Za-z0-9_-]{43}$")

#: A pool or a single connection: both run the queries below.
Executor: TypeAlias = asyncpg.Pool | asyncpg.Connection


class ApiKey(BaseModel):
    """One key as stored (never its secret)."""

    model_config = ConfigDict(frozen=True)

    key_id: str
    owner: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def new_key() -> tuple[str, str]:
    """A fresh (key id, full key) pair."""
    key_id = secrets.token_hex(6)
    return key_id, f"alpr_{key_id}_{secrets.token_urlsafe(32)}"


def who_runs_this() -> str:
    """The operating system user and host running this process (``key_audit.done_by``)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid {os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def well_formed(key: str) -> bool:
    """Whether ``key`` has the shape of a key this module makes (checked before any query)."""
    return _KEY.match(key) is not None


def key_from_row(row: asyncpg.Record) -> ApiKey:
    return ApiKey(
        key_id=row["key_id"],
        owner=row["owner"],
        role=parse_role(row["role"]),
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
    )


_COLUMNS = "key_id, owner, role, created_at, revoked_at, last_used_at"


class KeyStore:
    """The ``api_keys`` table."""

    def __init__(self, db: Executor) -> None:
        self.db = db

    async def create(
        self, role: Role, owner: str, done_by: str | None = None
    ) -> tuple[ApiKey, str]:
        """Store a new key's hash, and who made it in ``key_audit``; returns the key record and
        the key itself (shown once)."""
        owner = owner.strip()
        if not owner or len(owner) > 200:
            raise ValueError("owner must be 1 to 200 characters")
        key_id, key = new_key()
        row = await self.db.fetchrow(
            f"WITH made AS (INSERT INTO api_keys (key_id, key_hash, owner, role)"
            f" VALUES ($1, $2, $3, $4) RETURNING {_COLUMNS}), logged AS (INSERT INTO key_audit"
            f" (key_id, action, role, owner, done_by) SELECT key_id, 'create', role, owner, $5"
            f" FROM made) SELECT {_COLUMNS} FROM made",
            key_id,
            hash_key(key),
            owner,
            parse_role(role),
            done_by or who_runs_this(),
        )
        return key_from_row(row), key

    async def list(self) -> list[ApiKey]:
        rows = await self.db.fetch(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at")
        return [key_from_row(row) for row in rows]

    async def owners(self, roles: Sequence[Role]) -> tuple[str, ...]:
        """The owners of the unrevoked keys of ``roles``, by name (each once)."""
        rows = await self.db.fetch(
            "SELECT DISTINCT owner FROM api_keys WHERE revoked_at IS NULL"
            " AND role = ANY($1::text[]) ORDER BY owner",
            list(roles),
        )
        return tuple(row["owner"] for row in rows)

    async def revoke(self, key_id: str, done_by: str | None = None) -> ApiKey | None:
        """Revoke a key (kept for the audit log, with who revoked it in ``key_audit``); None
        when no such key exists."""
        row = await self.db.fetchrow(
            f"WITH gone AS (UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())"
            f" WHERE key_id = $1 RETURNING {_COLUMNS}), logged AS (INSERT INTO key_audit"
            f" (key_id, action, role, owner, done_by) SELECT key_id, 'revoke', role, owner, $2"
            f" FROM gone) SELECT {_COLUMNS} FROM gone",
            key_id,
            done_by or who_runs_this(),
        )
        return None if row is None else key_from_row(row)

    async def find(self, key: str) -> ApiKey | None:
        """The stored key for a presented key (revoked ones too), None if unknown."""
        if not well_formed(key):
            return None
        # last_used_at is refreshed at most once a minute, so a burst of requests is reads only.
        row = await self.db.fetchrow(
            f"WITH touched AS (UPDATE api_keys SET last_used_at = now() WHERE key_hash = $1"
            f" AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute'))"
            f" SELECT {_COLUMNS} FROM api_keys WHERE key_hash = $1",
            hash_key(key),
        )
        return None if row is None else key_from_row(row)
