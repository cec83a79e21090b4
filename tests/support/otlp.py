"""An OTLP/HTTP trace receiver for tests: it decodes the exporters' protobuf requests as a
collector does and keeps every span, by trace."""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    span_id: str
    parent_id: str | None
    attributes: dict[str, Any]


def spans_of(request: ExportTraceServiceRequest) -> list[tuple[str, Span]]:
    """(trace id, span) of every span in one OTLP export request."""
    found = []
    for resource_spans in request.resource_spans:
        resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                attributes = {a.key: _value(a.value) for a in span.attributes}
                parent = span.parent_span_id.hex() or None
                found.append(
                    (span.trace_id.hex(), Span(resource["service.name"], span.name,
                                               span.span_id.hex(), parent, attributes))
                )  # fmt: skip
    return found


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


class OtlpReceiver:
    """``async with OtlpReceiver() as receiver``: listening on a free loopback port at
    ``receiver.endpoint``; ``receiver.traces`` holds the spans received, by trace id (hex)."""

    def __init__(self) -> None:
        self.traces: dict[str, list[Span]] = {}
        self.endpoint = ""
        app = web.Application()
        app.router.add_post("/v1/traces", self._export)
        self._runner = web.AppRunner(app)

    async def _export(self, request: web.Request) -> web.Response:
        assert request.content_type == "application/x-protobuf"
        message = ExportTraceServiceRequest()
        message.ParseFromString(await request.read())
        for trace_id, span in spans_of(message):
            self.traces.setdefault(trace_id, []).append(span)
        body = ExportTraceServiceResponse().SerializeToString()
        return web.Response(body=body, content_type="application/x-protobuf")

    def trace_of(self, name: str, event_id: str) -> list[Span]:
        """The spans of the trace holding a span ``name`` of ``alpr.event_id`` (or none)."""
        for spans in self.traces.values():
            if any(s.name == name and s.attributes.get("alpr.event_id") == event_id
                   for s in spans):  # fmt: skip
                return list(spans)
        return []

    async def __aenter__(self) -> OtlpReceiver:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.endpoint = f"http://127.0.0.1:{port}/v1/traces"
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._runner.cleanup()
