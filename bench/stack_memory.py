"""The memory of the stack's services, read from ``/proc``: what the monitoring adds.

    .venv/bin/python -m bench.stack_memory [SERVICE ...]

Issue 19 allows the services added for observability at most 300 MB. Without names it reads
the monitoring services (``ops/monitoring.py``: Prometheus, Alertmanager and the exporters);
Jaeger is not among them, as it runs for the trace test only. For each service, every process
of the process group the stack started (``ops/procs.py``) is summed: resident memory (RSS),
its proportional share (PSS: shared pages divided among the processes mapping them, so a
library two services share counts once in the total), and the peak resident memory since the
start (``VmHWM``, summed over the group: an upper bound of the group's peak). Ends with
``RESULT rss_mb=... pss_mb=... peak_mb=...`` (MB of 10^6 bytes).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

from ops.layout import Layout
from ops.monitoring import MONITORING_CLASSES
from ops.procs import ProcessTable


@dataclass(frozen=True)
class Memory:
    """Kilobytes (the kernel's ``kB``, 1024 bytes) of one process or a sum of them."""

    rss_kb: int = 0
    pss_kb: int = 0
    peak_kb: int = 0

    def __add__(self, other: Memory) -> Memory:
        return Memory(
            self.rss_kb + other.rss_kb, self.pss_kb + other.pss_kb, self.peak_kb + other.peak_kb
        )


def _fields(path: Path, names: tuple[str, ...]) -> dict[str, int]:
    found = {}
    for line in path.read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in names:
            found[name] = int(rest.split()[0])
    return found


def process_memory(pid: int) -> Memory:
    """RSS and PSS (``smaps_rollup``) and peak RSS (``status``) of one process."""
    rollup = _fields(Path(f"/proc/{pid}/smaps_rollup"), ("Rss", "Pss"))
    status = _fields(Path(f"/proc/{pid}/status"), ("VmHWM",))
    return Memory(rollup["Rss"], rollup["Pss"], status["VmHWM"])


def group_members(leader: int) -> list[int]:
    """The processes of ``leader``'s process group (a service's children too)."""
    members = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == leader:
                    members.append(int(entry.name))
            except ProcessLookupError:
                continue
    return sorted(members)


def service_memory(table: ProcessTable, name: str) -> Memory:
    """The summed memory of the service's process group; ``SystemExit`` if it is not running."""
    record = table.running(name)
    if record is None:
        raise SystemExit(f"{name} is not running (started by this stack): `ops/stack up {name}`")
    total = Memory()
    for pid in group_members(record.pid):
        try:
            total += process_memory(pid)
        except (FileNotFoundError, ProcessLookupError):
            continue  # gone meanwhile
    return total


def mb(kb: int) -> float:
    return kb * 1024 / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = [cls.name for cls in MONITORING_CLASSES]
    parser.add_argument("services", nargs="*", default=default, help=f"default: {default}")
    args = parser.parse_args(argv)
    table = ProcessTable(Layout().run)
    total = Memory()
    print(f"{'service':<24} {'RSS MB':>8} {'PSS MB':>8} {'peak MB':>8}")
    for name in args.services:
        memory = service_memory(table, name)
        total += memory
        print(f"{name:<24} {mb(memory.rss_kb):8.1f} {mb(memory.pss_kb):8.1f} "
              f"{mb(memory.peak_kb):8.1f}")  # fmt: skip
    print(f"{'total':<24} {mb(total.rss_kb):8.1f} {mb(total.pss_kb):8.1f} {mb(total.peak_kb):8.1f}")
    print(f"RESULT rss_mb={mb(total.rss_kb):.1f} pss_mb={mb(total.pss_kb):.1f} "
          f"peak_mb={mb(total.peak_kb):.1f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
