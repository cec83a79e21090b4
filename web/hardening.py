"""What every answer of the worker's web server carries, whatever view made it (issue 16,
finding 6): no server version, ``nosniff``, a Content-Security-Policy without inline script
on pages, ``/metrics`` for the callers a site allows, and JSON errors (never the input echoed,
never a traceback in the log) for requests aiohttp refuses before any view runs (a URL or a
header over its size limit, a malformed request line).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from config.web import WebSettings

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SERVER = "alpr"


def content_security_policy(image_origin: str | None, *, scripts: bool = False) -> str:
    """The pages' policy: nothing but this site's own forms and styles, images from here and
    from the object store the crops redirect to, never framed, and no script at all; with
    ``scripts`` (the live pages), this site's own script files and streams, never inline."""
    images = "'self' data:" + (f" {image_origin}" if image_origin else "")
    script = "script-src 'self'; connect-src 'self'" if scripts else "script-src 'none'"
    return (
        f"default-src 'none'; {script}; style-src 'unsafe-inline'; "
        f"img-src {images}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


def origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def header_setter(csp: str) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """An ``on_response_prepare`` hook giving every answer the headers above."""

    async def secure_headers(request: web.Request, response: web.StreamResponse) -> None:
        response.headers["Server"] = SERVER
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if (response.content_type or "").startswith("text/html"):
            response.headers.setdefault("Content-Security-Policy", csp)
            response.headers.setdefault("X-Frame-Options", "DENY")
            response.headers.setdefault("Referrer-Policy", "same-origin")

    return secure_headers


def metrics_allowed(settings: WebSettings, request: web.Request) -> bool:
    """Whether this request may read ``/metrics``: from an allowed network, or with the token,
    or from anyone when the site set neither."""
    token = settings.metrics_token
    networks = [ipaddress.ip_network(n) for n in settings.metrics_networks]
    if token is None and not networks:
        return True
    if token is not None and request.headers.get("Authorization") == (
        f"Bearer {token.get_secret_value()}"
    ):
        return True
    try:
        address = ipaddress.ip_address(request.remote or "")
    except ValueError:
        return False
    return any(address in network for network in networks)


def metrics_gate(settings: WebSettings) -> Any:
    @web.middleware
    async def gate_metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.rstrip("/") == "/metrics" and not metrics_allowed(settings, request):
            body = {"error": {"code": "forbidden", "message": "metrics are not served to you"}}
            headers = {"WWW-Authenticate": 'Bearer realm="metrics"'}
            return web.json_response(body, status=403, headers=headers)
        return await handler(request)

    return gate_metrics


class JsonErrorHandler(RequestHandler):
    """aiohttp's connection handler, answering requests it cannot parse in the API's error
    shape, without their text and without a traceback (they are the client's mistake)."""

    def handle_error(
        self, request: Any, status: int = 500, exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:  # fmt: skip
        if status >= 500:
            return super().handle_error(request, status, exc, message)
        log.info("refused a malformed request from %s: %s", request.remote, type(exc).__name__)
        too_long = "more than" in (message or "") or status in (413, 431)
        code = "too_large" if too_long else "bad_request"
        text = (
            "the request line or a header is over the size this server takes"
            if too_long
            else "the request is not valid HTTP"
        )
        response = web.json_response({"error": {"code": code, "message": text}}, status=status)
        response.headers["Server"] = SERVER
        response.force_close()
        return response


class JsonErrorServer(web.Server):
    def __call__(self) -> RequestHandler:
        return JsonErrorHandler(self, loop=self._loop, **self._kwargs)


def answer_parse_errors_in_json(web_app: web.Application) -> None:
    """Make the servers ``web_app`` starts use :class:`JsonErrorHandler`."""
    make = web_app._make_handler

    def make_handler(**kwargs: Any) -> web.Server:
        server = make(**kwargs)
        server.__class__ = JsonErrorServer  # the same server, with the handler above
        return server

    web_app._make_handler = make_handler  # type: ignore[method-assign]
