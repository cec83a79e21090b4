"""Notification channels against real receivers: the stack's SMTP sink (Maildir) and HTTP
servers on loopback in the test acting as webhook, Slack and SMS API."""

from __future__ import annotations

import asyncio
import base64
import json
import mailbox
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from config.alerting import NotifySettings
from config.settings import Settings
from notify.base import Channel
from notify.dispatch import Dispatcher
from notify.email import EmailChannel
from notify.safety import parse_networks
from notify.slack import SlackChannel
from notify.sms import SmsChannel
from notify.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookChannel, verify
from tests.integration.conftest import require_port
from tests.notify.conftest import make_alert

LOOPBACK = parse_networks(["127.0.0.0/8"])


@dataclass
class Receiver:
    """An HTTP server on loopback that records requests and answers from a script."""

    url: str = ""
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((request.path, dict(request.headers), await request.read()))
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status, text="ok" if status == 200 else "nope")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", rec.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    rec.url = f"http://127.0.0.1:{port}"
    yield rec
    await runner.cleanup()


def settings(**overrides: Any) -> NotifySettings:
    base = {"attempts": 4, "backoff_s": 0.05, "backoff_max_s": 0.1,
            "allow_networks": ["127.0.0.0/8"]}  # fmt: skip
    return NotifySettings(**{**base, **overrides})  # type: ignore[arg-type]


async def test_signed_webhook_verified_by_the_receiver(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALPR_TEST_HOOK_KEY", "s3cret")
    action = {
        "channel": "webhook",
        "url": receiver.url + "/hook",
        "secret_env": "ALPR_TEST_HOOK_KEY",
    }
    async with aiohttp.ClientSession() as session:
        dispatcher = Dispatcher({"webhook": WebhookChannel(session, LOOPBACK)}, settings())
        outcome = await dispatcher.dispatch(make_alert("w1", [action]), set())
    assert outcome.sent == ["0:webhook"]
    ((path, headers, body),) = receiver.requests
    assert path == "/hook"
    assert verify(b"s3cret", headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
    assert abs(int(headers[TIMESTAMP_HEADER]) - time.time()) < 300
    assert json.loads(body)["alert_id"] == "w1"


async def test_receiver_failing_three_times_then_ok_gets_one_delivery(receiver: Receiver) -> None:
    receiver.statuses = [500, 500, 500, 200]
    action = {"channel": "webhook", "url": receiver.url + "/hook"}
    async with aiohttp.ClientSession() as session:
        dispatcher = Dispatcher({"webhook": WebhookChannel(session, LOOPBACK)}, settings())
        outcome = await dispatcher.dispatch(make_alert("w2", [action]), set())
        again = await dispatcher.dispatch(make_alert("w2", [action]), set(outcome.sent))
    assert outcome.sent == ["0:webhook"] and outcome.failed == {}
    assert again.skipped == ["0:webhook"]
    assert len(receiver.requests) == 4  # three refused, one delivered, none after


async def test_loopback_receiver_refused_without_allow_list(receiver: Receiver) -> None:
    action = {"channel": "webhook", "url": receiver.url + "/hook"}
    async with aiohttp.ClientSession() as session:
        dispatcher = Dispatcher({"webhook": WebhookChannel(session, [])}, settings())
        outcome = await dispatcher.dispatch(make_alert("w3", [action]), set())
    assert "internal address" in outcome.failed["0:webhook"]
    assert receiver.requests == []


async def test_slack_and_sms_requests(receiver: Receiver) -> None:
    sms_settings = settings(sms_base_url=receiver.url, sms_account_sid="AC123",
                            sms_auth_token="tok", sms_from="+15550001111")  # fmt: skip
    actions: list[dict[str, Any]] = [{"channel": "slack", "webhook_url": receiver.url + "/slack"},
               {"channel": "sms", "to": ["+447700900123"]}]  # fmt: skip
    async with aiohttp.ClientSession() as session:
        channels: dict[str, Channel] = {"slack": SlackChannel(session, LOOPBACK),
                    "sms": SmsChannel(session, LOOPBACK, sms_settings)}  # fmt: skip
        outcome = await Dispatcher(channels, sms_settings).dispatch(
            make_alert("s1", actions), set()
        )
    assert sorted(outcome.sent) == ["0:slack", "1:sms"]
    by_path = {path: (headers, body) for path, headers, body in receiver.requests}
    slack_text = json.loads(by_path["/slack"][1])["text"]
    assert "AB123CD" in slack_text and "stolen" in slack_text
    headers, body = by_path["/2010-04-01/Accounts/AC123/Messages.json"]
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"AC123:tok").decode()
    form = dict(x.split("=", 1) for x in body.decode().split("&"))
    assert form["To"] == "%2B447700900123" and form["From"] == "%2B15550001111"
    assert "AB123CD" in form["Body"]


async def test_email_arrives_at_the_smtp_server(
    settings: Settings, unique: str, smtp_maildir: str
) -> None:
    require_port(f"tcp://{settings.smtp.host}:{settings.smtp.port}", "SMTP")
    alert = make_alert(f"mail-{unique}", [{"channel": "email", "to": ["sec@example.test"],
                                           "subject": "ALPR " + unique}])  # fmt: skip
    channel = EmailChannel(settings.smtp, "https://alpr.example/crops/{key}")
    outcome = await Dispatcher({"email": channel}, NotifySettings()).dispatch(alert, set())  # type: ignore[call-arg]
    assert outcome.sent == ["0:email"], outcome.failed
    found = None
    deadline = time.monotonic() + 10
    while found is None and time.monotonic() < deadline:
        box = mailbox.Maildir(smtp_maildir, create=False)
        found = next((m for m in box if m["Subject"] == "ALPR " + unique), None)
        await asyncio.sleep(0.2)
    assert found is not None
    parts = {p.get_content_type(): bytes(p.get_payload(decode=True)).decode()  # type: ignore[arg-type]
             for p in found.walk() if not p.is_multipart()}  # fmt: skip
    for part in (parts["text/plain"], parts["text/html"]):
        assert "AB123CD" in part and "gate-in" in part and "stolen" in part
        assert "https://alpr.example/crops/crops/ev-1.jpg" in part
