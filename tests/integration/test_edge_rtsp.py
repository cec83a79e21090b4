"""A real RTSP stream: mediamtx serves the clip, published over TCP by PyAV; the server is
killed and started again mid-stream, and the source reconnects and carries on.

mediamtx is built once from the Go module proxy into $ALPR_HOME/bin (see
``ensure_mediamtx``; a few minutes cold). Without Go, or when the build fails, the test
fails with the reason: it is never skipped.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import pytest

from edge.manifest import alpr_home
from edge.video.clip import TEST_CLIP, build_clip
from edge.video.source import VideoSource
from ops.worker import free_port
from streams.retry import Backoff

MEDIAMTX_VERSION = "v1.12.3"


def ensure_mediamtx() -> Path:
    """The mediamtx binary, built from the module source on first use.

    ``go install module@version`` asks the proxy for the version list, which it refuses for
    this module; the source is downloaded by exact version instead, and the files its
    ``go generate`` would fetch from the network are stubbed (version text, HLS player).
    """
    binary = alpr_home() / "bin" / f"mediamtx-{MEDIAMTX_VERSION}"
    if binary.is_file():
        return binary
    go = shutil.which("go") or "/usr/local/go/bin/go"
    if not Path(go).is_file():
        pytest.fail("Go is needed to build mediamtx for the RTSP test")
    module = f"github.com/bluenviron/mediamtx@{MEDIAMTX_VERSION}"
    subprocess.run([go, "mod", "download", module], check=True, timeout=600)
    modcache = subprocess.run(
        [go, "env", "GOMODCACHE"], check=True, capture_output=True, text=True
    ).stdout.strip()
    source = alpr_home() / "build" / f"mediamtx-{MEDIAMTX_VERSION}"
    shutil.rmtree(source, ignore_errors=True)
    shutil.copytree(Path(modcache) / module, source)
    for path in source.rglob("*"):
        path.chmod(path.stat().st_mode | 0o200)
    (source / "internal/core/VERSION").write_text(MEDIAMTX_VERSION, encoding="utf-8")
    (source / "internal/servers/hls/hls.min.js").touch()
    binary.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([go, "build", "-o", str(binary), "."], cwd=source, check=True, timeout=1800)
    shutil.rmtree(source, ignore_errors=True)
    return binary


def _start_server(binary: Path, config: Path) -> subprocess.Popen[bytes]:
    server = subprocess.Popen([str(binary), str(config)], stdout=subprocess.DEVNULL)
    return server


def _wait_port(port: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"mediamtx did not listen on {port} within {timeout_s} s")


def _publish(clip: Path, url: str, stop: threading.Event) -> None:
    """Send the clip's packets to the server in real time, looping, reconnecting."""
    while not stop.is_set():
        try:
            with (
                av.open(str(clip)) as source,
                av.open(url, "w", format="rtsp", options={"rtsp_transport": "tcp"}) as sink,
            ):
                video = source.streams.video[0]
                time_base = video.time_base or Fraction(1, 90_000)
                out = sink.add_stream_from_template(video)
                started = time.monotonic()
                for packet in source.demux(video):
                    if stop.is_set():
                        return
                    if packet.dts is None:
                        continue
                    due = float(packet.pts * time_base) if packet.pts is not None else 0.0
                    time.sleep(max(0.0, started + due - time.monotonic()))
                    packet.stream = out
                    sink.mux(packet)
        except (av.FFmpegError, OSError):
            stop.wait(0.3)  # the server is down: publish again when it is back


def test_the_source_reconnects_when_the_rtsp_server_restarts(tmp_path: Path) -> None:
    binary = ensure_mediamtx()
    samples = alpr_home() / "samples" / "plates"
    if not (samples / "labels.tsv").is_file():
        pytest.fail(f"no labelled set in {samples}: run `python -m bench.samples` first")
    clip, _ = build_clip(samples, TEST_CLIP)
    port = free_port()
    config = tmp_path / "mediamtx.yml"
    config.write_text(
        "logLevel: warn\nrtspTransports: [tcp]\n"
        f"rtspAddress: 127.0.0.1:{port}\n"
        "rtmp: no\nhls: no\nwebrtc: no\nsrt: no\napi: no\nmetrics: no\npprof: no\n"
        "playback: no\npaths:\n  all_others:\n",
        encoding="utf-8",
    )
    url = f"rtsp://127.0.0.1:{port}/cam"
    server = _start_server(binary, config)
    stop = threading.Event()
    publisher = threading.Thread(target=_publish, args=(clip, url, stop), daemon=True)
    source = VideoSource(
        url,
        fps=10,
        open_timeout_s=3.0,
        read_timeout_s=2.0,
        backoff=Backoff(first_s=0.3, max_s=1.0, jitter=0.3),
    )
    shapes: list[tuple[int, ...]] = []

    def read() -> None:
        for frame in source.frames():
            shapes.append(frame.image.shape)

    reader = threading.Thread(target=read, daemon=True)
    try:
        _wait_port(port)
        publisher.start()
        reader.start()
        _wait_for(lambda: len(shapes) >= 20, 60, "frames before the restart")
        before = len(shapes)
        server.kill()
        server.wait(timeout=10)
        time.sleep(2.0)
        server = _start_server(binary, config)
        _wait_port(port)
        _wait_for(lambda: len(shapes) >= before + 20, 60, "frames after the restart")
        assert source.stats.reconnects >= 1
        assert set(shapes) == {(TEST_CLIP.height, TEST_CLIP.width, 3)}
    finally:
        stop.set()
        source.stop()
        server.kill()
        server.wait(timeout=10)
        reader.join(timeout=15)
        publisher.join(timeout=15)


def _wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"no {what} within {timeout_s} s")


if __name__ == "__main__":  # the set-up step: python -m tests.integration.test_edge_rtsp
    print(ensure_mediamtx())
