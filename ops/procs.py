"""Start, track and stop the stack's processes.

Each service runs in its own session (process group). Its record in ``run/<name>.json`` holds
the PID and the kernel's start time of that process, so ``down`` signals exactly the process
group this stack started, never a stranger that reused the PID.
"""

from __future__ import annotations

import json
import os
import pwd
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


def _start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces: split after its closing parenthesis.
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[19])


@dataclass(frozen=True)
class Record:
    """A started process: its PID and start time."""

    pid: int
    start_ticks: int

    def alive(self) -> bool:
        return _start_ticks(self.pid) == self.start_ticks


class ProcessTable:
    """PID records of one stack's services."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def _path(self, name: str) -> Path:
        return self.run_dir / f"{name}.json"

    def get(self, name: str) -> Record | None:
        try:
            raw = json.loads(self._path(name).read_text())
            return Record(pid=int(raw["pid"]), start_ticks=int(raw["start_ticks"]))
        except (OSError, ValueError, KeyError):
            return None

    def running(self, name: str) -> Record | None:
        record = self.get(name)
        return record if record is not None and record.alive() else None

    def start(
        self,
        name: str,
        argv: list[str],
        *,
        log: Path,
        cwd: Path,
        env: dict[str, str],
        user: str | None,
    ) -> Record:
        """Start ``argv`` in a new session, as ``user`` when given, logging to ``log``."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        log.parent.mkdir(parents=True, exist_ok=True)
        uid = gid = None
        extra_groups: list[int] | None = None
        if user is not None:
            entry = pwd.getpwnam(user)
            uid, gid, extra_groups = entry.pw_uid, entry.pw_gid, []
            env = dict(env, HOME=str(cwd), USER=user, LOGNAME=user)
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=uid,
                group=gid,
                extra_groups=extra_groups,
            )
        ticks = _start_ticks(proc.pid)
        record = Record(pid=proc.pid, start_ticks=ticks if ticks is not None else -1)
        self._path(name).write_text(
            json.dumps({"pid": record.pid, "start_ticks": record.start_ticks, "argv": argv})
        )
        return record

    def stop(self, name: str, timeout: float = 30.0, leader_signal: int | None = None) -> bool:
        """SIGTERM the service's process group (or send ``leader_signal`` to its leader only,
        for a server that stops its children itself), SIGKILL the group after ``timeout``;
        True if it ran."""
        return self.stop_together([name], timeout, leader_signal)[name]

    def stop_together(
        self, names: list[str], timeout: float = 30.0, leader_signal: int | None = None
    ) -> dict[str, bool]:
        """:meth:`stop` the services ``names`` at once: signal them all, then wait. For a
        cluster whose last member would otherwise wait for the quorum of those stopped
        before it. Whether each ran, by name."""
        records = {name: self.running(name) for name in names}
        for name, record in records.items():
            self._path(name).unlink(missing_ok=True)
            if record is None:
                continue
            if leader_signal is None:
                _signal_group(record.pid, signal.SIGTERM)
            else:
                try:
                    os.kill(record.pid, leader_signal)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        for record in records.values():
            if record is None:
                continue
            while time.monotonic() < deadline:
                if not record.alive() and not _group_alive(record.pid):
                    break
                time.sleep(0.2)
            else:
                _signal_group(record.pid, signal.SIGKILL)
        return {name: record is not None for name, record in records.items()}


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
