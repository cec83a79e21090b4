"""One HTTP POST for the HTTP channels, with the status mapped to retry or give up."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from notify.base import DeliveryError
from notify.safety import Network, check_url, pinned


async def post(
    session: aiohttp.ClientSession,
    url: str,
    allowed: Sequence[Network],
    *,
    body: bytes | None = None,
    form: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> None:
    """POST to ``url``, on a connection pinned to the address its check resolved (no second
    DNS lookup); 2xx is delivered, 408/429/5xx and network errors are worth a retry, other
    statuses are permanent failures."""
    target = await check_url(url, allowed)
    address_url, host, tls_name = pinned(target)
    data: Any = body if body is not None else dict(form or {})
    try:
        async with session.post(
            address_url, data=data, headers={**(headers or {}), **host}, allow_redirects=False,
            server_hostname=tls_name,
        ) as response:  # fmt: skip
            if 200 <= response.status < 300:
                return
            text = (await response.text())[:200]
            permanent = response.status not in (408, 429) and response.status < 500
            raise DeliveryError(f"{url} answered {response.status}: {text}", permanent=permanent)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise DeliveryError(f"{url}: {exc!r}") from exc
