"""Refusing notification URLs that point inside the network (SSRF), unless allow-listed.

A rule author could otherwise make workers call internal services (the cloud metadata
address, an admin port on loopback, a carrier-grade NAT range). One function,
:func:`check_url`, serves both moments a URL is judged: when a rule is checked or published
(``alpr rules check|publish``, the rules API) and when a notification is sent.

- Every address the host stands for must be global (``ipaddress``'s ``is_global``: not
  private, loopback, link-local, shared 100.64.0.0/10, benchmark, documentation, reserved,
  multicast or unspecified) unless an allowed network (``notify.allow_networks``) holds it.
- Hosts written as addresses are read the way the C resolver reads them, so ``2130706433``,
  ``0x7f000001``, ``0177.0.0.1`` and ``127.1`` are all 127.0.0.1; ``localhost`` and names
  under it are loopback without asking DNS; IPv4-mapped IPv6 addresses are judged as IPv4.
- At send time the connection is pinned to the address that was checked (:func:`pinned`):
  the request goes to that IP with the name kept for the Host header and TLS, so a second,
  rebinding DNS answer never gets a say. At check time a name that does not resolve (an
  offline laptop) passes: it is judged again, and refused if need be, at send time.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from notify.base import DeliveryError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrl(DeliveryError):
    """A URL no notification may be sent to (never retried)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


def parse_networks(cidrs: Sequence[str]) -> list[Network]:
    return [ipaddress.ip_network(c, strict=False) for c in cidrs]


@dataclass(frozen=True)
class Target:
    """A checked URL: its parts and the addresses it may be sent to (empty: the name did not
    resolve at check time)."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[Address, ...]


def literal_address(host: str) -> Address | None:
    """``host`` as an address when it is written as one, in any form the C resolver takes."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        try:  # 2130706433, 0x7f000001, 0177.0.0.1, 127.1: inet_aton reads them all
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except (OSError, UnicodeError, ValueError):
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _loopback_name(host: str) -> bool:
    name = host.rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")


def refused(address: Address, allowed: Sequence[Network]) -> bool:
    """Whether ``address`` is not global and no allowed network holds it."""
    return not address.is_global and not any(address in network for network in allowed)


def _parts(url: str) -> tuple[str, str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"not a valid URL: {url!r} ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrl(f"not an http(s) URL with a host: {url!r}")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl(f"credentials in a notification URL are not allowed: {parts.hostname}")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def _resolve(host: str, port: int) -> tuple[Address, ...]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found = (literal_address(str(info[4][0]).split("%")[0]) for info in infos)
    return tuple(dict.fromkeys(a for a in found if a is not None))


async def check_url(url: str, allowed: Sequence[Network], *, sending: bool = True) -> Target:
    """The checked target of ``url``; ``UnsafeUrl`` if any address it stands for is internal
    and not allowed. ``sending=False`` (rule checks) lets a name that does not resolve pass."""
    scheme, host, port = _parts(url)
    literal = literal_address(host)
    if literal is not None:
        addresses: tuple[Address, ...] = (literal,)
    elif _loopback_name(host):
        addresses = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))
    else:
        try:
            addresses = await _resolve(host, port)
        except (OSError, UnicodeError) as exc:
            if sending:
                raise DeliveryError(f"cannot resolve {host}: {exc}") from exc
            addresses = ()
        if sending and not addresses:
            raise DeliveryError(f"{host} resolves to no address")
    for address in addresses:
        if refused(address, allowed):
            shown = host if literal is None else f"{host} ({address})"
            raise UnsafeUrl(
                f"{shown} is {address}, an internal address: notifications go to public "
                "addresses only, unless a network holding it is in ALPR_NOTIFY__ALLOW_NETWORKS"
            )
    return Target(url, scheme, host, port, addresses)


def pinned(target: Target) -> tuple[str, dict[str, str], str | None]:
    """The URL to request (its host replaced by the first checked address), the Host header,
    and the name TLS must verify: the connection goes where the check looked, and nowhere a
    second DNS answer might point."""
    address = target.addresses[0]
    host = f"[{address}]" if address.version == 6 else str(address)
    parts = urlsplit(target.url)
    default = 443 if target.scheme == "https" else 80
    netloc = host if target.port == default else f"{host}:{target.port}"
    url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    name = parts.hostname or target.host
    header = name if target.port == default else f"{name}:{target.port}"
    if ":" in name and not name.startswith("["):
        header = f"[{name}]" if target.port == default else f"[{name}]:{target.port}"
    return url, {"Host": header}, (name if target.scheme == "https" else None)
