"""``alpr read VIDEO`` as a user runs it: one line per track."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from edge.manifest import ModelStore
from edge.video.clip import ONE_CAR_CLIP, build_clip

ALPR = Path(sys.executable).with_name("alpr")


def test_read_prints_one_json_line_per_track_of_a_video(
    model_store: ModelStore, samples_dir: Path, tmp_path: Path
) -> None:
    clip, scenes = build_clip(samples_dir, ONE_CAR_CLIP)
    missing = tmp_path / "missing.mp4"
    result = subprocess.run(
        [str(ALPR), "read", "--json", str(clip), str(missing)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stderr  # the missing file
    lines = result.stdout.splitlines()
    assert lines[-1] == f"{missing}: error: {missing}: no such video file"
    tracks = [json.loads(line) for line in lines[:-1]]
    assert {t["file"] for t in tracks} == {str(clip)}
    assert [t["text"] for t in tracks] == ["5AU5341"]
    assert all(t["vehicle"] == "car" and t["frames_agreed"] >= 2 for t in tracks)
    assert len({t["track"] for t in tracks}) == len(tracks)
    assert scenes  # the clip's scenes were written beside it


def test_edge_refuses_a_bad_cameras_file_naming_the_field(tmp_path: Path) -> None:
    config = tmp_path / "cameras.yaml"
    config.write_text("site_id: s\ncameras:\n  - {id: gate, url: x.mp4, fps: 500}\n")
    result = subprocess.run(
        [str(ALPR), "edge", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "cameras.0.fps" in result.stderr
