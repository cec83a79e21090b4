"""Failed sign-ins and requests with unknown or revoked keys: logged in ``auth_failures`` and
counted per client address (``web.auth.throttle``), so guessing keys is slow and seen."""

from __future__ import annotations

import math
from typing import Any, Literal

from web.app_state import WebResources
from web.auth.audit import client_inet
from web.errors import ApiError

Kind = Literal["signin", "unknown_key", "revoked_key"]


def _address(request: Any) -> str:
    return str(getattr(request, "remote", None) or "unknown")


async def check_wait(state: WebResources, request: Any) -> None:
    """429 when the caller's address failed too often lately (nothing is checked then)."""
    wait = state.throttle.wait(_address(request))
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise ApiError(
            429, "too_many_failures",
            f"too many failed sign-ins or unknown keys from your address: try again in "
            f"{seconds} s", {"Retry-After": str(seconds)},
        )  # fmt: skip


async def record(state: WebResources, request: Any, kind: Kind, key_id: str | None) -> None:
    """Count and log one failure of the caller's address."""
    state.throttle.failed(_address(request))
    await (await state.pool()).execute(
        "INSERT INTO auth_failures (kind, key_id, client_addr) VALUES ($1, $2, $3::inet)",
        kind,
        key_id,
        client_inet(getattr(request, "remote", None)),
    )
