"""The API's own error shape for what aiohttp answers before any view runs: an unknown path
under ``/api`` (404) or a method a path does not take (405); and the hardening every answer
gets (``web.hardening``): headers, the ``/metrics`` gate, JSON errors for unparsable requests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from alpr import app
from config.settings import get_settings
from web import hardening, tracing

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def json_router_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or not request.path.startswith("/api/"):
            raise
        code = exc.reason.lower().replace(" ", "_")
        message = f"{exc.reason}: {request.method} {request.path}"
        if exc.status == 405:
            message = f"{request.path} does not take {request.method}"
            message += f" (it takes {exc.headers.get('Allow', '')})"
        body = {"error": {"code": code, "message": message}}
        headers = {k: v for k, v in exc.headers.items() if k == "Allow"}
        return web.json_response(body, status=exc.status, headers=headers)


def install(web_app: web.Application) -> None:
    """Add the middleware and hooks (before the server starts; aiohttp freezes them then)."""
    if json_router_errors in web_app.middlewares or web_app.frozen:
        return
    settings = get_settings()
    # First, so a request's span covers the other middleware's answers too.
    web_app.middlewares.append(tracing.trace_requests)
    web_app.middlewares.append(json_router_errors)
    web_app.middlewares.append(hardening.metrics_gate(settings.web))
    csp = hardening.content_security_policy(hardening.origin_of(settings.s3.endpoint))
    web_app.on_response_prepare.append(hardening.header_setter(csp))
    hardening.answer_parse_errors_in_json(web_app)


install(app.web.web_app)  # type: ignore[attr-defined]  # the aiohttp driver's Application
