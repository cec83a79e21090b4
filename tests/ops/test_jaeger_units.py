"""The stack's opt-in trace store (``ops/tracing.py``): left out unless named or running,
every port on loopback, and a probe that asks both of its APIs."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from ops import probes
from ops.installers import PrerequisiteError
from ops.layout import Layout
from ops.stack import Stack
from ops.tracing import MIN_GO, Jaeger, go_version


@pytest.fixture
def stack(tmp_path: Path) -> Stack:
    return Stack(Layout(root=tmp_path))


def test_jaeger_is_opt_in(stack: Stack) -> None:
    assert "jaeger" not in [svc.name for svc in stack.select([])]
    assert [svc.name for svc in stack.select(["jaeger"])] == ["jaeger"]


def test_a_running_jaeger_is_part_of_status_and_down(stack: Stack, tmp_path: Path) -> None:
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    stack.procs.start("jaeger", sleeper, log=tmp_path / "j.log", cwd=tmp_path, env={}, user=None)
    try:
        assert "jaeger" in [svc.name for svc in stack.select([])]
    finally:
        stack.procs.stop("jaeger", timeout=10)


def test_every_port_is_on_loopback_and_from_the_layout(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ALPR_STACK_JAEGER_OTLP_PORT", "24318")
    jaeger = Jaeger(Layout(root=tmp_path))
    config = jaeger.config()
    endpoints = [
        config["receivers"]["otlp"]["protocols"]["http"]["endpoint"],  # type: ignore[index]
        *(config["extensions"][name][proto]["endpoint"]  # type: ignore[index]
          for name, proto in (("jaeger_query", "http"), ("jaeger_query", "grpc"),
                              ("healthcheckv2", "http"))),
    ]  # fmt: skip
    assert all(e.startswith("127.0.0.1:") for e in endpoints)
    assert "127.0.0.1:24318" in endpoints
    assert jaeger.otlp_endpoint == "http://127.0.0.1:24318/v1/traces"
    jaeger.prepare()
    assert json.loads(jaeger.config_path.read_text()) == config


class FakeJaeger(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"data": ["alpr-worker"]}).encode()
        self.send_response(200 if self.path == "/api/services" else 404)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.rfile.read(length)
        ok = self.path == "/v1/traces" and self.headers["Content-Type"] == "application/x-protobuf"
        self.send_response(200 if ok else 415)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def fake() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), FakeJaeger)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_the_probe_asks_the_query_api_and_the_otlp_receiver(fake: str) -> None:
    detail = probes.jaeger(fake, f"{fake}/v1/traces")
    assert detail.startswith("query API: 1 service(s)")
    with pytest.raises(probes.ProbeError, match="v1/nothing"):
        probes.jaeger(fake, f"{fake}/v1/nothing")
    with pytest.raises(probes.ProbeError):
        probes.jaeger("http://127.0.0.1:9", f"{fake}/v1/traces")


@pytest.mark.parametrize(
    ("text", "version"),
    [("go1.24.6", (1, 24, 6)), ("go1.26.8", (1, 26, 8)), ("go1.25rc1", (1, 25, 0)),
     ("go1.24.4 X:nocoverageredesign", (1, 24, 4))],
)  # fmt: skip
def test_go_versions_compare_with_the_oldest_that_builds_jaeger(
    text: str, version: tuple[int, ...]
) -> None:
    assert go_version(text) == version
    assert (go_version(text) >= MIN_GO) == (version >= (1, 24, 6))


def test_a_go_that_is_not_a_version_is_named() -> None:
    with pytest.raises(PrerequisiteError, match="'devel'"):
        go_version("devel")
