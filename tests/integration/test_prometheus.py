"""The stack's Prometheus finds a real worker and an edge worker by their target files, scrapes
them ``up``, and lets them go when they stop; an edge worker that stops fires CameraSilent; the
project's rules are loaded."""

from __future__ import annotations

import mailbox
import subprocess
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from config.settings import Settings
from edge.cameras import TARGETS_DIR_ENV, SiteConfig
from edge.metrics import EdgeMetrics
from edge.worker import Destinations, EdgeWorker, metrics_target, serve_metrics
from ops import probes, scrape_targets
from ops.layout import Layout
from ops.monitoring import RULES_DIR, targets_dir
from ops.worker import WorkerProcess, free_port
from tests.integration.conftest import require_port

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def prometheus_api(path: str, **params: str) -> Any:
    url = f"{Layout().url('prometheus')}/api/v1/{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    answer = probes.http_json(url, timeout=5)
    assert isinstance(answer, dict) and answer.get("status") == "success", answer
    return answer["data"]


def wait_for(what: str, check: Callable[[], T | None], timeout: float = 90.0) -> T:
    """The first truthy answer of ``check``, asked once a second."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"{what}: not within {timeout:.0f}s")


def worker_target(instance: str) -> dict[str, Any] | None:
    """Prometheus's active target of ``instance``, if it has one."""
    targets = prometheus_api("targets", state="active")["activeTargets"]
    return next((t for t in targets if t["labels"].get("instance") == instance), None)


def scraped_up(instance: str) -> dict[str, Any] | None:
    target = worker_target(instance)
    return target if target is not None and target["health"] == "up" else None


def series(query: str) -> list[dict[str, Any]] | None:
    result: list[dict[str, Any]] = prometheus_api("query", query=query)["result"]
    return result or None


def test_a_running_worker_is_scraped_up_through_its_target_file(
    settings: Settings, tmp_path: Path
) -> None:
    layout = Layout()
    require_port(layout.url("prometheus"), "Prometheus")
    require_port(settings.kafka.bootstrap_servers.split(",")[0], "Kafka")
    targets = targets_dir(layout)
    port = free_port()
    instance = f"127.0.0.1:{port}"
    with WorkerProcess(tmp_path, port) as worker:
        wait_for("the worker's target file", lambda: instance in scrape_targets.announced(targets))
        target = wait_for("the worker's target up in Prometheus", lambda: scraped_up(instance))
        assert target["labels"]["job"] == "alpr-worker", target
        assert target["scrapeUrl"] == f"http://{instance}/metrics"
        # The worker's own figures are in Prometheus, under its instance.
        found = wait_for(
            "the worker's GC pause histogram in Prometheus",
            lambda: series(f'alpr_gc_pause_seconds_count{{instance="{instance}"}}'),
        )
        assert all(s["metric"]["job"] == "alpr-worker" for s in found), worker.log_tail()
    assert instance not in scrape_targets.announced(targets), "target file left behind"
    wait_for("Prometheus dropping the stopped worker", lambda: worker_target(instance) is None)


def test_an_edge_worker_announces_itself_and_is_scraped_up_until_it_stops(
    unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The edge's endpoint and target file as ``alpr edge`` sets them up, with the folder the
    stack's environment names (``ops/stack exec``): Prometheus scrapes it under the edge job
    with its site, has the camera's configured fps, and drops it once the file is removed.
    The camera never reports up, so no CameraSilent is left firing after the test."""
    layout = Layout()
    require_port(layout.url("prometheus"), "Prometheus")
    monkeypatch.setenv(TARGETS_DIR_ENV, layout.settings_env()[TARGETS_DIR_ENV])
    site = SiteConfig.model_validate(
        {
            "site_id": f"site-{unique}",
            "cameras": [{"id": f"cam-{unique}", "url": "gate.mp4", "fps": 7.5}],
            "publish": {"metrics_port": free_port()},
        }
    )
    nowhere = Destinations("127.0.0.1:9", "http://127.0.0.1:9", "raw", "cams", "bucket", {})
    worker = EdgeWorker(site, nowhere, tmp_path)
    port = site.publish.metrics_port
    instance = f"127.0.0.1:{port}"
    server = serve_metrics(worker.metrics, port)
    target = metrics_target(site, port)
    assert target is not None and target.write()
    try:
        found = wait_for("the edge target up in Prometheus", lambda: scraped_up(instance))
        assert found["labels"]["job"] == "alpr-edge", found
        assert found["labels"]["site"] == site.site_id, found
        (configured,) = wait_for(
            "the camera's configured fps in Prometheus",
            lambda: series(f'alpr_edge_configured_fps{{camera="cam-{unique}"}}'),
        )
        assert configured["metric"]["instance"] == instance
        assert float(configured["value"][1]) == 7.5
        target.remove()  # as run_site does at a clean stop
        wait_for("Prometheus dropping the edge", lambda: worker_target(instance) is None)
    finally:
        target.remove()
        server.shutdown()
        server.server_close()


def firing(alertname: str, camera: str) -> dict[str, Any] | None:
    alerts = prometheus_api("alerts")["alerts"]
    return next(
        (
            a
            for a in alerts
            if a["labels"].get("alertname") == alertname
            and a["labels"].get("camera") == camera
            and a["state"] == "firing"
        ),
        None,
    )


def mailed(maildir: str, *words: str) -> str | None:
    """The subject of a message in the SMTP sink's Maildir holding every one of ``words``."""
    for message in mailbox.Maildir(maildir, create=False):
        subject = str(message["Subject"])
        if all(word in subject for word in words):
            return subject
    return None


def test_an_edge_worker_that_stops_fires_camera_silent_and_mails_it(
    unique: str, smtp_maildir: str
) -> None:
    """The edge's own metrics, served as ``alpr edge`` serves them, announced as an edge
    target; the server stops (as the edge worker would), the rule fires on what Prometheus
    scraped (about 80 s: a failed scrape, then ``for: 1m``) and Alertmanager mails it.
    The alert goes on firing for the hour the rule looks back: the camera did go silent."""
    layout = Layout()
    require_port(layout.url("prometheus"), "Prometheus")
    camera = f"cam-{unique}"
    metrics = EdgeMetrics()
    metrics.up.labels(camera).set(1)
    metrics.fps.labels(camera).set(10)
    port = free_port()
    instance = f"127.0.0.1:{port}"
    server = serve_metrics(metrics, port)
    target = scrape_targets.announce(targets_dir(layout), "alpr-edge", port)
    try:
        wait_for("the edge target up", lambda: scraped_up(instance))
        wait_for(
            "the camera up in Prometheus",
            lambda: series(f'alpr_edge_camera_up{{camera="{camera}", job="alpr-edge"}} == 1'),
        )
        assert firing("CameraSilent", camera) is None
        server.shutdown()
        server.server_close()
        alert = wait_for("CameraSilent firing", lambda: firing("CameraSilent", camera), 180)
        assert alert["labels"]["severity"] == "critical"
        assert alert["labels"]["instance"] == instance
        subject = wait_for(
            "the alert's email", lambda: mailed(smtp_maildir, "CameraSilent", camera)
        )
        assert subject.startswith("[FIRING:1] CameraSilent"), subject
    finally:
        server.shutdown()
        scrape_targets.withdraw(target)


def test_the_project_rules_are_loaded() -> None:
    require_port(Layout().url("prometheus"), "Prometheus")
    groups = prometheus_api("rules")["groups"]
    loaded = {(g["file"], g["name"]) for g in groups}
    assert {file for file, _ in loaded} == {str(p) for p in RULES_DIR.glob("*.yml")}
    names = {r["name"] for g in groups for r in g["rules"]}
    assert {"CameraSilent", "ConsumerLagGrowing", "NotificationsFailing", "DiskFillingUp"} <= names
    unhealthy = [r["name"] for g in groups for r in g["rules"] if r.get("health") == "err"]
    assert unhealthy == []


def test_stack_status_probes_prometheus_and_its_exporters() -> None:
    names = ["prometheus", "alertmanager", "node_exporter", "postgres_exporter"]
    names += ["elasticsearch_exporter"]
    out = subprocess.run(
        [str(ROOT / "ops" / "stack"), "status", *names], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr
    states = {line.split()[0]: line.split()[2] for line in out.stdout.splitlines()[1:]}
    assert states == dict.fromkeys(names, "healthy"), out.stdout
