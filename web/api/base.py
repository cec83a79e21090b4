"""``ApiView``: the base of every JSON view, answering every failure as a JSON error body.

Bad input (``ApiError``, a backend's ``BadQuery``/``BadCursor``) is 4xx with its message; a
store that does not answer is 503; anything else is logged with its traceback and answered
500 with a message that points at the log, never with the traceback itself.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web
from faust.web import Request, Response
from faust.web.exceptions import WebError

from web.app_state import WebResources, resources
from web.auth.guard import authenticate
from web.auth.keys import ApiKey
from web.auth.roles import Role
from web.errors import ApiError, bad_request, store_down, unavailable
from web.lookup.contract import BadCursor, BadQuery
from web.metered import MeteredView

log = logging.getLogger(__name__)

_INTERNAL = ApiError(
    500, "internal_error", "the server could not answer this request; the cause is in its log"
)


class ApiView(MeteredView):
    """A JSON view of the API; subclasses implement ``get``/``post``/... as usual."""

    async def _answer(self, request: Any) -> Any:
        try:
            return await self._view(request)
        except ApiError as exc:
            return self.problem(exc)
        except BadCursor as exc:
            return self.problem(bad_request(str(exc), "bad_cursor"))
        except BadQuery as exc:
            return self.problem(bad_request(str(exc), "bad_query"))
        except web.HTTPRequestEntityTooLarge as exc:
            message = f"the request body is too large ({exc.text})"
            return self.problem(ApiError(413, "too_large", message))
        except Exception as exc:
            if store_down(exc):
                log.warning("%s %s: store unavailable: %r", request.method, request.path, exc)
                return self.problem(unavailable(exc))
            log.exception("%s %s failed", request.method, request.path)
            return self.problem(_INTERNAL)

    async def on_request_error(self, request: Request, exc: WebError) -> Response:
        # Faust's own errors (405 for a method the view lacks, ...) in the API's error shape.
        code = type(exc).__name__.replace("Error", "").lower() or "error"
        return self.problem(ApiError(exc.code, code, str(exc.detail)))

    def problem(self, exc: ApiError) -> Response:
        return self.json(exc.body(), status=exc.status, headers=exc.headers or None)

    @property
    def state(self) -> WebResources:
        return resources()

    async def caller(self, request: Request, needed: Role, *, limited: bool = True) -> ApiKey:
        """The caller's key, checked for ``needed`` (raises the 401/403/429 answers)."""
        return await authenticate(request, self.state, needed, limited=limited)


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object body; 400 when it is missing or not an object."""
    raw = await request.read()
    if len(raw) > 16 * 1024 * 1024:
        raise ApiError(413, "too_large", "the request body is over 16 MiB")
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise bad_request("the request body is not valid JSON", "bad_json") from None
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object", "bad_json")
    return body


def client_address(request: Any) -> str | None:
    return getattr(request, "remote", None)
