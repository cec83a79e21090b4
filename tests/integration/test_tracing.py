"""One plate read's whole trace (issue 19): from the frame that completed it at the edge, spooled
and published by the edge's real publisher, through the real broker and a real core worker
with tracing on, to the webhook of a watch-list alert and both projections; then found, every
stage a span of one trace, by the trace store.

Two stores: Jaeger, asked through its query API (a private instance on free ports, started
for the test and stopped after it, from the binary ``make jaeger`` built once: not a standing
service of the stack), and an OTLP/HTTP receiver written here, which decodes the exporters'
protobuf requests as a collector does.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from agents.alerting.rule_topic import publish_rules
from config.settings import Settings
from config.tracing import TracingSettings
from edge.frame_trace import FrameStages, frame_trace, spool_span
from edge.publish.kafka import EventPublisher
from edge.publish.spool import Spool
from ops.layout import Layout
from ops.private_stack import PrivateStack
from ops.tracing import Jaeger
from ops.worker import WorkerProcess, free_port
from rules.model import WatchlistRule
from streams import tracing
from tests.integration.conftest import require_port
from tests.support.isolated import IsolatedRun
from tests.support.otlp import OtlpReceiver, Span
from tests.support.streams import create_topics, plate_event_datum

PARTITIONS = 2


#: Finds the spans of the trace whose edge span names ``event_id`` (empty until it is there).
FindTrace = Callable[[str], Awaitable[list[Span]]]


@dataclass(frozen=True)
class TraceStore:
    otlp_endpoint: str
    find: FindTrace


@pytest.fixture
async def otlp_receiver() -> AsyncIterator[TraceStore]:
    async with OtlpReceiver() as receiver:

        async def find(event_id: str) -> list[Span]:
            return receiver.trace_of("edge publish", event_id)

        yield TraceStore(receiver.endpoint, find)


# Jaeger, a private instance.


class PrivateJaeger(PrivateStack):
    """The stack's Jaeger (``ops/tracing.py``), on free ports, for one test's traces: the
    binary ``make jaeger`` built once, started here in about a second and stopped after."""

    SERVICES = ("jaeger",)
    PORTS = ("jaeger", "jaeger_grpc", "jaeger_otlp", "jaeger_health")

    @property
    def query_url(self) -> str:
        return self.layout.url("jaeger")

    @property
    def otlp_endpoint(self) -> str:
        return f"{self.layout.url('jaeger_otlp')}/v1/traces"


def jaeger_trace(query_url: str, event_id: str) -> list[Span]:
    """The trace whose edge span has ``alpr.event_id``, through Jaeger's query API."""
    query = urllib.parse.urlencode({
        "service": "alpr-edge", "operation": "edge publish",
        "tags": json.dumps({"alpr.event_id": event_id}), "lookback": "1h", "limit": "5",
    })  # fmt: skip
    with urllib.request.urlopen(f"{query_url}/api/traces?{query}", timeout=5) as answer:
        found = json.loads(answer.read())["data"] or []
    if not found:
        return []
    # The search gives the trace as it was then: fetch it again whole by its id.
    with urllib.request.urlopen(f"{query_url}/api/traces/{found[0]['traceID']}") as answer:
        (trace,) = json.loads(answer.read())["data"]
    processes = {key: p["serviceName"] for key, p in trace["processes"].items()}
    return [
        Span(
            processes[span["processID"]],
            span["operationName"],
            span["spanID"],
            next((r["spanID"] for r in span["references"] if r["refType"] == "CHILD_OF"), None),
            {tag["key"]: tag["value"] for tag in span["tags"]},
        )
        for span in trace["spans"]
    ]


@pytest.fixture
def jaeger() -> Iterator[TraceStore]:
    """A private Jaeger for this test, stopped and removed after it."""
    if not Jaeger(Layout()).binary.is_file():
        pytest.fail("Jaeger is not built: `make jaeger` (once; it builds it with go)")
    private = PrivateJaeger()
    try:
        private.start()

        async def find(event_id: str) -> list[Span]:
            return await asyncio.to_thread(jaeger_trace, private.query_url, event_id)

        yield TraceStore(private.otlp_endpoint, find)
    finally:
        private.close()


# The read's way.


@pytest.fixture
async def hook() -> AsyncIterator[tuple[str, list[bytes]]]:
    received: list[bytes] = []

    async def handle(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/hook", received
    await runner.cleanup()


async def publish_as_the_edge(
    settings: Settings, topic: str, datum: dict[str, Any], spool: Path
) -> None:
    """Send ``datum`` the edge worker's way: spooled in the trace of the frame that completed
    it (no stage ran in this one), then published by the edge's own publisher."""
    publisher = EventPublisher(
        Spool(spool), settings.kafka.bootstrap_servers, settings.schema_registry.url
    )
    camera = datum["camera_id"]
    with frame_trace(FrameStages(), camera, 1, events=1):
        with spool_span(datum["event_id"], camera, preview=False):
            publisher.enqueue(topic, camera, "PlateEvent", datum)
    try:
        assert await publisher.drain_once() == 1
    finally:
        await publisher.close()
        publisher.spool.close()


async def whole_trace(find: FindTrace, event_id: str, names: set[str]) -> list[Span]:
    deadline = time.monotonic() + 60
    while True:
        spans = await find(event_id)
        if names <= {s.name for s in spans} or time.monotonic() > deadline:
            return spans
        await asyncio.sleep(1)


async def read_through_a_traced_worker(
    store: TraceStore, settings: Settings, tmp_path: Path, hook: tuple[str, list[bytes]]
) -> tuple[str, list[Span]]:
    """A watch-listed read from the edge to the webhook and the stores, traced; its event
    id and its trace's spans."""
    bootstrap = settings.kafka.bootstrap_servers
    require_port(bootstrap, "Kafka")
    require_port(settings.schema_registry.url, "schema registry")
    url, received = hook
    run = IsolatedRun()
    names = {t: run.topic(t) for t in ("raw", "detected", "dlq", "rules", "alerts")}
    env = {
        **run.env(partitions=PARTITIONS, alerts=True),
        "ALPR_TRACING__ENDPOINT": store.otlp_endpoint,
        "ALPR_TRACING__EXPORT_INTERVAL_S": "0.2",
    }
    rule = WatchlistRule(
        type="watchlist", name="trace-stolen", plates=["TR4CE1"], match="exact",
        actions=[{"channel": "webhook", "url": url}],  # type: ignore[list-item]
    )  # fmt: skip
    wanted = {"edge frame", "edge spool", "edge publish", "router route", "alerts evaluate",
              "notifier deliver", "projection pg write", "projection es write"}  # fmt: skip
    tracing.configure(
        TracingSettings(endpoint=store.otlp_endpoint, export_interval_s=0.2), "alpr-edge"
    )
    try:
        await create_topics(bootstrap, [names[t] for t in ("raw", "detected", "dlq", "alerts")],
                            PARTITIONS)  # fmt: skip
        await publish_rules(bootstrap, names["rules"], [rule], prune=True)
        worker = WorkerProcess(tmp_path, free_port(), env=env).start()
        try:
            await asyncio.to_thread(worker.wait_ready, 120.0)
            event_id = str(uuid.uuid4())
            datum = plate_event_datum(event_id=event_id, plate_text="TR4 CE1")
            datum["captured_at"] = int(datum["captured_at"].timestamp() * 1000)  # as spooled
            await publish_as_the_edge(settings, names["raw"], datum, tmp_path / "spool.db")
            assert tracing.flush(10.0)
            deadline = time.monotonic() + 60
            while not received and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            assert received, f"no webhook call; worker log:\n{worker.log_tail()}"
            spans = await whole_trace(store.find, event_id, wanted)
            assert wanted <= {s.name for s in spans}, (
                f"stages missing from the trace: {wanted - {s.name for s in spans}}; "
                f"found {sorted(s.name for s in spans)}; worker log:\n{worker.log_tail()}"
            )
        finally:
            worker.stop()
        return event_id, spans
    finally:
        tracing.configure(TracingSettings(), "test")
        await run.drop(bootstrap, settings.schema_registry.url)


def assert_one_chain(event_id: str, spans: list[Span]) -> None:
    """Each stage a child of the stage it took the read from, in the right service."""
    by_name = {s.name: s for s in spans}
    frame = by_name["edge frame"]
    assert frame.service == "alpr-edge" and frame.parent_id is None
    for child in ("edge spool", "edge publish"):
        edge = by_name[child]
        assert edge.service == "alpr-edge" and edge.parent_id == frame.span_id, child
        assert edge.attributes["alpr.event_id"] == event_id
    parents = {
        "router route": "edge publish",
        "alerts evaluate": "router route",  # the rule feed evaluates the router's read
        "notifier deliver": "alerts evaluate",
        "projection pg write": "router route",
        "projection es write": "router route",
    }
    for child, parent in parents.items():
        assert by_name[child].service == "alpr-worker", child
        assert by_name[child].parent_id == by_name[parent].span_id, f"{child} under {parent}"
    assert by_name["router route"].attributes["alpr.event_id"] == event_id
    assert by_name["notifier deliver"].attributes["alpr.rule"] == "trace-stolen"


async def test_a_reads_trace_is_whole_at_an_otlp_receiver(
    otlp_receiver: TraceStore,
    settings: Settings,
    tmp_path: Path,
    hook: tuple[str, list[bytes]],
) -> None:
    event_id, spans = await read_through_a_traced_worker(otlp_receiver, settings, tmp_path, hook)
    assert_one_chain(event_id, spans)


async def test_a_reads_trace_is_whole_in_jaeger(
    jaeger: TraceStore, settings: Settings, tmp_path: Path, hook: tuple[str, list[bytes]]
) -> None:
    event_id, spans = await read_through_a_traced_worker(jaeger, settings, tmp_path, hook)
    assert_one_chain(event_id, spans)
