"""What the edge's traces cost per frame: the edge worker on a clip, tracing off and on, in one run.

    ops/stack exec -- .venv/bin/python -m bench.edge_tracing [--rounds 3] [--clip test]

Runs ``EdgeWorker`` (the real models, the real spools, publishing to the stack's Kafka, into
topics of its own that it deletes at the end; no crops uploaded) over a clip built from the
labelled real photos, ``--rounds`` times with tracing off and as often with tracing on and
every trace kept (``sample_ratio`` 1), in alternating order (off, on, on, off, ...) so a
change in the machine's load falls on both. On, the spans go by OTLP/HTTP to a receiver in a
process of its own (it answers and discards), so the export's encoding and sending count in the
worker's process, as they would at a site. Each run's cost is the process's CPU time (every
thread: decoding, the models, the spools, the senders, the span export) per frame read from the
clip; wall-clock rates on a shared machine say less. Prints each run, then the median of each
mode and the spans per frame. As the models' CPU time varies by more from run to run than the
tracing costs, the tracing alone is timed too (:func:`trace_costs`), per frame and per event,
and estimated per frame of this clip. Ends with ``RESULT cpu_ms_per_frame_off=...
cpu_ms_per_frame_on=... ratio=... spans_per_frame=... tracing_us_per_frame=...
tracing_us_per_event=...``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from config.tracing import TracingSettings
from edge.cameras import SiteConfig
from edge.manifest import alpr_home
from edge.worker import EDGE_SERVICE, Destinations, EdgeWorker


@dataclass(frozen=True)
class Run:
    traced: bool
    frames: int
    events: int
    cpu_s: float
    wall_s: float
    spans: int

    @property
    def cpu_ms_per_frame(self) -> float:
        return 1000.0 * self.cpu_s / max(1, self.frames)


class _Sink(BaseHTTPRequestHandler):
    """Takes an OTLP export request and answers success (an empty response message)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve(ready: Connection) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    ready.send(server.server_address[1])
    server.serve_forever()


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _exported() -> int:
    from prometheus_client import REGISTRY

    return int(REGISTRY.get_sample_value("alpr_trace_spans_exported_total") or 0)


def one_run(
    site: SiteConfig, to: Destinations, engine: Any, spool: Path, endpoint: str | None
) -> Run:
    from streams import tracing

    settings = TracingSettings(endpoint=endpoint, sample_ratio=1.0, export_interval_s=0.5)
    tracing.configure(settings, EDGE_SERVICE)  # the worker's configure_once keeps it
    worker = EdgeWorker(site, to, spool, engine=engine)
    exported, cpu, wall = _exported(), _cpu_s(), time.perf_counter()
    events = asyncio.run(worker.run(asyncio.Event()))
    tracing.flush(30.0)  # the spans' export is part of the cost
    cpu, wall = _cpu_s() - cpu, time.perf_counter() - wall
    frames = sum(run.pipeline.stats.frames for run in worker.cameras)
    tracing.configure(TracingSettings(), EDGE_SERVICE)
    return Run(endpoint is not None, frames, events, cpu, wall, _exported() - exported)


def _attributes(item: Any) -> dict[str, str]:
    return {"alpr.event_id": "e", "alpr.camera": "bench-1"}


def trace_costs(endpoint: str, n: int = 2000) -> tuple[float, float]:
    """CPU microseconds, tracing on, of keeping a frame's stage times (every frame: four
    stages reported), and of one event's five spans (the frame, its detection and OCR, the
    spooling, the publish, with the spooled context and the header), made and exported: the
    tracing alone, without the models' noise around it."""
    import json

    from edge.frame_trace import FrameStages, frame_trace, spool_span
    from edge.publish.kafka import spooled_trace
    from edge.publish.spool import Item
    from streams import tracing

    # A queue that holds every span made, so none is dropped uncounted in the cost.
    settings = TracingSettings(
        endpoint=endpoint, export_interval_s=0.5, queue_size=6 * n, export_timeout_s=30
    )
    tracing.configure(settings, EDGE_SERVICE)
    exported = _exported()
    stages = FrameStages()
    started = time.process_time()
    for _ in range(n):
        stages.begin()
        for stage in ("gate", "detect", "track", "ocr"):
            stages.observe(stage, 1.0)
    per_frame = (time.process_time() - started) / n * 1e6
    value = json.dumps({"event_id": "e", "camera_id": "bench-1"}).encode()
    started = time.process_time()
    for i in range(n):
        with frame_trace(stages, "bench-1", i, 1), spool_span("e", "bench-1", False):
            traceparent = tracing.current_traceparent()
        item = Item(i, "bench-1", value, json.dumps({"traceparent": traceparent}))
        with tracing.publish_spans("edge publish", [item], _attributes, spooled_trace):
            pass
    assert tracing.flush(60.0), "the spans were not exported within 60 s"
    per_event = (time.process_time() - started) / n * 1e6
    tracing.configure(TracingSettings(), EDGE_SERVICE)
    if _exported() - exported != 5 * n:
        raise RuntimeError(f"{_exported() - exported} spans exported, {5 * n} made")
    return per_frame, per_event


async def _topics(bootstrap: str, names: list[str], create: bool) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if create:
            await admin.create_topics([NewTopic(n, 1, 1) for n in names])
        else:
            await admin.delete_topics(names)
    finally:
        await admin.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs of each mode (1..20)")
    parser.add_argument("--clip", choices=("short", "test", "bench"), default="test")
    args = parser.parse_args()
    if not 1 <= args.rounds <= 20:
        parser.error(f"--rounds must be in 1..20, got {args.rounds}")

    from config.settings import get_settings
    from edge.engine.factory import build_engine
    from edge.video.clip import BENCH_CLIP, SHORT_CLIP, TEST_CLIP, build_clip
    from streams.registry import SchemaRegistryClient

    spec = {"short": SHORT_CLIP, "test": TEST_CLIP, "bench": BENCH_CLIP}[args.clip]
    clip, _ = build_clip(alpr_home() / "samples" / "plates", spec)
    settings = get_settings()
    unique = uuid.uuid4().hex[:8]
    raw, cameras = f"bench.edge-tracing.raw.{unique}", f"bench.edge-tracing.cameras.{unique}"
    to = Destinations(
        settings.kafka.bootstrap_servers, settings.schema_registry.url, raw, cameras,
        bucket="unused", s3={},
    )  # fmt: skip
    site = SiteConfig.model_validate({
        "site_id": "bench", "cameras": [{"id": "bench-1", "url": str(clip), "preview": True}],
        "publish": {"upload_crops": False, "metrics_port": 0},
    })  # fmt: skip
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    sink = context.Process(target=_serve, args=(theirs,), daemon=True)
    sink.start()
    endpoint = f"http://127.0.0.1:{ours.recv()}/v1/traces"
    engine = build_engine()
    asyncio.run(_topics(to.bootstrap_servers, [raw, cameras], create=True))
    runs: list[Run] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-edge-tracing-") as scratch:
            # Warm both ways first: the models, the schemas, the exporter's imports and
            # connection.
            for warm, endpoint_or_none in (("warm-off", None), ("warm-on", endpoint)):
                one_run(site, to, engine, Path(scratch) / warm, endpoint_or_none)
            order = [False, True, True, False] * args.rounds
            for n, on in enumerate(order[: 2 * args.rounds]):
                run = one_run(site, to, engine, Path(scratch) / str(n), endpoint if on else None)
                runs.append(run)
                print(f"run {n + 1}: tracing {'on ' if on else 'off'} {run.frames} frames, "
                      f"{run.events} events, {run.cpu_ms_per_frame:.2f} ms CPU per frame, "
                      f"{run.spans} spans, {run.wall_s:.1f} s", flush=True)  # fmt: skip
        costs = trace_costs(endpoint)
    finally:
        sink.kill()
        asyncio.run(_topics(to.bootstrap_servers, [raw, cameras], create=False))
        registry = SchemaRegistryClient(to.registry_url)
        for topic in (raw, cameras):
            registry.delete_subject(f"{topic}-value", permanent=False)
    report(runs, *costs)
    return 0


def report(runs: list[Run], per_frame_us: float, per_event_us: float) -> None:
    off = statistics.median(r.cpu_ms_per_frame for r in runs if not r.traced)
    on = statistics.median(r.cpu_ms_per_frame for r in runs if r.traced)
    traced = [r for r in runs if r.traced]
    spans = sum(r.spans for r in traced) / max(1, sum(r.frames for r in traced))
    print(f"median CPU per frame: off {off:.3f} ms, on {on:.3f} ms ({on / off:.3f}x), "
          f"{spans:.3f} spans per frame")  # fmt: skip
    events = sum(r.events for r in traced) / max(1, sum(r.frames for r in traced))
    estimate = per_frame_us + events * per_event_us
    print(f"the tracing alone: {per_frame_us:.2f} us per frame (stage times), "
          f"{per_event_us:.1f} us per event (its spans, exported); at this clip's "
          f"{events:.4f} events per frame, {estimate:.2f} us per frame")  # fmt: skip
    print(f"RESULT cpu_ms_per_frame_off={off:.3f} cpu_ms_per_frame_on={on:.3f} "
          f"ratio={on / off:.3f} spans_per_frame={spans:.3f} "
          f"tracing_us_per_frame={estimate:.2f} "
          f"tracing_us_per_event={per_event_us:.1f}")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
