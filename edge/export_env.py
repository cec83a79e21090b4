"""The export environment: a venv in the cache with ultralytics and torch, used once.

It converts the plate detector's ``best.pt`` to ONNX, so the runtime environment needs
neither torch nor ultralytics. It takes about 5 GB (torch's Linux wheels pull the CUDA
libraries) and is removed after a successful export unless asked to keep it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from edge.fetch import FetchError, Progress, write_checked

REQUIREMENTS = Path(__file__).with_name("export-requirements.txt")
EXPORT_SCRIPT = Path(__file__).with_name("plate_export.py")


def _run(command: list[str], what: str, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-20:])
        raise FetchError(f"{what} failed (exit {result.returncode}):\n{tail}")


def ensure_env(venv: Path, progress: Progress) -> Path:
    """The export venv's python, creating the venv and installing the pinned set if needed."""
    python = venv / "bin" / "python"
    stamp = venv / "requirements.txt"
    if python.is_file() and stamp.is_file() and stamp.read_text() == REQUIREMENTS.read_text():
        return python
    progress(f"  setup   export environment in {venv} (torch + ultralytics, ~5 GB, ~2 min)")
    shutil.rmtree(venv, ignore_errors=True)
    _run([sys.executable, "-m", "venv", str(venv)], "creating the export venv")
    _run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-r", str(REQUIREMENTS)],
        "installing the export environment",
    )  # fmt: skip
    shutil.copyfile(REQUIREMENTS, stamp)
    return python


def export_onnx(
    source: Path, target: Path, expected_sha256: str, venv: Path, keep_env: bool, progress: Progress
) -> None:
    """Export ``source`` (.pt) to ``target`` (.onnx) and check the result's sha256."""
    python = ensure_env(venv, progress)
    progress(f"  export  {source.name} -> {target.name}")
    with tempfile.TemporaryDirectory(prefix="alpr-export-") as tmp:
        work = Path(tmp)
        shutil.copyfile(source, work / source.name)
        env = {**os.environ, "YOLO_CONFIG_DIR": str(work / "ultralytics")}
        out = work / target.name
        _run(
            [str(python), str(EXPORT_SCRIPT), str(work / source.name), str(out)],
            f"exporting {source.name}",
            env,
        )
        write_checked(out.read_bytes(), target, expected_sha256)
    progress(f"  ok      {target.name} (sha256 {expected_sha256[:12]}...)")
    if not keep_env:
        shutil.rmtree(venv, ignore_errors=True)
        progress("  clean   removed the export environment (pass --keep-export-env to keep it)")
