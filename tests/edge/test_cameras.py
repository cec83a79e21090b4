"""The cameras file: validation names the bad field."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.cameras import CameraConfigError, SiteConfig, load_site_config

GOOD = """
site_id: depot-1
cameras:
  - id: gate-in
    url: rtsp://127.0.0.1:8554/gate
    fps: 10
    region: cz
    zone: [[0, 0.2], [1, 0.2], [1, 1], [0, 1]]
    line: {start: [0, 0.6], end: [1, 0.6]}
  - id: gate-out
    url: /videos/out.mp4
    enabled: false
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cameras.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_loads_with_defaults(tmp_path: Path) -> None:
    site = load_site_config(_write(tmp_path, GOOD))
    assert [c.id for c in site.enabled_cameras] == ["gate-in"]
    gate = site.cameras[0]
    assert gate.line is not None and gate.line.to_right == "approaching"
    assert site.cameras[1].fps == 10.0 and site.tracking.detect_every >= 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ("fps: 10", "cameras.0.fps"),
        ("region: cz", "cameras.0.region"),
        ("zone: [[0, 0.2], [1, 0.2], [1, 1], [0, 1]]", "cameras.0.zone"),
        ("line: {start: [0, 0.6], end: [1, 0.6]}", "cameras.0.line"),
        ("id: gate-out", "cameras.1.id"),
    ],
)
def test_bad_values_name_the_field(tmp_path: Path, change: str, field: str) -> None:
    bad = {
        "fps: 10": "fps: 0",
        "region: cz": "region: atlantis",
        "zone: [[0, 0.2], [1, 0.2], [1, 1], [0, 1]]": "zone: [[0, 0], [2, 0], [1, 1]]",
        "line: {start: [0, 0.6], end: [1, 0.6]}": "line: {start: [0, 0.6], end: [0, 0.6]}",
        "id: gate-out": "id: gate-in",
    }[change]
    with pytest.raises(CameraConfigError, match=field.replace(".", r"\.")):
        load_site_config(_write(tmp_path, GOOD.replace(change, bad)))


def test_unknown_fields_are_refused_by_name(tmp_path: Path) -> None:
    text = GOOD.replace("fps: 10", "fps: 10\n    colour: red")
    with pytest.raises(CameraConfigError, match=r"cameras\.0\.colour"):
        load_site_config(_write(tmp_path, text))


def test_a_file_that_is_not_a_mapping_says_so(tmp_path: Path) -> None:
    with pytest.raises(CameraConfigError, match="mapping"):
        load_site_config(_write(tmp_path, "- just a list"))


def test_a_site_needs_a_camera() -> None:
    with pytest.raises(ValueError, match="cameras"):
        SiteConfig.model_validate({"site_id": "s", "cameras": []})
