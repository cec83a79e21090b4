"""Web requests get server spans (``web.tracing``), named by route, continuing a caller's
trace; ``/metrics`` gets none."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from opentelemetry.trace import SpanKind, StatusCode

from streams import tracing
from tests.support import tracing as traced
from tests.support.tracing import Spans
from web.tracing import trace_requests

spans = traced.spans  # the fixture

TRACE_ID = "5bf92f3577b34da6a3ce929d0e0e4736"


async def plate(request: web.Request) -> web.Response:
    if request.match_info["plate"] == "BROKEN":
        raise RuntimeError("bug")
    if request.match_info["plate"] == "GONE":
        raise web.HTTPNotFound()
    return web.json_response({"trace_id": tracing.current_trace_id()})


async def metrics(request: web.Request) -> web.Response:
    return web.Response(text="alpr_up 1\n")


@pytest.fixture
async def client() -> AsyncIterator[TestClient]:
    app = web.Application(middlewares=[trace_requests])
    app.router.add_get("/api/plates/{plate}", plate)
    app.router.add_get("/metrics", metrics)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def test_a_request_gets_a_span_named_by_its_route_not_its_plate(
    client: TestClient, spans: Spans
) -> None:
    answer = await client.get("/api/plates/AB12CDE")
    assert answer.status == 200
    (span,) = spans.finished()
    assert span.name == "GET /api/plates/{plate}"
    assert span.kind is SpanKind.SERVER
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == 200
    assert "AB12CDE" not in str(dict(span.attributes))
    assert (await answer.json())["trace_id"] == format(span.context.trace_id, "032x")


async def test_a_callers_traceparent_is_continued(client: TestClient, spans: Spans) -> None:
    parent = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
    await client.get("/api/plates/AB12CDE", headers={"traceparent": parent})
    (span,) = spans.finished()
    assert format(span.context.trace_id, "032x") == TRACE_ID


async def test_errors_are_marked_by_status(client: TestClient, spans: Spans) -> None:
    assert (await client.get("/api/plates/GONE")).status == 404
    assert (await client.get("/api/plates/BROKEN")).status == 500
    gone, broken = spans.finished()
    assert gone.status.status_code is StatusCode.UNSET
    assert gone.attributes is not None and gone.attributes["http.response.status_code"] == 404
    assert broken.status.status_code is StatusCode.ERROR


async def test_prometheus_scrapes_make_no_spans(client: TestClient, spans: Spans) -> None:
    assert (await client.get("/metrics")).status == 200
    assert spans.finished() == []
