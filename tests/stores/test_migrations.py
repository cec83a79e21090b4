"""Migration files: naming, choice of variant by storage mode, and ordering."""

from __future__ import annotations

from pathlib import Path

import pytest

from stores.migrations import MigrationError, migration_files, parse_name, plan


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
