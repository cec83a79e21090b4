"""A Faust worker of this app in a child process, for the demo, tests and benchmarks."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


#: Where :func:`free_port` looks: above the stack's default ports (11025-19406), below the
#: kernel's ephemeral range. A port the kernel hands out (``bind`` to port 0) lies in that
#: range, and any outgoing connection may take it as its local port before the service that
#: was given it binds it: a broker of a test's private cluster failed so ("Address already in
#: use").
FREE_PORT_RANGE = (20000, 32768)
_handed_out: set[int] = set()


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now, outside the kernel's
    ephemeral range and not handed out before by this process."""
    low, high = FREE_PORT_RANGE
    eph_low, eph_high = _ephemeral_range()
    candidates = [p for p in range(low, high) if not eph_low <= p <= eph_high]
    for port in random.SystemRandom().sample(candidates, min(len(candidates), 200)):
        if port not in _handed_out and _bindable(port):
            _handed_out.add(port)
            return port
    # Every sampled port taken: fall back on the kernel's choice.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class WorkerProcess:
    """``faust -A alpr worker`` in its own session, logging to ``workdir/worker.log``.

    ``env`` is added to this process's environment (``ALPR_*`` settings, topic names).
    Used as a context manager it is stopped (SIGTERM, then SIGKILL) on exit.
    """

    def __init__(self, workdir: Path, web_port: int, env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.web_url = f"http://127.0.0.1:{web_port}"
        self.log_path = workdir / "worker.log"
        self.env = {
            **os.environ,
            "ALPR_FAUST__DATA_DIR": str(workdir / "worker-data"),
            "ALPR_WEB__PORT": str(web_port),
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "faust", "-A", "alpr", "worker", "-l", "info"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def health(self) -> dict[str, Any] | None:
        """The worker's ``/health`` answer, or None while it does not answer."""
        try:
            with urllib.request.urlopen(self.web_url + "/health", timeout=2) as resp:
                body: dict[str, Any] = json.loads(resp.read())
                return body
        except OSError:
            return None

    def wait_ready(
        self, timeout: float = 120.0, min_partitions: int = 1, consumers: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """Wait until ``/health`` reports at least ``min_partitions`` assigned partitions and
        each batch consumer named in ``consumers`` (e.g. ``router``) owns a partition."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"the worker exited; log tail:\n{self.log_tail()}")
            body = self.health()
            if body is not None and _ready(body, min_partitions, consumers):
                return body
            time.sleep(0.5)
        raise TimeoutError(f"the worker was not ready within {timeout:.0f}s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM the worker's session, SIGKILL after ``timeout``; returns its exit code."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        return process.returncode

    def __enter__(self) -> WorkerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _ready(health: dict[str, Any], min_partitions: int, consumers: tuple[str, ...]) -> bool:
    if health.get("assigned_partitions", 0) < min_partitions:
        return False
    running = health.get("consumers", {})
    return all(running.get(name, {}).get("assigned_partitions", 0) > 0 for name in consumers)
