"""Issue 16, finding 5: notification URLs that reach inside the network are refused when a
rule is checked (the same check as at send time), by ``is_global`` rather than
``is_private``, in every form an address can be written; and the request goes to the
address that was checked, with no second DNS lookup that could rebind it."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from notify.base import DeliveryError
from notify.http import post
from notify.safety import UnsafeUrl, check_url, parse_networks

ROOT = Path(__file__).resolve().parents[2]

INTERNAL = [
    "http://127.0.0.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:8080/hook",
    "http://2130706433/hook",  # 127.0.0.1 as one integer
    "http://0x7f000001/hook",  # ... in hex
    "http://0177.0.0.1/hook",  # ... in octal
    "http://127.1/hook",  # ... in short form
    "http://localhost:6066/api/rules",
    "http://LOCALHOST./hook",
    "http://admin.localhost/hook",
    "http://100.100.100.200/latest/meta-data/",  # shared address space 100.64.0.0/10
    "http://10.0.0.7/hook",
    "http://192.168.1.1/hook",
    "http://0.0.0.0:6066/hook",
    "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped IPv6
    "http://[fe80::1]/hook",
    "http://198.18.0.1/hook",  # benchmarking range
    "https://user:pass@hooks.example.org/hook",  # credentials in the URL
    "ftp://hooks.example.org/hook",
]


@pytest.mark.parametrize("url", INTERNAL)
async def test_internal_urls_are_refused_at_check_time(url: str) -> None:
    with pytest.raises(UnsafeUrl) as refused:
        await check_url(url, [], sending=False)
    assert refused.value.permanent


async def test_a_public_address_passes_and_an_allowed_network_opens_a_private_one() -> None:
    target = await check_url("https://93.184.216.34/hook", [], sending=False)
    assert [str(a) for a in target.addresses] == ["93.184.216.34"]
    allowed = parse_networks(["10.0.0.0/8", "127.0.0.0/8"])
    assert (await check_url("http://2130706433:80/x", allowed)).port == 80
    assert (await check_url("http://10.0.0.7/hook", allowed)).addresses
    with pytest.raises(UnsafeUrl):
        await check_url("http://192.168.1.1/hook", allowed)


async def test_a_name_that_does_not_resolve_passes_a_check_but_not_a_send() -> None:
    url = "https://no-such-host.invalid/hook"
    assert (await check_url(url, [], sending=False)).addresses == ()
    with pytest.raises(DeliveryError) as failed:
        await check_url(url, [])
    assert not failed.value.permanent  # DNS may come back: retried


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[int, list[str]]]:
    """A webhook receiver on 127.0.0.1; the Host headers it was sent."""
    hosts: list[str] = []

    async def hook(request: web.Request) -> web.Response:
        hosts.append(request.headers["Host"])
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield port, hosts
    await runner.cleanup()


async def test_the_send_goes_to_the_checked_address_without_a_second_lookup(
    receiver: tuple[int, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, hosts = receiver
    answers = iter(["127.0.0.1", "127.0.0.2"])  # the second answer rebinds to elsewhere
    lookups: list[str] = []
    real = socket.getaddrinfo

    def rebinding(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "hooks.rebind.test":
            return real(host, *args, **kwargs)
        lookups.append(host)
        return real(next(answers), *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    connector = aiohttp.TCPConnector(resolver=aiohttp.ThreadedResolver())
    async with aiohttp.ClientSession(connector=connector) as session:
        url = f"http://hooks.rebind.test:{port}/hook"
        await post(session, url, parse_networks(["127.0.0.1/32"]), body=b"{}")
    assert lookups == ["hooks.rebind.test"]  # checked once, connected to what was checked
    assert hosts == [f"hooks.rebind.test:{port}"]  # the name still goes in the Host header


def test_rules_check_refuses_a_webhook_to_an_internal_address(tmp_path: Path) -> None:
    rules = tmp_path / "hooks.yaml"
    rules.write_text(
        "rules:\n  - name: leak\n    type: watchlist\n    plates: [AB12CDE]\n    actions:\n"
        "      - {channel: webhook, url: 'http://169.254.169.254/latest/meta-data/'}\n"
        "      - {channel: slack, webhook_url: 'http://2130706433/services/x'}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "faust", "-A", "alpr", "rules", "check", str(rules)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "rule 'leak': actions[0].url: 169.254.169.254" in done.stderr
    assert "rule 'leak': actions[1].webhook_url: 2130706433 (127.0.0.1)" in done.stderr
    assert "1 rules, 2 errors" in done.stdout
