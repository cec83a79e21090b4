"""``PageView``: the base of the HTML pages, which sign people in with a cookie and show
every failure as a page with the reason in words.

A page that needs a key redirects to the sign-in page when there is none (or it is no longer
valid); a key whose role is too low, bad input and an unavailable store are each shown as a
short message with the HTTP status, never a traceback.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from faust.web import Request, Response
from faust.web.exceptions import WebError

from web import hardening
from web.api.base import client_address
from web.app_state import WebResources, resources
from web.auth import access
from web.auth.access import Reader
from web.auth.audit import Kind
from web.auth.guard import authenticate
from web.auth.keys import ApiKey
from web.auth.roles import Role
from web.errors import ApiError, store_down
from web.lookup.contract import LookupFailure
from web.metered import MeteredView
from web.pages.render import render

log = logging.getLogger(__name__)

#: Pages show plates and reasons: never cached, never framed, and their URLs (which carry
#: the plate and the reason) never sent as a Referer to the object store serving the crops.
#: ``same-origin``, not ``no-referrer``: under the latter browsers send ``Origin: null`` with
#: forms, and the CSRF defence (``web.auth.guard.check_csrf``) needs the real origin.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}

_SIGN_IN_AGAIN = {
    "unauthenticated", "session_ended", "unknown_key", "revoked_key", "bad_authorization"
}  # fmt: skip


class PageView(MeteredView):
    """An HTML page; subclasses implement ``get``/``post`` and call :meth:`page`."""

    async def _answer(self, request: Any) -> Any:
        try:
            return await self._view(request)
        except ApiError as exc:
            if exc.code in _SIGN_IN_AGAIN:
                return self.redirect(f"/signin?next={quote(str(request.rel_url), safe='')}")
            return self.failure(request, exc.status, exc.message, exc.headers)
        except LookupFailure as exc:
            return self.failure(request, 400, str(exc))
        except Exception as exc:
            if store_down(exc):
                log.warning("page %s: store unavailable: %r", request.path, exc)
                message = "A data store is not answering right now. Please try again shortly."
                return self.failure(request, 503, message, {"Retry-After": "5"})
            log.exception("page %s failed", request.path)
            message = "Something went wrong on our side. The details are in the server log."
            return self.failure(request, 500, message)

    async def on_request_error(self, request: Request, exc: WebError) -> Response:
        return self.failure(request, exc.code, str(exc.detail))

    @property
    def state(self) -> WebResources:
        return resources()

    async def caller(self, request: Request, needed: Role, *, touch: bool = True) -> ApiKey:
        return await authenticate(request, self.state, needed, touch=touch)

    async def reader(self, request: Request, key: ApiKey, kind: Kind, query: str) -> Reader | str:
        """Who reads ``kind`` data on this page (the request's ``reason`` checked), or the
        words of a refusal for want of a reason (audited), for the page to ask for one."""
        reason = (request.query.get("reason") or "").strip() or None
        try:
            return await access.admit(self.state, key, kind, query, reason, client_address(request))
        except ApiError as exc:
            if exc.code not in access.REASON_CODES:
                raise
            return exc.message

    def page(
        self, template: str, *, key: ApiKey | None, status: int = 200, **context: Any
    ) -> Response:
        response = self.html(render(template, key=key, **context), status=status)
        response.headers.update(PAGE_HEADERS)
        return response

    def failure(
        self, request: Any, status: int, message: str, headers: dict[str, str] | None = None
    ) -> Response:
        response = self.page("error.html", key=None, status=status, message=message)
        response.headers.update(headers or {})
        return response

    def redirect(self, location: str) -> Response:
        return self.text("", status=303, headers={"Location": location})


def live_policy(response: Response) -> Response:
    """``response`` with the pages' policy letting this site's own script (``/static``) run
    and open its live streams: no inline script, nothing from elsewhere."""
    settings = resources().settings
    image_origin = hardening.origin_of(settings.s3.endpoint)
    response.headers["Content-Security-Policy"] = hardening.content_security_policy(
        image_origin, scripts=True
    )
    return response


def safe_next(value: str | None) -> str:
    """A redirect target after sign-in: a path on this site only (never another host)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value
