"""Who is asking, and may they: the key from the request, its role, and its rate limit.

The API takes the key as ``Authorization: Bearer <key>``; the pages take it from the
HttpOnly cookie their sign-in form sets. Either way the same checks run, in this order:
a key is present (401), known and not revoked (401), within its rate (429), and of a role
high enough for the request (403).
"""

from __future__ import annotations

import math
from typing import Any

from web.app_state import WebResources
from web.auth.keys import ApiKey, KeyStore
from web.auth.roles import Role, at_least
from web.errors import ApiError

#: Name of the pages' sign-in cookie (it holds the key; HttpOnly, SameSite=Strict).
COOKIE = "alpr_key"

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="alpr"'}


def presented_key(request: Any) -> str | None:
    """The key in the Authorization header, else in the sign-in cookie, else None."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise ApiError(
                401, "bad_authorization", "the Authorization header must read 'Bearer <key>'",
                _CHALLENGE,
            )  # fmt: skip
        return value.strip()
    cookie = request.cookies.get(COOKIE) if hasattr(request, "cookies") else None
    return cookie or None


async def authenticate(
    request: Any, state: WebResources, needed: Role, *, limited: bool = True
) -> ApiKey:
    """The caller's key when it may make this request; ``ApiError`` (401/429/403) if not.
    ``limited=False`` skips the rate limit (image requests with a signed link)."""
    key = presented_key(request)
    if key is None:
        raise ApiError(
            401, "unauthenticated",
            "this needs an API key: send 'Authorization: Bearer <key>' (keys are made with "
            "`alpr keys create`)", _CHALLENGE,
        )  # fmt: skip
    stored = await KeyStore(await state.pool()).find(key)
    if stored is None:
        raise ApiError(401, "unknown_key", "this API key is not known", _CHALLENGE)
    if stored.revoked_at is not None:
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
    return stored
