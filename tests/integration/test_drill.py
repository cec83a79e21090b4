"""``alpr drill`` in its short version: a few hundred events through the bad-input, worker
SIGKILL and registry-down-at-start drills on a private stack, read from its ``--json``
output. Every event must arrive in every store or, if malformed, as a dead letter with its
reason; no process may crash. (The full drills and their figures: ``alpr drill --full``.)

The registry drill and the NUL bytes of the bad-input drill failed before issue 17's fixes:
the worker crashed about 29 s after starting without the registry, and a NUL in
``camera_id`` reached the detected topic and Elasticsearch but not PostgreSQL.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EVENTS = 300
DRILLS = ("bad-input", "worker-kill", "registry-down")
ALPR = Path(sys.executable).with_name("alpr")


def test_the_short_drills_lose_nothing_and_crash_nothing() -> None:
    args = [str(ALPR), "drill", "--events", str(EVENTS), "--json"]
    for name in DRILLS:
        args += ["--drill", name]
    done = subprocess.run(args, capture_output=True, text=True, timeout=1200)
    assert done.stdout.strip(), f"no output (exit {done.returncode}):\n{done.stderr[-3000:]}"
    results = {r["drill"]: r for r in json.loads(done.stdout)}
    assert set(results) == set(DRILLS), results
    for row in results.values():
        assert row["unsent"] == 0, row
        assert row["lost"] == 0 and row["crashed"] == [], row
        assert row["arrived"] == dict.fromkeys(("detected", "postgres", "elasticsearch"), EVENTS)
    bad = results["bad-input"]
    assert bad["dead_lettered"] == bad["sent"] - EVENTS > 0, bad
    assert bad["wrong_reason"] == 0, bad
    assert bad["reasons"]["invalid_field"] > 0, bad  # the NUL and control characters
    assert results["registry-down"]["notes"] == [], results["registry-down"]
    assert done.returncode == 0, done.stderr[-3000:]
