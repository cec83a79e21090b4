"""File-based service discovery for the stack's Prometheus: one file per running process.

Prometheus watches ``<targets>/<job>/*.json`` (``file_sd_configs``), so a worker that starts
on any port is scraped without anyone listing it: the worker writes its file when it starts
(:func:`announce`) and removes it when it stops (:func:`withdraw`). A process killed before it
could remove its file leaves it behind; the file's name holds the process's PID and kernel
start time, and :func:`prune` (run by every announce and by ``ops/stack up``) removes
the files of processes that are gone, so a dead worker is not reported down forever.

Standard library only: ``ops/stack`` imports it before the project's virtualenv exists.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ops.procs import Record, _start_ticks

#: The jobs of the Prometheus configuration whose targets are discovered from files. Edge
#: workers write their own files (``edge.metrics.TargetFile``: the edge may not import this
#: module) into the edge job's folder, which ``ops/stack exec`` names in $ALPR_EDGE_TARGETS_DIR.
WORKER_JOB = "alpr-worker"
EDGE_JOB = "alpr-edge"
JOBS = (WORKER_JOB, EDGE_JOB)


def announce(
    directory: Path,
    job: str,
    port: int,
    host: str = "127.0.0.1",
    labels: dict[str, str] | None = None,
    pid: int | None = None,
) -> Path:
    """Write the target file of the process ``pid`` (default: this one) serving ``/metrics``
    on ``host:port`` for ``job``; returns its path, for :func:`withdraw`."""
    if job not in JOBS:
        raise ValueError(f"job={job!r}: must be one of {', '.join(JOBS)}")
    if not 1 <= port <= 65535:
        raise ValueError(f"port={port}: must be in 1..65535")
    pid = os.getpid() if pid is None else pid
    ticks = _start_ticks(pid)
    if ticks is None:
        raise ValueError(f"pid={pid}: no such process")
    prune(directory)
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"  # bound on every interface: loopback reaches it too
    group = {"targets": [f"{host}:{port}"], "labels": dict(labels or {})}
    path = directory / job / f"{pid}-{ticks}-{port}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed: Prometheus must never read half a file.
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps([group], indent=1) + "\n")
    partial.rename(path)
    return path


def withdraw(path: Path) -> None:
    """Remove a target file written by :func:`announce` (a no-op when it is gone)."""
    path.unlink(missing_ok=True)


def _owner(path: Path) -> Record | None:
    pid, _, rest = path.stem.partition("-")
    ticks = rest.partition("-")[0]
    if not (pid.isdigit() and ticks.isdigit()):
        return None
    return Record(pid=int(pid), start_ticks=int(ticks))


def prune(directory: Path) -> list[Path]:
    """Remove the target files whose process is gone; returns what was removed."""
    removed = []
    for job in JOBS:
        for path in sorted((directory / job).glob("*.json")):
            owner = _owner(path)
            if owner is not None and not owner.alive():
                withdraw(path)
                removed.append(path)
    return removed


def announced(directory: Path) -> list[str]:
    """``host:port`` of every target announced now, of every job."""
    found = []
    for job in JOBS:
        for path in sorted((directory / job).glob("*.json")):
            try:
                groups = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            found += [t for group in groups for t in group.get("targets", [])]
    return found
