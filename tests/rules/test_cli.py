"""``alpr rules check`` as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_check_lists_each_error_with_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: r\n    type: rate\n    count: 1\n    window: 60\n")
    done = subprocess.run(
        [sys.executable, "-m", "faust", "-A", "alpr", "rules", "check",
         str(ROOT / "rules" / "examples"), str(bad)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert f"{bad}:4: rules[0].count: Input should be greater than or equal to 2" in done.stderr
    assert "11 rules, 1 errors" in done.stdout
