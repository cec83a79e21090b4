"""The stack's Prometheus: its configuration, the workers' target files, and the project's
rules, checked and unit-tested by ``promtool`` (from Debian's ``prometheus`` package, which
``ops/stack up`` and ``ops/stack install prometheus`` install)."""

from __future__ import annotations

import http.server
import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge.cameras import TARGETS_DIR_ENV
from ops import probes, scrape_targets
from ops.layout import DEFAULT_PORTS, Layout
from ops.monitoring import (
    HEAD_BLOCK,
    PROMETHEUS_MEMORY_LIMIT,
    RULE_TESTS_DIR,
    RULES_DIR,
    Alertmanager,
    Prometheus,
    targets_dir,
)
from ops.worker import free_port


def promtool() -> str:
    """promtool's path; a missing one fails the test (never skipped into a pass)."""
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: run `ops/stack install prometheus` (Debian's prometheus)")
    return path


def run_promtool(*args: str) -> str:
    out = subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"promtool {' '.join(args)} failed:\n{out.stdout}{out.stderr}"
    return out.stdout + out.stderr


def _rules() -> list[dict[str, Any]]:
    found = []
    for path in sorted(RULES_DIR.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            found += group["rules"]
    return found


def _rule_tests() -> list[dict[str, Any]]:
    return [
        test
        for path in sorted(RULE_TESTS_DIR.glob("*.yml"))
        for test in yaml.safe_load(path.read_text())["tests"]
    ]


def test_the_rules_are_valid() -> None:
    files = [str(p) for p in sorted(RULES_DIR.glob("*.yml"))]
    assert files, f"no rule files in {RULES_DIR}"
    assert "SUCCESS" in run_promtool("check", "rules", *files)


def test_the_rules_pass_their_unit_tests() -> None:
    files = [str(p) for p in sorted(RULE_TESTS_DIR.glob("*.yml"))]
    assert files, f"no rule tests in {RULE_TESTS_DIR}"
    assert "SUCCESS" in run_promtool("test", "rules", *files)


def test_every_alert_has_a_unit_test() -> None:
    alerts = {r["alert"] for r in _rules() if "alert" in r}
    tested = {
        case["alertname"]
        for test in _rule_tests()
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert alerts - tested == set(), "alerts no test sees firing"


def test_every_recording_rule_is_tested_or_read_by_a_tested_alert() -> None:
    rules = _rules()
    records = {r["record"] for r in rules if "record" in r}
    exprs = [c["expr"] for t in _rule_tests() for c in t.get("promql_expr_test", [])]
    exprs += [r["expr"] for r in rules if "alert" in r]
    assert {r for r in records if not any(r in e for e in exprs)} == set()


def test_the_generated_configuration_is_valid(tmp_path: Path) -> None:
    prometheus = Prometheus(Layout(root=tmp_path))
    prometheus.prepare()
    assert "SUCCESS" in run_promtool("check", "config", str(prometheus.config_path))


def test_prometheus_starts_with_its_memory_settings(tmp_path: Path) -> None:
    """Its launch (a soft memory limit, a hidden flag for shorter head blocks) is one the
    installed Prometheus accepts: it starts and answers."""
    port = free_port()
    prometheus = Prometheus(Layout(root=tmp_path, ports={**DEFAULT_PORTS, "prometheus": port}))
    prometheus.install()
    prometheus.prepare()
    config = json.loads(prometheus.config_path.read_text())
    del config["alerting"]  # none of its alerts for the stack's Alertmanager
    prometheus.config_path.write_text(json.dumps(config))
    launch = prometheus.launch()
    assert f"--storage.tsdb.min-block-duration={HEAD_BLOCK}" in launch.argv
    assert launch.env["GOMEMLIMIT"] == PROMETHEUS_MEMORY_LIMIT
    log = tmp_path / "prometheus.log"
    with open(log, "w") as out:
        process = subprocess.Popen(launch.argv, cwd=launch.cwd, env=launch.env, stdout=out,
                                   stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert "ready" in prometheus.probe()
                break
            except probes.ProbeError:
                assert process.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.5)
    finally:
        process.terminate()
        process.wait(30)


def test_the_alertmanager_configuration_is_valid(tmp_path: Path) -> None:
    alertmanager = Alertmanager(Layout(root=tmp_path))
    alertmanager.prepare()
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.fail("amtool is missing: run `ops/stack install alertmanager`")
    out = subprocess.run(
        [amtool, "check-config", str(alertmanager.config_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    (receiver,) = alertmanager.config()["receivers"]
    assert (
        receiver["email_configs"][0]["smarthost"]
        == f"127.0.0.1:{alertmanager.layout.ports['smtp']}"
    )


def test_workers_are_discovered_from_the_target_directory(tmp_path: Path) -> None:
    layout = Layout(root=tmp_path)
    config = Prometheus(layout).config()
    discovered = {
        job["job_name"]: job["file_sd_configs"][0]["files"]
        for job in config["scrape_configs"]
        if "file_sd_configs" in job
    }
    assert discovered == {
        job: [str(targets_dir(layout) / job / "*.json")] for job in scrape_targets.JOBS
    }
    static = {job["job_name"] for job in config["scrape_configs"] if "static_configs" in job}
    exporters = {"node-exporter", "postgres-exporter", "elasticsearch-exporter"}
    assert static == {"prometheus", "kafka", "alertmanager", *exporters}
    (alertmanagers,) = config["alerting"]["alertmanagers"]
    assert alertmanagers["static_configs"] == [
        {"targets": [f"127.0.0.1:{layout.ports['alertmanager']}"]}
    ]
    assert config["rule_files"] == [str(RULES_DIR / "*.yml")]


def test_announce_writes_a_file_sd_group_and_withdraw_removes_it(tmp_path: Path) -> None:
    path = scrape_targets.announce(tmp_path, "alpr-worker", 6066, "0.0.0.0", {"app": "alpr"})
    assert path.parent == tmp_path / "alpr-worker"
    assert json.loads(path.read_text()) == [
        {"targets": ["127.0.0.1:6066"], "labels": {"app": "alpr"}}
    ]
    assert scrape_targets.announced(tmp_path) == ["127.0.0.1:6066"]
    scrape_targets.withdraw(path)
    assert scrape_targets.announced(tmp_path) == []


def test_prune_removes_the_files_of_processes_that_are_gone(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        ours = scrape_targets.announce(tmp_path, "alpr-worker", 6066)
        theirs = scrape_targets.announce(tmp_path, "alpr-edge", 9108, pid=child.pid)
        assert scrape_targets.prune(tmp_path) == []
    finally:
        child.kill()
        child.wait()
    hand_written = tmp_path / "alpr-edge" / "site-a.json"
    hand_written.write_text('[{"targets": ["10.0.0.5:9108"]}]')
    assert scrape_targets.prune(tmp_path) == [theirs]
    assert ours.exists() and hand_written.exists()
    assert sorted(scrape_targets.announced(tmp_path)) == ["10.0.0.5:9108", "127.0.0.1:6066"]


def test_the_stack_points_alpr_edge_at_the_folder_of_its_discovered_job(tmp_path: Path) -> None:
    layout = Layout(root=tmp_path)
    edge_dir = Path(layout.settings_env()[TARGETS_DIR_ENV])  # what `ops/stack exec` passes on
    (job,) = [
        j for j in Prometheus(layout).config()["scrape_configs"] if j["job_name"] == "alpr-edge"
    ]
    assert job["file_sd_configs"] == [{"files": [str(edge_dir / "*.json")]}]


@pytest.mark.parametrize(
    ("job", "port", "message"),
    [("worker", 6066, "job='worker'"), ("alpr-worker", 0, "port=0"), ("alpr-edge", 70000, "port")],
)
def test_announce_refuses_a_bad_job_or_port(
    tmp_path: Path, job: str, port: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        scrape_targets.announce(tmp_path, job, port)


def test_kafka_runs_the_jmx_agent_once_installed(tmp_path: Path) -> None:
    from ops.services import KAFKA_JMX_RULES, Kafka

    kafka = Kafka(Layout(root=tmp_path))
    assert not any(a.startswith("-javaagent:") for a in kafka.launch().argv)
    kafka.jmx_agent.parent.mkdir(parents=True)
    kafka.jmx_agent.write_bytes(b"")
    agent = [a for a in kafka.launch().argv if a.startswith("-javaagent:")]
    port = kafka.layout.ports["kafka_metrics"]
    assert agent == [f"-javaagent:{kafka.jmx_agent}=127.0.0.1:{port}:{KAFKA_JMX_RULES}"]
    assert KAFKA_JMX_RULES.is_file()


@pytest.fixture
def metrics_server() -> Iterator[Callable[[str], str]]:
    """Serves the text it is given at ``/metrics``; yields a function that sets it and
    returns the URL."""
    body = [b""]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body[0])

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def serve(text: str) -> str:
        body[0] = text.encode()
        return f"http://127.0.0.1:{server.server_port}/metrics"

    yield serve
    server.shutdown()
    server.server_close()


def test_the_exporter_probe_reads_its_health_metric(
    metrics_server: Callable[[str], str],
) -> None:
    text = '# HELP pg_up up\npg_up 1\nnode_exporter_build_info{goversion="go 1.19"} 1\n'
    assert probes.exporter(metrics_server(text), "pg_up") == "pg_up 1"
    assert probes.exporter(metrics_server(text), "node_exporter_build_info").endswith(" 1")
    with pytest.raises(probes.ProbeError, match="pg_up is 0"):
        probes.exporter(metrics_server("pg_up 0\n"), "pg_up")
    with pytest.raises(probes.ProbeError, match="has no pg_up"):
        probes.exporter(metrics_server("pg_upx 1\n"), "pg_up")
