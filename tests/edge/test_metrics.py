"""The edge's metrics beside its settings, and the target file that announces its /metrics
to a Prometheus by file-based service discovery (the local stack's ``alpr-edge`` job)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edge.cameras import TARGETS_DIR_ENV, PublishConfig, SiteConfig
from edge.metrics import EdgeMetrics, TargetFile
from edge.worker import Destinations, EdgeWorker, metrics_target, run_site
from ops import scrape_targets
from ops.worker import free_port

NOWHERE = Destinations("127.0.0.1:9", "http://127.0.0.1:9", "raw", "cameras", "bucket", {})


def _site(**publish: object) -> SiteConfig:
    return SiteConfig.model_validate(
        {
            "site_id": "depot",
            "cameras": [
                {"id": "gate-1", "url": "a.mp4", "fps": 12.5},
                {"id": "gate-2", "url": "b.mp4"},
                {"id": "gate-3", "url": "c.mp4", "enabled": False},
            ],
            "publish": publish,
        }
    )


def _configured_fps(metrics: EdgeMetrics, camera: str) -> float | None:
    return metrics.registry.get_sample_value("alpr_edge_configured_fps", {"camera": camera})


def test_each_enabled_camera_reports_the_fps_its_configuration_asks_for(tmp_path: Path) -> None:
    worker = EdgeWorker(_site(), NOWHERE, tmp_path)
    assert _configured_fps(worker.metrics, "gate-1") == 12.5
    assert _configured_fps(worker.metrics, "gate-2") == 10.0  # the default
    assert _configured_fps(worker.metrics, "gate-3") is None  # disabled: not run, not reported


def test_the_target_file_is_a_file_sd_group_the_stack_reads_and_keeps(tmp_path: Path) -> None:
    jobs = tmp_path / "targets"
    target = TargetFile(jobs / "alpr-edge", 9108, labels={"site": "depot"})
    assert target.write()
    assert json.loads(target.path.read_text()) == [
        {"targets": ["127.0.0.1:9108"], "labels": {"site": "depot"}}
    ]
    assert target.path.name.startswith(f"{os.getpid()}-")
    assert list(target.path.parent.iterdir()) == [target.path]  # nothing half-written left
    # The local stack's side of the convention: it lists the target, and keeps it while
    # this process lives.
    assert scrape_targets.announced(jobs) == ["127.0.0.1:9108"]
    assert scrape_targets.prune(jobs) == []
    target.remove()
    assert scrape_targets.announced(jobs) == []
    target.remove()  # gone already: a no-op


def test_a_target_removed_behind_the_workers_back_comes_back_on_refresh(tmp_path: Path) -> None:
    target = TargetFile(tmp_path / "not-yet", 9108, "edge-a.example")
    assert target.refresh()  # the directory appears with the first write
    target.path.unlink()
    assert target.refresh()
    assert json.loads(target.path.read_text())[0]["targets"] == ["edge-a.example:9108"]


def test_a_target_file_that_cannot_be_written_is_logged_once_and_never_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    target = TargetFile(blocker / "alpr-edge", 9108)
    with caplog.at_level(logging.WARNING, logger="edge.metrics"):
        assert not target.write()
        assert not target.refresh()
    (warning,) = [r.getMessage() for r in caplog.records]  # once, not once per heartbeat
    assert warning.startswith(f"cannot announce /metrics to Prometheus in {target.path}: ")


def test_the_stack_removes_the_target_of_an_edge_that_died_without_removing_it(
    tmp_path: Path,
) -> None:
    code = (
        "import sys; from pathlib import Path; from edge.metrics import TargetFile; "
        "TargetFile(Path(sys.argv[1]), 9109).write()"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "alpr-edge")], check=True)
    (left,) = (tmp_path / "alpr-edge").glob("*.json")
    assert scrape_targets.prune(tmp_path) == [left]


@pytest.mark.parametrize(
    ("port", "host", "named"),
    [(0, "127.0.0.1", "port=0"), (70000, "127.0.0.1", "port=70000"), (9108, "0.0.0.0", "host")],
)
def test_a_target_refuses_a_port_or_host_prometheus_cannot_reach(
    tmp_path: Path, port: int, host: str, named: str
) -> None:
    with pytest.raises(ValueError, match=named):
        TargetFile(tmp_path, port, host)


def test_the_target_directory_is_the_setting_else_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TARGETS_DIR_ENV, raising=False)
    assert PublishConfig().targets_dir() is None
    assert metrics_target(_site(), 9108) is None  # nowhere to announce: nothing written
    monkeypatch.setenv(TARGETS_DIR_ENV, str(tmp_path / "from-env"))
    assert PublishConfig().targets_dir() == tmp_path / "from-env"
    configured = PublishConfig(metrics_targets_dir=tmp_path / "set")
    assert configured.targets_dir() == tmp_path / "set"
    target = metrics_target(_site(metrics_target_host="edge-a", metrics_port=9200), 9201)
    assert target is not None and target.path.parent == tmp_path / "from-env"
    assert target.group == {"targets": ["edge-a:9201"], "labels": {"site": "depot"}}


@pytest.mark.parametrize("host", ["edge a", "edge-a:9108", "::1", ""])
def test_a_target_host_that_would_not_make_an_address_is_refused(host: str) -> None:
    with pytest.raises(ValueError, match="metrics_target_host"):
        PublishConfig(metrics_target_host=host)


def test_run_site_announces_its_metrics_while_it_runs_and_withdraws_them_at_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    site = _site(metrics_port=port, metrics_targets_dir=str(tmp_path), spool_dir=str(tmp_path))
    seen: list[list[str]] = []

    async def run(self: EdgeWorker, stop: asyncio.Event) -> int:
        seen.append(scrape_targets_in(tmp_path))
        return 0

    monkeypatch.setattr(EdgeWorker, "run", run)
    assert asyncio.run(run_site(site)) == 0
    assert seen == [[f"127.0.0.1:{port}"]]
    assert scrape_targets_in(tmp_path) == []


def scrape_targets_in(directory: Path) -> list[str]:
    return [t for p in directory.glob("*.json") for t in json.loads(p.read_text())[0]["targets"]]
