"""numba's cache folder: under $ALPR_HOME unless the user names one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SHOW_CACHE_DIR = "from edge.engine.compiled import numba; print(numba.config.CACHE_DIR)"


def _cache_dir(env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", SHOW_CACHE_DIR], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.fixture
def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}


def test_compiled_code_is_cached_under_alpr_home(clean_env: dict[str, str], tmp_path: Path) -> None:
    assert _cache_dir({**clean_env, "ALPR_HOME": str(tmp_path)}) == str(tmp_path / "numba-cache")


def test_a_cache_folder_the_user_names_wins(clean_env: dict[str, str], tmp_path: Path) -> None:
    env = {**clean_env, "ALPR_HOME": str(tmp_path), "NUMBA_CACHE_DIR": str(tmp_path / "mine")}
    assert _cache_dir(env) == str(tmp_path / "mine")
