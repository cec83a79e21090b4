"""`alpr read`'s per-file results, without models."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from edge.config import Formats
from edge.engine.ocr import TextRead
from edge.engine.pipeline import Engine
from edge.formats import PlateFormats
from edge.reading import read_files
from tests.edge.fakes import FakePlates, FakeReader, FakeVehicles


def _engine() -> Engine:
    return Engine(
        FakeVehicles([((0, 0, 60, 40), 0.9)]),
        FakePlates([((10, 20, 50, 30), 0.8)]),
        FakeReader({100: [TextRead("5AU5341", 1.0, 1)]}),
        PlateFormats(Formats()),
    )


def test_bad_files_give_an_error_line_and_the_others_are_still_read(tmp_path: Path) -> None:
    good = tmp_path / "car.png"
    cv2.imwrite(str(good), np.full((40, 60, 3), 100, np.uint8))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    files = [str(tmp_path / "missing.jpg"), str(broken), str(good)]
    results = list(read_files(_engine(), files))
    assert [r.error for r in results[:2]] == [
        "no such file",
        "not a readable image (JPEG, PNG, WebP, BMP, TIFF...); videos are read by "
        "`alpr read` when their name ends in a video suffix (.mp4, .mkv, .avi, ...)",
    ]
    lines = [json.loads(r.as_json()) for r in results]
    assert lines[0]["plates"] == [] and "error" in lines[0]
    assert lines[2]["file"] == str(good)
    assert lines[2]["plates"] == [
        {
            "text": "5AU5341",
            "confidence": 0.8,
            "box": [10.0, 20.0, 50.0, 30.0],
            "vehicle": {"type": "car", "colour": "black", "box": [0.0, 0.0, 60.0, 40.0]},
            "valid": True,
            "format": "cz:0",  # the most precise layout of all regions (Czech region letter U)
            "region": None,  # a US layout fits it too
            "lines": 1,
        }
    ]
    assert isinstance(lines[2]["ms"], float)
    assert "error" not in lines[2]
    assert results[2].as_text() == f"{good}: 5AU5341  0.80  black car"
