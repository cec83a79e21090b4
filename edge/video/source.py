"""Frames from a video file or a live stream (RTSP, HTTP) with PyAV.

Live streams are opened over TCP with open and read timeouts; when a stream fails or ends,
the source reconnects with exponential backoff and jitter, forever or until stopped. Frames
are decimated by their timestamps to the camera's target rate, and converted to pixels only
when asked (motion gating looks at a small grey copy first). Hardware decoding is used only
when a device is present, with software fallback.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from streams.retry import Backoff

logger = logging.getLogger(__name__)

LIVE_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "srt://")


class SourceError(Exception):
    """A source that cannot be read at all (a missing or undecodable file)."""


@dataclass
class SourceStats:
    """What a source has done so far; read by metrics and heartbeats."""

    decoded: int = 0
    delivered: int = 0
    reconnects: int = 0
    connected: bool = False
    last_error: str | None = None
    last_frame_at: float | None = None
    #: Seconds spent decoding (and skipping) frames, for per-stage profiles.
    decode_s: float = 0.0


class Frame:
    """One decoded frame; pixels are converted on first use and kept."""

    def __init__(self, frame: Any, index: int, time_s: float, captured_at: float) -> None:
        self._frame = frame
        self.index = index
        #: Seconds since the start of the stream (its timestamps).
        self.time_s = time_s
        #: Wall-clock capture time, seconds since the epoch.
        self.captured_at = captured_at
        self.width: int = frame.width
        self.height: int = frame.height
        self._image: np.ndarray | None = None
        self._scaled: dict[int, np.ndarray] = {}

    @classmethod
    def from_image(cls, image: np.ndarray, index: int, time_s: float, captured_at: float) -> Frame:
        """A frame holding BGR pixels already (tests, synthetic input)."""
        wrapped = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
        frame = cls(wrapped, index, time_s, captured_at)
        frame._image = image
        return frame

    @property
    def image(self) -> np.ndarray:
        """The frame as BGR pixels, shape (H, W, 3)."""
        if self._image is None:
            self._image = self._frame.to_ndarray(format="bgr24")
        return self._image

    def scaled(self, width: int) -> np.ndarray:
        """BGR pixels ``width`` wide (aspect kept), scaled by the decoder from its own format:
        far cheaper than converting the whole frame and shrinking it (detection input)."""
        if width >= self.width:
            return self.image
        cached = self._scaled.get(width)
        if cached is None:
            height = max(2, round(self.height * width / self.width))
            if self._image is not None:
                cached = cv2.resize(self._image, (width, height), interpolation=cv2.INTER_AREA)
            else:
                small = self._frame.reformat(width=width, height=height, format="bgr24")
                cached = small.to_ndarray()
            self._scaled[width] = cached
        return cached

    def region(self, box: tuple[float, float, float, float]) -> np.ndarray:
        """BGR pixels inside ``box`` (clipped to the frame), converted from the decoder's
        YUV 4:2:0 planes for that region only when the whole frame was not converted."""
        x1, y1 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
        x2, y2 = min(self.width, int(np.ceil(box[2]))), min(self.height, int(np.ceil(box[3])))
        if self._image is not None or not self._planar_420:
            return self.image[y1:y2, x1:x2].copy()
        # 4:2:0 chroma covers 2x2 pixels: work on the even-aligned box, then trim.
        ex1, ey1 = x1 // 2 * 2, y1 // 2 * 2
        ex2, ey2 = (
            min(self.width // 2 * 2, -(-x2 // 2) * 2),
            min(self.height // 2 * 2, -(-y2 // 2) * 2),
        )
        if ex2 <= ex1 or ey2 <= ey1:
            return np.zeros((max(0, y2 - y1), max(0, x2 - x1), 3), np.uint8)
        y_plane, u_plane, v_plane = (_plane(p) for p in self._frame.planes[:3])
        i420 = np.concatenate(
            [
                y_plane[ey1:ey2, ex1:ex2].reshape(-1),
                u_plane[ey1 // 2 : ey2 // 2, ex1 // 2 : ex2 // 2].reshape(-1),
                v_plane[ey1 // 2 : ey2 // 2, ex1 // 2 : ex2 // 2].reshape(-1),
            ]
        ).reshape((ey2 - ey1) * 3 // 2, ex2 - ex1)
        bgr = cv2.cvtColor(i420, cv2.COLOR_YUV2BGR_I420)
        return bgr[y1 - ey1 : y2 - ey1, x1 - ex1 : x2 - ex1].copy()

    @property
    def _planar_420(self) -> bool:
        """Whether regions can be converted from YUV 4:2:0 planes (even sizes only)."""
        return self._frame.format.name == "yuv420p" and not (self.width % 2 or self.height % 2)

    def grey(self, width: int) -> np.ndarray:
        """A small grey copy ``width`` pixels wide (aspect kept), scaled by the decoder."""
        height = max(2, round(self.height * width / self.width)) // 2 * 2
        if self._image is None and self._planar_420 and self.width >= 2 * width:
            # Every n-th pixel of the luma plane: no conversion at all (motion gating
            # blurs the copy anyway, so the aliasing of plain decimation does not matter).
            luma = _plane(self._frame.planes[0])
            step_x, step_y = self.width // width, max(1, self.height // height)
            return luma[::step_y, ::step_x][:height, :width].copy()
        small = self._frame.reformat(width=width, height=height, format="gray")
        return small.to_ndarray()  # type: ignore[no-any-return]


@dataclass
class VideoSource:
    """The frames of one camera, at most ``fps`` per second of stream time."""

    url: str
    fps: float
    loop: bool = False
    open_timeout_s: float = 10.0
    read_timeout_s: float = 10.0
    backoff: Backoff = field(default_factory=lambda: Backoff(first_s=0.5, max_s=30.0, jitter=0.3))
    max_attempts: int | None = None
    stats: SourceStats = field(default_factory=SourceStats)
    stop_event: threading.Event = field(default_factory=threading.Event)
    sleep: Callable[[float], bool] | None = None

    def __post_init__(self) -> None:
        if self.fps <= 0:
            raise ValueError(f"fps must be positive, got {self.fps!r}")
        if self.open_timeout_s <= 0 or self.read_timeout_s <= 0:
            raise ValueError("open_timeout_s and read_timeout_s must be positive")
        if not self.live and not Path(self.url).is_file():
            raise SourceError(f"{self.url}: no such video file")

    @property
    def live(self) -> bool:
        return self.url.startswith(LIVE_SCHEMES)

    def stop(self) -> None:
        """Make ``frames()`` end at the next frame or backoff wait."""
        self.stop_event.set()

    def frames(self) -> Iterator[Frame]:
        """Decoded frames, decimated to ``fps``; reconnects live streams until stopped."""
        attempt = 0
        index = 0
        while not self.stop_event.is_set():
            delivered_before = self.stats.delivered
            try:
                for frame in self._connection(index):
                    index = frame.index + 1
                    yield frame
                    if self.stop_event.is_set():
                        return
            except (av.FFmpegError, OSError) as exc:
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                if not self.live:
                    raise SourceError(f"{self.url}: {exc}") from exc
                logger.warning("camera source %s failed: %s", self.url, exc)
            finally:
                self.stats.connected = False
            if not self.live:
                if not self.loop:
                    return
                continue
            if self.stats.delivered > delivered_before:
                attempt = 0  # the stream worked for a while: start the backoff again
            if self.max_attempts is not None and attempt >= self.max_attempts:
                return
            self._wait(self.backoff.delay(attempt))
            attempt += 1
            self.stats.reconnects += 1

    def _wait(self, seconds: float) -> None:
        if self.sleep is not None:
            self.sleep(seconds)
        else:
            self.stop_event.wait(seconds)

    def _connection(self, first_index: int) -> Iterator[Frame]:
        container = av.open(self.url, **self._open_options())
        try:
            if not container.streams.video:
                raise SourceError(f"{self.url}: no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            self.stats.connected = True
            self.stats.last_error = None
            opened_at = time.time()
            interval = 1.0 / self.fps
            due = None
            index = first_index
            resumed = time.perf_counter()
            for decoded in container.decode(stream):
                self.stats.decode_s += time.perf_counter() - resumed
                self.stats.decoded += 1
                t = float(decoded.time) if decoded.time is not None else 0.0
                if due is not None and t + 1e-6 < due:
                    resumed = time.perf_counter()
                    continue
                # Behind by more than a frame (a stall): start the schedule again from now.
                due = (due + interval) if due is not None and t - due < interval else t + interval
                captured = time.time() if self.live else opened_at + t
                self.stats.delivered += 1
                self.stats.last_frame_at = time.monotonic()
                yield Frame(decoded, index, t, captured)
                index += 1
                resumed = time.perf_counter()
        finally:
            container.close()

    def _open_options(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"timeout": (self.open_timeout_s, self.read_timeout_s)}
        if self.url.startswith(("rtsp://", "rtsps://")):
            kwargs["options"] = {"rtsp_transport": "tcp", "rtsp_flags": "prefer_tcp"}
        hwaccel = hardware_decoder()
        if hwaccel is not None:
            kwargs["hwaccel"] = hwaccel
        return kwargs


def _plane(plane: Any) -> np.ndarray:
    """One picture plane as a 2-D array without its row padding."""
    rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width]


def hardware_decoder() -> Any | None:
    """A PyAV ``HWAccel`` when this FFmpeg supports a device that is present, else ``None``."""
    from av.codec.hwaccel import HWAccel, hwdevices_available

    available = set(hwdevices_available())
    if "cuda" in available and os.path.exists("/dev/nvidia0"):
        return HWAccel(device_type="cuda", allow_software_fallback=True)
    if "vaapi" in available and os.path.exists("/dev/dri/renderD128"):
        return HWAccel(device_type="vaapi", allow_software_fallback=True)
    return None
