"""The core worker does not load the edge, and the edge's commands are still in ``alpr``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALPR = Path(sys.executable).with_name("alpr")

# What `faust -A alpr <command>` does before it parses the command: import the app and every
# module of the discovered packages.
DISCOVER = """
import sys
from faust.cli.base import find_app
find_app("alpr")
print(sorted(name for name in sys.modules if name.split(".")[0] == "edge"))
"""


def test_the_app_with_every_discovered_module_loads_nothing_of_the_edge() -> None:
    out = subprocess.run(
        [sys.executable, "-c", DISCOVER], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_the_edge_commands_are_listed_with_their_summaries() -> None:
    out = subprocess.run([str(ALPR), "--help"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    listed = {line.split()[0]: line for line in out.stdout.splitlines() if line.startswith("  ")}
    assert "Read licence plates" in listed["read"]
    assert "every enabled camera" in listed["edge"]
    assert "Recognition models" in listed["models"]
