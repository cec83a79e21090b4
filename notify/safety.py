"""Refusing notification URLs that point inside the network (SSRF), unless allow-listed.

A rule author could otherwise make workers call internal services. The host is resolved
and every address it resolves to must be public or inside an allow-listed network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

from notify.base import DeliveryError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(cidrs: Sequence[str]) -> list[Network]:
    return [ipaddress.ip_network(c, strict=False) for c in cidrs]


def _internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return (
        address.is_private or address.is_loopback or address.is_link_local
        or address.is_reserved or address.is_multicast or address.is_unspecified
    )  # fmt: skip


async def check_url(url: str, allowed: Sequence[Network]) -> None:
    """Raise a permanent ``DeliveryError`` if ``url`` reaches an internal address that no
    allowed network holds."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError(f"not an http(s) URL: {url!r}", permanent=True)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, port, type=socket.SOCK_STREAM
        )
    except OSError as exc:
        raise DeliveryError(f"cannot resolve {parts.hostname}: {exc}") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if _internal(address) and not any(address in net for net in allowed):
            raise DeliveryError(
                f"{parts.hostname} resolves to {address}, an internal address not in "
                "ALPR_NOTIFY__ALLOW_NETWORKS",
                permanent=True,
            )
