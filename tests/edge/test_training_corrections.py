"""Corrected reads become a labelled folder that ``alpr train ocr --real`` learns from."""

from __future__ import annotations

import asyncio
from pathlib import Path

import cv2
import numpy as np

from edge.engine.slots_input import SlotSpec
from edge.evaluation.labels import load_set
from edge.training.corrections import CorrectedRead, export_corrections, label_line
from edge.training.data import real_crops


def _jpeg(width: int, height: int) -> bytes:
    image = np.full((height, width, 3), 200, np.uint8)
    cv2.putText(image, "AB123", (4, height - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 2)
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return data.tobytes()


def test_each_corrected_crop_is_written_with_its_text_and_a_box_covering_it(
    tmp_path: Path,
) -> None:
    crops = {"crops/a.jpg": _jpeg(120, 40), "crops/bad.jpg": b"not an image"}

    async def fetch(key: str) -> bytes | None:
        return crops.get(key)

    reads = [
        CorrectedRead("ev-1", "AB123", "crops/a.jpg"),
        CorrectedRead("ev-2", "CD456", None),
        CorrectedRead("ev-3", "EF789", "crops/gone.jpg"),
        CorrectedRead("ev-4", "GH012", "crops/bad.jpg"),
    ]
    summary = asyncio.run(export_corrections(reads, fetch, tmp_path))

    assert (summary.written, summary.without_crop, summary.unreadable) == (1, 2, 1)
    assert (tmp_path / "ev-1.jpg").read_bytes() == crops["crops/a.jpg"]
    labels = load_set(tmp_path)
    assert list(labels) == ["ev-1.jpg"]
    [label] = labels["ev-1.jpg"]
    assert (label.text, label.box) == ("AB123", (0, 0, 120, 40))

    batch = real_crops(tmp_path, SlotSpec())
    assert batch.texts == ("AB123",)


def test_a_label_line_is_the_project_format() -> None:
    assert label_line("x.jpg", "AB1", 10, 5) == "x.jpg\tAB1\t0 0 10 5\t-"
