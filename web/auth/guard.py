"""Who is asking, and may they: the key from the request, its role, and its rate limit.

The API takes the key as ``Authorization: Bearer <key>``; the pages take a session cookie
their sign-in form sets (``web.auth.sessions``: the cookie is never the key). Either way the
same checks run, in this order: a key or a live session is present (401), the key is known
and not revoked (401; unknown keys count against the caller's address, see
``web.auth.throttle``), a cookie-authenticated request that changes something comes from this
site with the session's CSRF token (403; 415 for an API request that is not JSON), the key is
within its rate (429), and of a role high enough for the request (403).
"""

from __future__ import annotations

import hmac
import math
from typing import Any
from urllib.parse import urlsplit

from web.app_state import WebResources
from web.auth import failures
from web.auth.keys import ApiKey, KeyStore
from web.auth.roles import Role, at_least
from web.auth.sessions import COOKIE, SessionKey, SessionStore
from web.errors import ApiError

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="alpr"'}
#: Methods that change nothing, so need no CSRF defence.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: The form field that carries a session's CSRF token.
CSRF_FIELD = "csrf"


def presented_key(request: Any) -> str | None:
    """The key in the Authorization header, None when there is no such header."""
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise ApiError(
            401, "bad_authorization", "the Authorization header must read 'Bearer <key>'",
            _CHALLENGE,
        )  # fmt: skip
    return value.strip()


async def _by_key(request: Any, state: WebResources, presented: str) -> ApiKey:
    await failures.check_wait(state, request)
    stored = await KeyStore(await state.pool()).find(presented)
    if stored is None:
        await failures.record(state, request, "unknown_key", None)
        raise ApiError(401, "unknown_key", "this API key is not known", _CHALLENGE)
    return stored


async def _by_session(request: Any, state: WebResources, touch: bool) -> SessionKey:
    session_id = request.cookies.get(COOKIE) if hasattr(request, "cookies") else None
    if not session_id:
        raise ApiError(
            401, "unauthenticated",
            "this needs an API key: send 'Authorization: Bearer <key>' (keys are made with "
            "`alpr keys create`)", _CHALLENGE,
        )  # fmt: skip
    key = await SessionStore(await state.pool(), state.settings.web).find(session_id, touch=touch)
    if key is None:
        raise ApiError(
            401, "session_ended",
            "your sign-in has ended (signed out, expired, or idle too long): sign in again",
            _CHALLENGE,
        )  # fmt: skip
    return key


def same_origin(request: Any) -> bool:
    """Whether the request's Origin (else its Referer) names this site's host and port (the
    scheme is left out: a proxy that ends TLS talks plain HTTP to the worker)."""
    claimed = request.headers.get("Origin") or request.headers.get("Referer") or ""
    return bool(claimed) and urlsplit(claimed).netloc.lower() == str(request.host).lower()


async def check_csrf(request: Any, key: SessionKey) -> None:
    """Refuse a cookie-authenticated request that changes something unless it comes from this
    site and, for a page form, carries the session's CSRF token; an API request must be JSON
    (which another site cannot send without the browser asking this one first)."""
    if request.method in SAFE_METHODS:
        return
    if not same_origin(request):
        raise ApiError(
            403, "cross_origin", "this request did not come from this site's pages: refused"
        )
    if request.path.startswith("/api/"):
        if request.content_type != "application/json":
            raise ApiError(
                415, "json_required",
                "signed in with a cookie, the API takes only application/json requests",
            )  # fmt: skip
        return
    token = str((await request.post()).get(CSRF_FIELD, ""))
    if not hmac.compare_digest(token.encode(), key.csrf.encode()):
        raise ApiError(
            403, "bad_csrf_token", "this form has expired or did not come from this site: "
            "reload the page and try again",
        )  # fmt: skip


async def authenticate(
    request: Any, state: WebResources, needed: Role, *, limited: bool = True, touch: bool = True
) -> ApiKey:
    """The caller's key when it may make this request; ``ApiError`` (401/403/415/429) if not.
    ``limited=False`` skips the rate limit (image requests with a signed link); ``touch=False``
    leaves a session's last use as it was (a live page's stream, not a person's request)."""
    presented = presented_key(request)
    stored = await (
        _by_key(request, state, presented) if presented else _by_session(request, state, touch)
    )
    if stored.revoked_at is not None:
        await failures.record(state, request, "revoked_key", stored.key_id)
        when = stored.revoked_at.strftime("%Y-%m-%d %H:%M UTC")
        raise ApiError(401, "revoked_key", f"this API key was revoked on {when}", _CHALLENGE)
    wait = state.limiter.take(stored.key_id) if limited else 0.0
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise ApiError(
            429, "rate_limited",
            f"too many requests with this key: try again in {seconds} s",
            {"Retry-After": str(seconds)},
        )  # fmt: skip
    if not at_least(stored.role, needed):
        raise ApiError(
            403, "forbidden", f"this needs the {needed} role or higher; this key is a {stored.role}"
        )
    if isinstance(stored, SessionKey):
        await check_csrf(request, stored)
    return stored
