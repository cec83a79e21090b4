"""The stack's Kafka shapes: one broker by default, three with ``ops/stack up --brokers 3``.

The three-broker cluster itself is started in ``tests/integration/test_kafka_cluster.py``.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from ops import services
from ops.layout import KAFKA_BROKERS_FILE, Layout
from ops.monitoring import Prometheus
from ops.procs import ProcessTable, _start_ticks
from ops.services import Kafka
from ops.stack import Stack


def _properties(kafka: Kafka) -> dict[str, str]:
    return dict(line.split("=", 1) for line in kafka.server_properties() if line)


@pytest.fixture
def one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Layout:
    monkeypatch.delenv("ALPR_STACK_KAFKA_BROKERS", raising=False)
    return Layout(root=tmp_path)


@pytest.fixture
def three(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Layout:
    monkeypatch.setenv("ALPR_STACK_KAFKA_BROKERS", "3")
    return Layout(root=tmp_path)


def test_the_default_is_one_broker_with_its_own_folder_and_replication_one(one: Layout) -> None:
    stack = Stack(one)
    brokers = [s for s in stack.services.values() if isinstance(s, Kafka)]
    assert [b.name for b in brokers] == ["kafka"]
    (kafka,) = brokers
    assert kafka.data_dir == one.data / "kafka"
    assert kafka.peers == ()
    props = _properties(kafka)
    assert props["controller.quorum.voters"] == f"1@127.0.0.1:{one.ports['kafka_controller']}"
    assert props["offsets.topic.replication.factor"] == "1"
    assert "min.insync.replicas" not in props and "default.replication.factor" not in props
    assert kafka.launch().argv[1:3] == ["-Xms256m", "-Xmx768m"]
    env = one.settings_env()
    assert env["ALPR_KAFKA__BROKER"] == f"kafka://127.0.0.1:{one.ports['kafka']}"
    assert "ALPR_KAFKA__REPLICATION_FACTOR" not in env


def test_three_brokers_form_one_quorum_with_replication_three_and_two_in_sync(
    three: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    brokers = [s for s in Stack(three).services.values() if isinstance(s, Kafka)]
    assert [b.name for b in brokers] == ["kafka", "kafka-2", "kafka-3"]
    assert len({b.data_dir for b in brokers}) == 3
    assert all(b.data_dir.parent == three.data / "kafka-cluster" for b in brokers)
    ports = {three.kafka_port(n, role) for n in (1, 2, 3) for role in ("", "controller", "metrics")}
    assert len(ports) == 9
    voters = {_properties(b)["controller.quorum.voters"] for b in brokers}
    assert voters == {
        ",".join(f"{n}@127.0.0.1:{three.kafka_port(n, 'controller')}" for n in (1, 2, 3))
    }
    for node, broker in enumerate(brokers, start=1):
        props = _properties(broker)
        assert props["node.id"] == str(node)
        assert props["listeners"].startswith(f"PLAINTEXT://127.0.0.1:{three.kafka_port(node)},")
        assert props["default.replication.factor"] == "3"
        assert props["min.insync.replicas"] == "2"
        assert props["offsets.topic.replication.factor"] == "3"
        assert props["unclean.leader.election.enable"] == "false"
        assert broker.endpoint() == f"127.0.0.1:{three.kafka_port(node)}"
    env = three.settings_env()
    assert env["ALPR_KAFKA__BROKER"].split(";") == [
        f"kafka://127.0.0.1:{three.kafka_port(n)}" for n in (1, 2, 3)
    ]
    assert env["ALPR_KAFKA__REPLICATION_FACTOR"] == "3"
    monkeypatch.setenv("ALPR_STACK_KAFKA_HEAP", "256m")
    assert brokers[1].launch().argv[1:3] == ["-Xms128m", "-Xmx256m"]


def test_a_broker_of_three_is_started_with_its_peers(three: Layout) -> None:
    stack = Stack(three)
    assert [s.name for s in stack.select(["kafka-2"])] == ["kafka", "kafka-2", "kafka-3"]
    assert [s.name for s in stack.select(["kafka-2"], with_dependencies=False)] == ["kafka-2"]


def test_prometheus_scrapes_every_broker(one: Layout, three: Layout) -> None:
    def kafka_targets(layout: Layout) -> list[str]:
        jobs = Prometheus(layout).config()["scrape_configs"]
        (job,) = [j for j in jobs if j["job_name"] == "kafka"]
        return list(job["static_configs"][0]["targets"])

    assert kafka_targets(one) == [f"127.0.0.1:{one.ports['kafka_metrics']}"]
    assert kafka_targets(three) == [
        f"127.0.0.1:{three.kafka_port(n, 'metrics')}" for n in (1, 2, 3)
    ]


def test_up_brokers_records_the_shape_for_later_commands(
    one: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    reshaped = Stack(one).reshape_kafka(3)
    assert reshaped.layout.kafka_brokers == 3
    assert (one.root / KAFKA_BROKERS_FILE).read_text() == "3\n"
    assert Layout(root=one.root).kafka_brokers == 3
    assert "kafka-3" in Stack(Layout(root=one.root)).services
    (one.root / KAFKA_BROKERS_FILE).write_text("2\n")
    with pytest.raises(
        SystemExit, match=r"kafka-brokers: '2' Kafka brokers; the stack runs 1 or 3"
    ):
        Layout(root=one.root)


def test_the_shape_does_not_change_under_a_running_broker(one: Layout) -> None:
    # Our own process, recorded as the stack's broker: it "runs".
    run = one.run
    run.mkdir(parents=True)
    record = {"pid": os.getpid(), "start_ticks": _start_ticks(os.getpid())}
    (run / "kafka.json").write_text(json.dumps(record))
    with pytest.raises(SystemExit, match=r"stop it first \(`ops/stack down kafka`\)"):
        Stack(one).reshape_kafka(3)
    assert not (one.root / KAFKA_BROKERS_FILE).exists()


def test_peers_stop_together(tmp_path: Path) -> None:
    # Each "broker" takes 3 s to stop after SIGTERM: one after the other that is 6 s.
    slow = "import signal, sys, time; signal.signal(signal.SIGTERM, lambda *_: (time.sleep(3), sys.exit(0))); time.sleep(60)"  # noqa: E501
    table = ProcessTable(tmp_path / "run")
    for name in ("a", "b"):
        record = table.start(name, [sys.executable, "-c", slow], log=tmp_path / f"{name}.log",
                             cwd=tmp_path, env=dict(os.environ), user=None)  # fmt: skip
        # Reaped as they end, as the stack's own are (a zombie would count as running).
        threading.Thread(target=os.waitpid, args=(record.pid, 0), daemon=True).start()
    time.sleep(0.5)  # the handlers are installed
    began = time.monotonic()
    assert table.stop_together(["a", "b", "c"], timeout=20) == {"a": True, "b": True, "c": False}
    assert time.monotonic() - began < 5.5
    assert table.running("a") is None and table.running("b") is None


def test_ops_stack_up_help_names_the_brokers_option() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ops.stack", "up", "--help"],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert "--brokers {1,3}" in done.stdout


def test_a_cluster_id_never_begins_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    # 0xf8: the first six bits are 62, "-" in URL-safe base64; kafka-storage format read
    # "-t -tT0TSKc..." as two options and the private stack of a drill did not start.
    dashed = uuid.UUID(bytes=b"\xf8" + bytes(15))
    plain = uuid.UUID(bytes=b"\x04" + bytes(15))
    draws = iter([dashed, dashed, plain])
    monkeypatch.setattr(services.uuid, "uuid4", lambda: next(draws))
    cluster_id = services.new_cluster_id()
    assert cluster_id == base64.urlsafe_b64encode(plain.bytes).decode().rstrip("=")
    assert not cluster_id.startswith("-") and len(cluster_id) == 22
    assert base64.urlsafe_b64encode(dashed.bytes).decode().startswith("-")
