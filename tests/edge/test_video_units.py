"""Video building blocks without models: voting, direction, backoff, motion, decoding."""

from __future__ import annotations

import threading
from pathlib import Path

import av
import numpy as np
import pytest

from edge.cameras import DirectionLine
from edge.config import Formats
from edge.formats import PlateFormats
from edge.video.motion import MotionGate, inside
from edge.video.source import Frame, SourceError, VideoSource
from edge.video.tracks import Track, vote
from streams.retry import Backoff

CZ = PlateFormats(Formats(region="cz"))


def test_voting_outvotes_a_misread_character() -> None:
    verdict = vote([("5AU5341", 0.8), ("5AU5347", 0.6), ("5AU5341", 0.7)], CZ)
    assert verdict is not None
    assert (verdict.text, verdict.agreed, verdict.valid) == ("5AU5341", 2, True)
    assert verdict.char_confidences[-1] < verdict.char_confidences[0]


def test_voting_prefers_reads_that_fit_a_format() -> None:
    # Two confident reads with a spurious character would win the length vote alone.
    verdict = vote([("E5AU5341", 0.8), ("E5AU5341", 0.7), ("5AU5341", 0.6)], CZ)
    assert verdict is not None and verdict.text == "5AU5341"


def test_direction_comes_from_crossing_the_line() -> None:
    line = DirectionLine(start=(0.0, 0.5), end=(1.0, 0.5))
    down = Track(1, 0.0, 0.0, centres=[(0.5, 0.3), (0.5, 0.45), (0.5, 0.7)])
    up = Track(2, 0.0, 0.0, centres=[(0.5, 0.7), (0.5, 0.3)])
    stays = Track(3, 0.0, 0.0, centres=[(0.5, 0.3), (0.5, 0.4)])
    assert down.direction(line) == "approaching"
    assert up.direction(line) == "receding"
    assert stays.direction(line) == "unknown"
    assert down.direction(None) == "unknown"


def _frame(image: np.ndarray, index: int) -> Frame:
    return Frame.from_image(image, index, index / 10, index / 10)


def test_motion_gate_sees_change_only_inside_its_zone() -> None:
    still = np.zeros((90, 160, 3), dtype=np.uint8)
    moved = still.copy()
    moved[:, 100:] = 255  # a change in the right part only
    gate = MotionGate(0.01)
    assert gate.moving(_frame(still, 0))  # the first frame has nothing to compare with
    assert not gate.moving(_frame(still, 1))
    assert gate.moving(_frame(moved, 2))
    left = MotionGate(0.01, zone=[(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)])
    left.moving(_frame(still, 0))
    assert not left.moving(_frame(moved, 1))
    assert inside(left.zone, 0.25, 0.5) and not inside(left.zone, 0.75, 0.5)


def _write_video(path: Path, frames: int, rate: int) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=rate)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            image = np.full((48, 64, 3), (i * 8) % 256, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def test_a_file_is_decimated_to_the_target_rate(tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    _write_video(video, frames=30, rate=30)
    source = VideoSource(str(video), fps=10)
    frames = list(source.frames())
    assert source.stats.decoded == 30
    assert len(frames) == 10
    assert [f.index for f in frames] == list(range(10))
    assert frames[0].image.shape == (48, 64, 3)
    assert frames[1].time_s == pytest.approx(0.1, abs=0.02)


def test_a_missing_file_is_an_error_not_a_retry(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such video file"):
        VideoSource(str(tmp_path / "none.mp4"), fps=10)


def test_a_live_source_reconnects_with_backoff_until_stopped() -> None:
    waits: list[float] = []
    source = VideoSource(
        "rtsp://127.0.0.1:9/none",  # the discard port: nothing listens, refused at once
        fps=10,
        open_timeout_s=2.0,
        backoff=Backoff(first_s=0.5, max_s=2.0),
        max_attempts=3,
        stop_event=threading.Event(),
    )

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        return False

    source.sleep = wait
    assert list(source.frames()) == []
    assert waits == [0.5, 1.0, 2.0]
    assert source.stats.reconnects == 3
    assert source.stats.last_error is not None


def test_clip_scenes_leave_out_plate_close_ups_in_either_label_form(tmp_path: Path) -> None:
    from edge.video.clip import vehicle_scenes

    # the full form: the vehicle column is '-' for a close-up without a vehicle
    (tmp_path / "labels.tsv").write_text(
        "# file\tplate\tbox\tlines\tregion\tvehicle\tcolour\tnote\n"
        "car.png\t5AU5341\t-\t1\tCZ\tcar\tsilver\trear of a parked car\n"
        "crop.png\tAD799KB\t-\t1\tAR\t-\t-\tMercosur plate, close-up, no vehicle\n"
        "two.jpg\tNO23456\t-\t1\tNO\tcar\tred\tfront\n"
        "two.jpg\tMLB803\t-\t1\tSE\tcar\tsilver\trear\n",
        encoding="utf-8",
    )
    assert vehicle_scenes(tmp_path) == {"car.png": ["5AU5341"], "two.jpg": ["NO23456", "MLB803"]}
    # the short form: file, plate, note
    (tmp_path / "labels.tsv").write_text(
        "car.png\t5AU5341\tCzech plate\ncrop.png\tAD799KB\tclose-up, no vehicle\n",
        encoding="utf-8",
    )
    assert vehicle_scenes(tmp_path) == {"car.png": ["5AU5341"]}
