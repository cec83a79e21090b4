"""``bench.stack_memory`` reads a service's whole process group from ``/proc``."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from bench.stack_memory import group_members, process_memory, service_memory
from ops.procs import ProcessTable

#: A parent holding about 40 MB and a child of its own, both in the service's group.
HOLDER = (
    "import subprocess, sys, time; block = bytearray(40_000_000); block[::4096] = b'x' * 9766;"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
    "print('ready', flush=True); time.sleep(60)"
)


def test_a_services_memory_sums_its_process_group(tmp_path: Path) -> None:
    table = ProcessTable(tmp_path / "run")
    log = tmp_path / "holder.log"
    argv = [sys.executable, "-c", HOLDER]
    table.start("holder", argv, log=log, cwd=tmp_path, env={}, user=None)
    try:
        deadline = time.monotonic() + 30
        while "ready" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        record = table.running("holder")
        assert record is not None
        members = group_members(record.pid)
        memory = service_memory(table, "holder")
        parent = process_memory(record.pid)
    finally:
        table.stop("holder", timeout=10)
    assert len(members) == 2 and record.pid in members
    assert parent.rss_kb > 40_000_000 // 1024
    assert memory.rss_kb > parent.rss_kb  # the child counts too
    assert 0 < memory.pss_kb <= memory.rss_kb <= memory.peak_kb


def test_a_service_not_running_is_named(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="holder is not running"):
        service_memory(ProcessTable(tmp_path / "run"), "holder")
