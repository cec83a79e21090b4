"""A server span for every web request (``streams.tracing``), named by the route it took
(``GET /api/plates/{plate}``, not the plate itself: names stay few and carry no plate data),
continuing the trace of a caller that sent a ``traceparent``. Prometheus's scrapes of
``/metrics`` get none. Off, like all tracing, unless ``tracing.endpoint`` is set.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from streams import tracing

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Paths whose requests are not traced: machines polling, not people asking.
UNTRACED = frozenset({"/metrics"})


def route_of(request: web.Request) -> str:
    """The route template the request matched, or ``unmatched``."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def trace_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    active = tracing.tracer()
    if active is None or request.path in UNTRACED:
        return await handler(request)
    parent = tracing.extract_http(request.headers)
    if not tracing.recorded(parent):
        return await handler(request)
    with active.start_as_current_span(
        f"{request.method} {route_of(request)}",
        context=parent,
        kind=SpanKind.SERVER,
        attributes={"http.request.method": request.method, "http.route": route_of(request)},
        # An HTTP error is an answer, marked below by its status; a crash marks itself.
        set_status_on_exception=False,
    ) as span:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            _answered(span, exc.status)
            raise
        except Exception as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, repr(exc)))
            raise
        _answered(span, response.status)
        return response


def _answered(span: Span, status: int) -> None:
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))
