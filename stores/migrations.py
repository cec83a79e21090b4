"""Versioned SQL migrations in ``stores/migrations_sql/``, applied once each and recorded.

A file is ``NNNN_name.sql``, or a pair ``NNNN_name.native.sql`` / ``NNNN_name.timescale.sql``
when the schema differs with the storage mode. The mode is chosen once, at the first
migration: ``timescale`` when ``pg_available_extensions`` has TimescaleDB and the server
preloads it, else ``native`` (daily range partitions). It is recorded and never switched, since
the two layouts are not interchangeable in place.

Each migration runs in its own transaction together with its row in ``schema_migrations``,
under an advisory lock, so concurrent ``alpr db migrate`` runs apply it exactly once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import asyncpg

from streams.failures import Unavailable

#: Inside the package (and its package data), so an installed copy has them too.
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations_sql"

StorageMode = Literal["native", "timescale"]
MODES: tuple[StorageMode, ...] = ("native", "timescale")

_NAME = re.compile(
    r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+?)(?:\.(?P<variant>native|timescale))?\.sql$"
)

#: Key of the advisory lock held while migrating (any constant unique to this project).
_LOCK_KEY = 0x41_4C_50_52_01

_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    variant     text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS storage_mode (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    mode        text NOT NULL CHECK (mode IN ('native', 'timescale'))
);
"""


@dataclass(frozen=True)
class Migration:
    """One migration file: its version, name, variant (``all`` or a mode) and SQL."""

    version: int
    name: str
    variant: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


class MigrationError(RuntimeError):
    """Migration files that cannot be applied as they are, with what is wrong."""


class SchemaBehind(Unavailable):
    """PostgreSQL's schema lacks migrations this code needs (a deployment that skipped
    ``alpr bootstrap``): its writes would fail on a missing column or table. A writer waits
    for it as for an outage of PostgreSQL, with this message in ``/health``."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(
            "postgres",
            f"the schema is behind the code: migration(s) {', '.join(missing)} not applied; "
            "run `alpr bootstrap`",
        )
        self.missing = missing


def parse_name(path: Path) -> Migration:
    """The migration a file name describes; ``MigrationError`` for a name out of pattern."""
    match = _NAME.match(path.name)
    if match is None:
        raise MigrationError(
            f"{path.name}: migration files are named NNNN_name.sql or "
            "NNNN_name.native.sql / NNNN_name.timescale.sql"
        )
    return Migration(int(match["version"]), match["name"], match["variant"] or "all", path)


def plan(paths: Iterable[Path], mode: StorageMode) -> list[Migration]:
    """The migrations to apply in ``mode``, in version order.

    A version has either one file for every mode or one file per mode, never a mix or a gap.
    """
    by_version: dict[int, list[Migration]] = {}
    for path in paths:
        migration = parse_name(path)
        by_version.setdefault(migration.version, []).append(migration)
    chosen = []
    for version in sorted(by_version):
        files = by_version[version]
        variants = {m.variant for m in files}
        if variants == {"all"} and len(files) == 1:
            chosen.append(files[0])
        elif variants == set(MODES) and len(files) == len(MODES):
            chosen.extend(m for m in files if m.variant == mode)
        else:
            names = ", ".join(sorted(m.path.name for m in files))
            raise MigrationError(
                f"version {version:04d} must have one file, or one per mode {MODES}: {names}"
            )
    versions = [m.version for m in chosen]
    expected = list(range(1, len(versions) + 1))
    if versions != expected:
        raise MigrationError(f"migration versions must run 1, 2, 3... without gaps: {versions}")
    return chosen


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[Path]:
    return sorted(directory.glob("*.sql"))


def choose_mode(available: bool, preload: str | None) -> StorageMode:
    """``timescale`` when the extension is installed (``available``) and the server preloads
    it (``shared_preload_libraries``: names or paths, a versioned library counts), else
    ``native``: TimescaleDB refuses to create its extension without the preload."""
    if not available:
        return "native"
    for entry in (preload or "").split(","):
        library = entry.strip().strip('"').rsplit("/", 1)[-1].removesuffix(".so")
        if library == "timescaledb" or library.startswith("timescaledb-"):
            return "timescale"
    return "native"


async def detect_mode(conn: asyncpg.Connection) -> StorageMode:
    """``timescale`` when the extension is available and preloaded, else ``native``."""
    available = await conn.fetchval(
        "SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'"
    )
    preload = await conn.fetchval("SELECT current_setting('shared_preload_libraries')")
    return choose_mode(bool(available), preload)


async def storage_mode(conn: asyncpg.Connection) -> StorageMode | None:
    """The recorded mode, or None before the first migration."""
    exists = await conn.fetchval("SELECT to_regclass('storage_mode') IS NOT NULL")
    if not exists:
        return None
    mode = await conn.fetchval("SELECT mode FROM storage_mode")
    return None if mode is None else _as_mode(mode)


def _as_mode(value: str) -> StorageMode:
    if value == "timescale":
        return "timescale"
    if value == "native":
        return "native"
    raise MigrationError(f"unknown storage mode {value!r}")


@dataclass(frozen=True)
class MigrationReport:
    mode: StorageMode
    applied: list[str]
    already: int


async def migrate(conn: asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> MigrationReport:
    """Apply every migration not applied yet; check the applied ones were not edited since."""
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(_BOOKKEEPING)
        mode = await storage_mode(conn) or await detect_mode(conn)
        await conn.execute(
            "INSERT INTO storage_mode (mode) VALUES ($1) ON CONFLICT DO NOTHING", mode
        )
        done = {
            row["version"]: row["checksum"]
            for row in await conn.fetch("SELECT version, checksum FROM schema_migrations")
        }
        applied = []
        for migration in plan(migration_files(directory), mode):
            if migration.version in done:
                if done[migration.version] != migration.checksum:
                    raise MigrationError(
                        f"{migration.path.name} was changed after it was applied: "
                        "add a new migration instead of editing an applied one"
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, variant, checksum)"
                    " VALUES ($1, $2, $3, $4)",
                    migration.version,
                    migration.name,
                    migration.variant,
                    migration.checksum,
                )
            applied.append(migration.path.name)
        return MigrationReport(mode, applied, len(done))
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


async def pending(conn: asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations of ``directory`` not applied to ``conn``'s database (all of them
    before the first ``alpr bootstrap``)."""
    mode = await storage_mode(conn) or await detect_mode(conn)
    done: set[int] = set()
    if await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL"):
        done = {row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")}
    return [m for m in plan(migration_files(directory), mode) if m.version not in done]


async def require_current(conn: asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> None:
    """Raise :class:`SchemaBehind` naming the migrations ``conn``'s database lacks."""
    missing = await pending(conn, directory)
    if missing:
        raise SchemaBehind([m.path.name for m in missing])


async def current_pool(dsn: str, **options: Any) -> asyncpg.Pool:
    """``asyncpg.create_pool(dsn, **options)`` on a database that has every migration of this
    code; :class:`SchemaBehind` otherwise (the pool closed), not a missing column later."""
    pool = await asyncpg.create_pool(dsn, **options)
    assert pool is not None  # create_pool only returns None when not awaited
    try:
        async with pool.acquire() as conn:
            await require_current(conn)
    except BaseException:
        await pool.close()
        raise
    return pool
