"""The edge commands as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from edge.manifest import ModelStore

ALPR = Path(sys.executable).with_name("alpr")


def _alpr(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ALPR), *args], capture_output=True, text=True, timeout=300)


def test_models_replaces_fausts_own_command_with_fetch_list_and_verify() -> None:
    result = _alpr("models", "--help")
    assert result.returncode == 0, result.stderr
    assert "Recognition models" in result.stdout
    for command in ("fetch", "list", "verify"):
        assert f"  {command} " in result.stdout


def test_read_help_explains_the_json_lines() -> None:
    result = _alpr("read", "--help")
    assert result.returncode == 0, result.stderr
    assert "--json" in result.stdout and "--region" in result.stdout
    assert '"plates"' in result.stdout


def test_models_verify_passes_on_the_fetched_cache(model_store: ModelStore) -> None:
    result = _alpr("models", "verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [line.split()[:2] for line in result.stdout.splitlines()] == [
        [name, "ok"] for name in model_store.manifest.models
    ]


def test_alpr_help_lists_the_platforms_commands_without_fausts_banner_or_internals() -> None:
    result = _alpr("--help")
    assert result.returncode == 0, result.stderr
    commands = result.stdout.split("Commands:")[1]
    listed = {line.split()[0] for line in commands.splitlines() if line.startswith("  ")}
    assert {"read", "edge", "worker", "models", "rules", "dlq"} <= listed
    assert not listed & {"livecheck", "agents", "clean-versions", "reset", "send", "tables"}
    assert "faust-streaming.github.io" not in result.stdout and result.stderr == ""


def test_edge_with_a_trained_recognizer_missing_from_the_registry_is_one_clear_error(
    tmp_path: Path,
) -> None:
    """No camera starts and no traceback: the error names what to do."""
    site = tmp_path / "site.yaml"
    site.write_text(
        "site_id: test\ncameras:\n  - id: gate\n    url: /videos/gate.mp4\n"
        "engine:\n  ocr: {type: slots}\n",
        encoding="utf-8",
    )
    env = {**os.environ, "ALPR_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [str(ALPR), "edge", "--config", str(site)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 2, done.stderr
    assert "no current version of 'plate-ocr'" in done.stderr
    assert "Traceback" not in done.stderr
