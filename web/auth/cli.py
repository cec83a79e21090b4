"""``alpr keys create|list|revoke``: API keys of the web views, stored hashed."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar

import asyncpg
import click
from faust.cli import AppCommand, argument, option
from faust.cli.base import cli

from alpr import app
from commands.groups import group_command
from config.settings import get_settings
from web.auth.keys import ApiKey, KeyStore
from web.auth.roles import ROLES, parse_role

T = TypeVar("T")


@cli.group(name="keys")
def keys_group() -> None:
    """API keys of the web views and pages: create (the key is shown once), list, revoke.
    Roles: viewer (search and look up plates), operator (also acknowledge alerts),
    admin (also manage rules and read the search audit log)."""


KeysCommand = group_command(keys_group, "keys_")


def _fail(message: str) -> NoReturn:
    """One line on stderr and exit status 1 (inside a running command click would print a
    traceback for an exception)."""
    sys.stderr.write(f"error: {message}\n")
    raise SystemExit(1)


async def _with_store(work: Callable[[KeyStore], Awaitable[T]]) -> T:
    dsn = get_settings().postgres.dsn
    try:
        conn = await asyncpg.connect(dsn, timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        _fail(f"cannot reach PostgreSQL: {exc}")
    try:
        return await work(KeyStore(conn))
    except asyncpg.UndefinedTableError:
        _fail("no api_keys table: run `alpr db migrate` first")
    except ValueError as exc:
        _fail(str(exc))
    finally:
        await conn.close()


def _line(key: ApiKey) -> str:
    state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
    used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
    return f"{key.key_id}  {key.role:<8}  {state:<24}  last used {used:<16}  {key.owner}"


@app.command(
    option("--role", "-r", required=True, type=click.Choice(ROLES), help="The key's role."),
    option("--owner", "-o", required=True, help="Who holds the key (shown in the audit log)."),
    base=KeysCommand,
)
async def keys_create(self: AppCommand, role: str, owner: str) -> None:
    """Create a key and print it once; only its hash is stored, so keep it safe.

    Example: alpr keys create --role viewer --owner "Desk 3"
    """
    key, secret = await _with_store(lambda store: store.create(parse_role(role), owner))
    self.say(f"created key {key.key_id} ({key.role}) for {key.owner}; it is shown only once:")
    self.say(secret)


@app.command(base=KeysCommand)
async def keys_list(self: AppCommand) -> None:
    """List keys: id, role, state, last use, owner (never the keys themselves)."""
    keys = await _with_store(lambda store: store.list())
    for key in keys:
        self.say(_line(key))
    self.say(f"{len(keys)} keys, {sum(k.active for k in keys)} active")


@app.command(argument("key_id"), base=KeysCommand)
async def keys_revoke(self: AppCommand, key_id: str) -> None:
    """Revoke a key by its id (from alpr keys list); requests with it get 401 at once."""
    key = await _with_store(lambda store: store.revoke(key_id))
    if key is None:
        self.say(f"no key {key_id!r}", file=sys.stderr)
        raise SystemExit(1)
    self.say(_line(key))
