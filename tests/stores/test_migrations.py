"""Migration files: naming, choice of variant by storage mode, and ordering."""

from __future__ import annotations

from pathlib import Path

import pytest

from stores.migrations import (
    MIGRATIONS_DIR,
    MigrationError,
    choose_mode,
    detect_mode,
    migration_files,
    parse_name,
    plan,
)
from stores.pg_writer import insert_sql


def _files(tmp_path: Path, *names: str) -> list[Path]:
    paths = []
    for name in names:
        path = tmp_path / name
        path.write_text("SELECT 1;")
        paths.append(path)
    return paths


def test_plan_orders_by_version_and_picks_the_mode_variant(tmp_path: Path) -> None:
    paths = _files(
        tmp_path,
        "0002_reads.timescale.sql",
        "0001_base.sql",
        "0002_reads.native.sql",
        "0003_more.sql",
    )
    native = plan(paths, "native")
    assert [m.path.name for m in native] == [
        "0001_base.sql",
        "0002_reads.native.sql",
        "0003_more.sql",
    ]
    timescale = plan(paths, "timescale")
    assert [m.path.name for m in timescale][1] == "0002_reads.timescale.sql"


def test_a_version_with_one_variant_only_is_refused(tmp_path: Path) -> None:
    paths = _files(tmp_path, "0001_base.sql", "0002_reads.native.sql")
    with pytest.raises(MigrationError, match="one per mode"):
        plan(paths, "native")


def test_a_gap_in_versions_is_refused(tmp_path: Path) -> None:
    paths = _files(tmp_path, "0001_base.sql", "0003_more.sql")
    with pytest.raises(MigrationError, match="without gaps"):
        plan(paths, "native")


def test_a_file_named_out_of_pattern_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match=r"NNNN_name\.sql"):
        parse_name(tmp_path / "1_base.sql")


@pytest.mark.parametrize("mode", ["native", "timescale"])
def test_the_project_migrations_plan_in_both_modes(mode: str) -> None:
    chosen = plan(migration_files(), mode)  # type: ignore[arg-type]
    assert [m.version for m in chosen] == list(range(1, len(chosen) + 1))
    assert all(m.variant in ("all", mode) for m in chosen)


# The TimescaleDB path is chosen by this logic only: no TimescaleDB is packaged on the
# machines this project is tested on, so the timescale migrations, insert and retention
# have not run against a real TimescaleDB.
@pytest.mark.parametrize(
    ("available", "preload", "mode"),
    [
        (False, "timescaledb", "native"),  # preloaded but not installed as an extension
        (True, "", "native"),  # installed but not preloaded: CREATE EXTENSION would fail
        (True, None, "native"),
        (True, "pg_stat_statements", "native"),
        (True, "timescaledb_toolkit", "native"),  # another library of a similar name
        (True, "pg_stat_statements,timescaledb", "timescale"),
        (True, " pg_stat_statements , timescaledb ", "timescale"),
        (True, "$libdir/timescaledb-2.14.2", "timescale"),
        (True, '"timescaledb"', "timescale"),
    ],
)
def test_the_storage_mode_is_timescale_only_when_installed_and_preloaded(
    available: bool, preload: str | None, mode: str
) -> None:
    assert choose_mode(available, preload) == mode


class _Server:
    """Answers the two questions detect_mode asks a server."""

    def __init__(self, available: int, preload: str) -> None:
        self.answers = {"pg_available_extensions": available, "shared_preload_libraries": preload}

    async def fetchval(self, sql: str) -> object:
        return next(value for key, value in self.answers.items() if key in sql)


@pytest.mark.parametrize(("available", "mode"), [(0, "native"), (1, "timescale")])
async def test_detect_mode_asks_the_server_for_the_extension_and_the_preload(
    available: int, mode: str
) -> None:
    server = _Server(available, "pg_stat_statements,timescaledb")
    assert await detect_mode(server) == mode  # type: ignore[arg-type]


def test_each_mode_writes_with_its_own_insert() -> None:
    native, timescale = insert_sql("native"), insert_sql("timescale")
    assert "plate_reads_hourly" in native and "ON CONFLICT DO NOTHING" in native
    assert "plate_reads_hourly" not in timescale and "ON CONFLICT DO NOTHING" in timescale


def test_the_migrations_ship_inside_the_stores_package_as_package_data() -> None:
    """A non-editable install has them: they live in the package and setup.cfg lists them."""
    import configparser
    import fnmatch

    import stores

    package = Path(stores.__file__).resolve().parent
    assert MIGRATIONS_DIR.parent == package
    config = configparser.ConfigParser()
    config.read(package.parent / "setup.cfg")
    patterns = [p.strip() for p in config["options.package_data"]["stores"].split(",")]
    shipped = [p.relative_to(package).as_posix() for p in MIGRATIONS_DIR.iterdir()]
    assert migration_files() and all(
        any(fnmatch.fnmatch(name, pattern) for pattern in patterns) for name in shipped
    ), (shipped, patterns)
