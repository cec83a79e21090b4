"""Pure parts of the local stack: ports, process records, the Kafka probe's wire format."""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ops import probes
from ops.layout import Layout
from ops.procs import ProcessTable


def test_ports_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPR_STACK_KAFKA_PORT", "29092")
    layout = Layout()
    assert layout.ports["kafka"] == 29092
    assert layout.settings_env()["ALPR_KAFKA__BROKER"] == "kafka://127.0.0.1:29092"


def test_bad_port_is_refused_with_the_variable_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPR_STACK_S3_PORT", "99999")
    with pytest.raises(SystemExit, match="ALPR_STACK_S3_PORT='99999'"):
        Layout()


def test_process_table_stops_exactly_what_it_started(tmp_path: Path) -> None:
    table = ProcessTable(tmp_path / "run")
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    record = table.start("sleeper", sleeper, log=tmp_path / "s.log", cwd=tmp_path,
                         env=dict(os.environ), user=None)  # fmt: skip
    assert table.running("sleeper") == record
    assert table.stop("sleeper", timeout=10) is True
    assert table.running("sleeper") is None
    assert table.stop("sleeper") is False


def test_a_reused_pid_is_not_ours(tmp_path: Path) -> None:
    table = ProcessTable(tmp_path / "run")
    (tmp_path / "run").mkdir()
    # Our own PID with a start time that is not ours: a stranger that reused the PID.
    (tmp_path / "run" / "ghost.json").write_text(f'{{"pid": {os.getpid()}, "start_ticks": 1}}')
    assert table.running("ghost") is None
    assert table.stop("ghost") is False


def _fake_broker(brokers: int) -> tuple[int, threading.Thread]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve() -> None:
        conn, _ = server.accept()
        with conn, server:
            (size,) = struct.unpack(">i", conn.recv(4))
            request = conn.recv(size)
            api_key, _version, correlation = struct.unpack(">hhi", request[:8])
            assert api_key == 3
            body = struct.pack(">ii", correlation, brokers)
            conn.sendall(struct.pack(">i", len(body)) + body)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server.getsockname()[1], thread


def test_kafka_probe_reads_the_metadata_answer() -> None:
    port, thread = _fake_broker(brokers=1)
    assert probes.kafka("127.0.0.1", port) == "1 broker(s) in metadata"
    thread.join(5)
    port, thread = _fake_broker(brokers=0)
    with pytest.raises(probes.ProbeError, match="no broker"):
        probes.kafka("127.0.0.1", port)
    thread.join(5)


def test_probe_of_a_closed_port_is_a_probe_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(probes.ProbeError):
        probes.kafka("127.0.0.1", port, timeout=1)
    with pytest.raises(probes.ProbeError):
        probes.smtp("127.0.0.1", port, timeout=1)


def test_stack_help_explains_the_commands() -> None:
    out = subprocess.run(
        [str(Path(__file__).resolve().parents[2] / "ops" / "stack"), "--help"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0
    for word in ("up", "down", "status", "logs", "exec", "ALPR_STACK_DIR"):
        assert word in out.stdout


def test_up_pulls_in_dependencies_but_down_and_status_touch_only_the_named() -> None:
    from ops.stack import Stack

    stack = Stack(Layout())
    assert [s.name for s in stack.select(["registry"])] == ["postgres", "registry"]
    assert [s.name for s in stack.select(["registry"], with_dependencies=False)] == ["registry"]
    with pytest.raises(SystemExit, match="unknown service"):
        stack.select(["mysql"])


def test_a_java_too_old_everywhere_is_a_prerequisite_error_naming_the_install() -> None:
    from ops.installers import PrerequisiteError
    from ops.services import _java_home

    assert (Path(_java_home(17)) / "bin" / "java").exists()
    with pytest.raises(PrerequisiteError, match=r"Java 99 or newer is needed.*apt-get install"):
        _java_home(99)
