"""``alpr keys create|list|revoke`` as an operator runs them, on a scratch database: the key
is printed once, only its hash is stored, and a revoked key stays listed as revoked."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from config.settings import Settings
from stores.migrations import migrate
from tests.integration.conftest import require_port
from tests.support.stores import create_database, drop_database
from web.auth.keys import hash_key, well_formed

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dsn(settings: Settings) -> Iterator[str]:
    require_port(settings.postgres.dsn.split("@")[-1].split("/")[0], "PostgreSQL")
    name = f"alpr_test_keys_{uuid.uuid4().hex[:10]}"

    async def make() -> str:
        made = await create_database(settings.postgres.dsn, name)
        conn = await asyncpg.connect(made)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        return made

    made = asyncio.run(make())
    yield made
    asyncio.run(drop_database(settings.postgres.dsn, name))


def alpr(dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ALPR_POSTGRES__DSN": dsn}
    return subprocess.run(
        [sys.executable, "-m", "faust", "-A", "alpr", "keys", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_keys_are_created_once_listed_without_secrets_and_revoked(dsn: str) -> None:
    made = alpr(dsn, "create", "--role", "operator", "--owner", "Control room")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    assert well_formed(key)

    async def stored() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(dsn)
        try:
            return list(await conn.fetch("SELECT key_id, key_hash, role, owner FROM api_keys"))
        finally:
            await conn.close()

    (row,) = asyncio.run(stored())
    assert row["key_hash"] == hash_key(key) and row["role"] == "operator"
    listed = alpr(dsn, "list")
    assert listed.returncode == 0 and row["key_id"] in listed.stdout
    assert key not in listed.stdout and "1 keys, 1 active" in listed.stdout
    revoked = alpr(dsn, "revoke", row["key_id"])
    assert revoked.returncode == 0 and "revoked" in revoked.stdout

    async def key_audit() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(dsn)
        try:
            return list(
                await conn.fetch("SELECT key_id, action, done_by FROM key_audit ORDER BY id")
            )
        finally:
            await conn.close()

    logged = asyncio.run(key_audit())
    assert [(r["key_id"], r["action"]) for r in logged] == [
        (row["key_id"], "create"), (row["key_id"], "revoke")
    ]  # fmt: skip
    assert all("@" in r["done_by"] for r in logged)  # the user and host that ran the command


def test_a_bad_role_or_an_unreachable_database_is_a_clear_error(dsn: str) -> None:
    bad = alpr(dsn, "create", "--role", "investigator", "--owner", "x")
    assert bad.returncode == 2 and "investigator" in bad.stderr
    down = alpr("postgresql://alpr:alpr@127.0.0.1:9/x", "list")
    assert down.returncode != 0 and "cannot reach PostgreSQL" in down.stderr
    assert "Traceback" not in down.stderr
