"""The edge's metrics beside its settings."""

from __future__ import annotations

from pathlib import Path

from edge.cameras import SiteConfig
from edge.metrics import EdgeMetrics
from edge.worker import Destinations, EdgeWorker

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
