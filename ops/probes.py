"""Health probes of the local services, each a real protocol request (never a PID file).

Standard library only: ``ops/stack`` runs before the project's virtualenv exists.
Each probe returns a short description of what answered, or raises ``ProbeError``.
"""

from __future__ import annotations

import json
import os
import smtplib
import socket
import struct
import subprocess
import urllib.error
import urllib.request


class ProbeError(Exception):
    """The service did not answer its protocol correctly."""


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ProbeError("connection closed mid-response")
        data += chunk
    return bytes(data)


def _kafka_request(host: str, port: int, api_key: int, body: bytes, timeout: float) -> bytes:
    client_id = b"alpr-stack-probe"
    correlation_id = 7
    header = struct.pack(">hhih", api_key, 0, correlation_id, len(client_id)) + client_id
    payload = header + body
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(struct.pack(">i", len(payload)) + payload)
        (size,) = struct.unpack(">i", _recv_exact(sock, 4))
        response = _recv_exact(sock, size)
    (got_id,) = struct.unpack(">i", response[:4])
    if got_id != correlation_id:
        raise ProbeError(f"correlation id {got_id} != {correlation_id}")
    return response[4:]


def kafka(host: str, port: int, timeout: float = 3.0) -> str:
    """Metadata v0 request: the broker must list at least one live broker."""
    try:
        response = _kafka_request(host, port, api_key=3, body=struct.pack(">i", 0), timeout=timeout)
    except OSError as exc:
        raise ProbeError(str(exc)) from exc
    (brokers,) = struct.unpack(">i", response[:4])
    if brokers < 1:
        raise ProbeError("metadata lists no broker")
    return f"{brokers} broker(s) in metadata"


def http_json(url: str, timeout: float = 3.0) -> object:
    """GET a URL and parse its JSON body."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return json.loads(resp.read().decode("utf-8"))
    except (OSError, urllib.error.URLError, ValueError) as exc:
        raise ProbeError(f"GET {url}: {exc}") from exc


def registry(base_url: str, timeout: float = 3.0) -> str:
    """Confluent API ``GET /subjects`` must return a JSON list."""
    subjects = http_json(base_url.rstrip("/") + "/subjects", timeout)
    if not isinstance(subjects, list):
        raise ProbeError(f"/subjects returned {type(subjects).__name__}, not a list")
    return f"{len(subjects)} subject(s)"


def elasticsearch(base_url: str, timeout: float = 3.0) -> str:
    """Cluster health must be green or yellow."""
    health = http_json(base_url.rstrip("/") + "/_cluster/health", timeout)
    status = health.get("status") if isinstance(health, dict) else None
    if status not in ("green", "yellow"):
        raise ProbeError(f"cluster health is {status!r}")
    # The integration-test distribution has no handler for GET /: ask the node itself.
    nodes = http_json(base_url.rstrip("/") + "/_nodes/_local?filter_path=nodes.*.version", timeout)
    found: dict[str, dict[str, str]] = nodes.get("nodes", {}) if isinstance(nodes, dict) else {}
    version = next(iter(found.values()), {}).get("version", "?")
    return f"version {version}, health {status}"


def s3(base_url: str, timeout: float = 3.0) -> str:
    """An anonymous ``ListBuckets`` must answer with S3's XML."""
    try:
        with urllib.request.urlopen(base_url.rstrip("/") + "/", timeout=timeout) as resp:
            body = resp.read(4096).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        body = exc.read(4096).decode("utf-8", "replace")
    except (OSError, urllib.error.URLError) as exc:
        raise ProbeError(f"GET {base_url}: {exc}") from exc
    if "ListAllMyBucketsResult" not in body and "<Error>" not in body:
        raise ProbeError("answer is not S3 XML")
    return "S3 XML answered"


def smtp(host: str, port: int, timeout: float = 3.0) -> str:
    """EHLO and NOOP must both answer 250."""
    try:
        with smtplib.SMTP(host, port, timeout=timeout) as client:
            code, _ = client.ehlo("alpr-stack-probe")
            noop, _ = client.noop()
    except (OSError, smtplib.SMTPException) as exc:
        raise ProbeError(str(exc)) from exc
    if code != 250 or noop != 250:
        raise ProbeError(f"EHLO {code}, NOOP {noop}")
    return "EHLO/NOOP 250"


def postgres(dsn: str, psql: str = "psql", timeout: float = 5.0) -> str:
    """The server version, asked through psql with the project's DSN."""
    env = dict(os.environ, PGCONNECT_TIMEOUT=str(int(timeout)))
    try:
        out = subprocess.run(
            [psql, dsn, "-XtAc", "select current_setting('server_version')"],
            capture_output=True,
            text=True,
            timeout=timeout + 2,
            env=env,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ProbeError(str(exc)) from exc
    if out.returncode != 0:
        lines = out.stderr.strip().splitlines()
        raise ProbeError(lines[0].removeprefix("psql: error: ") if lines else "psql failed")
    return f"server {out.stdout.strip()}"


def _get_text(url: str, timeout: float) -> str:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return str(resp.read(1 << 20).decode("utf-8", "replace"))
    except (OSError, urllib.error.URLError) as exc:
        raise ProbeError(f"GET {url}: {exc}") from exc


def ready(base_url: str, timeout: float = 3.0) -> str:
    """``/-/ready`` must answer 200 (Prometheus, Alertmanager)."""
    _get_text(base_url.rstrip("/") + "/-/ready", timeout)
    return "ready"


def prometheus(base_url: str, timeout: float = 3.0) -> str:
    """``/-/ready`` must answer 200; then how many of its targets are up."""
    base = base_url.rstrip("/")
    ready(base, timeout)
    answer = http_json(base + "/api/v1/targets?state=active", timeout)
    data = answer.get("data", {}) if isinstance(answer, dict) else {}
    targets = data.get("activeTargets", []) if isinstance(data, dict) else []
    up = sum(1 for t in targets if isinstance(t, dict) and t.get("health") == "up")
    return f"ready, {up}/{len(targets)} targets up"


def exporter(url: str, metric: str, timeout: float = 3.0) -> str:
    """A Prometheus exporter's ``/metrics`` must hold ``metric`` with the value 1."""
    text = _get_text(url, timeout)
    for line in text.splitlines():
        series, _, value = line.rpartition(" ")
        if series.split("{")[0] == metric:
            if value.strip() in ("1", "1.0"):
                return f"{metric} 1"
            raise ProbeError(f"{metric} is {value.strip()}")
    raise ProbeError(f"{url} has no {metric}")


def jaeger(query_url: str, otlp_traces_url: str, timeout: float = 3.0) -> str:
    """The query API must list its services, and the OTLP receiver take an empty export."""
    services = http_json(query_url.rstrip("/") + "/api/services", timeout)
    if not isinstance(services, dict) or not isinstance(services.get("data"), list | None):
        raise ProbeError("/api/services did not answer with Jaeger's JSON")
    request = urllib.request.Request(
        otlp_traces_url, data=b"", method="POST",
        headers={"Content-Type": "application/x-protobuf"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            status = resp.status
    except (OSError, urllib.error.URLError) as exc:
        raise ProbeError(f"POST {otlp_traces_url}: {exc}") from exc
    if status != 200:
        raise ProbeError(f"POST {otlp_traces_url}: HTTP {status}")
    return f"query API: {len(services.get('data') or [])} service(s); OTLP: {otlp_traces_url}"
