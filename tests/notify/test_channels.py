"""Channels without a network: signatures, rendering, URL safety, limits and retries."""

from __future__ import annotations

import json
from typing import Any

import pytest

from config.alerting import NotifySettings
from notify.base import DeliveryError
from notify.dispatch import Dispatcher
from notify.email import email_message
from notify.limits import TokenBucket, with_retries
from notify.safety import check_url, parse_networks
from notify.webhook import alert_body, signature, verify
from streams.alert import Alert
from streams.retry import Backoff
from tests.notify.conftest import make_alert


def test_signature_is_hmac_sha256_over_timestamp_and_body() -> None:
    body = b'{"a":1}'
    header = signature(b"key", "1700000000", body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify(b"key", "1700000000", body, header)
    assert not verify(b"key", "1700000001", body, header)
    assert not verify(b"other", "1700000000", body, header)


def test_webhook_body_is_the_alert_without_actions(alert: Alert) -> None:
    data = json.loads(alert_body(alert))
    assert data["alert_id"] == "a1" and data["plate"] == "AB123CD" and "actions" not in data


def test_email_has_text_and_html_with_plate_camera_time_rule_and_crop(alert: Alert) -> None:
    message = email_message(alert, {"to": ["sec@example.org"]}, "alpr@localhost",
                            "https://alpr.example/crops/{key}")  # fmt: skip
    assert message["Subject"] == "[ALPR CRITICAL] stolen: AB123CD"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    for part in (text, html):
        assert "AB123CD" in part and "gate-in" in part and "2026-11-25 03:04:05 UTC" in part
        assert "stolen" in part and "https://alpr.example/crops/crops/ev-1.jpg" in part


def test_html_is_escaped() -> None:
    alert = make_alert()
    alert.message = "<script>x</script>"
    html = email_message(alert, {"to": ["a@b.c"]}, "s@x", "").get_body(("html",))
    assert "<script>" not in html.get_content()  # type: ignore[union-attr]


async def test_loopback_refused_unless_allow_listed() -> None:
    with pytest.raises(DeliveryError, match="internal address") as info:
        await check_url("http://127.0.0.1:8080/hook", [])
    assert info.value.permanent
    await check_url("http://127.0.0.1:8080/hook", parse_networks(["127.0.0.0/8"]))
    with pytest.raises(DeliveryError, match="internal address"):
        await check_url("http://10.1.2.3/hook", parse_networks(["127.0.0.0/8"]))


def test_token_bucket_allows_a_burst_then_paces() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=2, burst=2, clock=lambda: now[0])
    assert [bucket.wait_s(), bucket.wait_s()] == [0.0, 0.0]
    assert bucket.wait_s() == pytest.approx(0.5)
    now[0] = 0.5
    assert bucket.wait_s() == 0.0


async def test_retries_until_success_and_stops_on_permanent() -> None:
    pauses: list[float] = []

    async def sleep(s: float) -> None:
        pauses.append(s)

    calls = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise DeliveryError("500")
        return "ok"

    assert await with_retries(flaky, 5, Backoff(1, 10), sleep=sleep) == "ok"
    assert (len(calls), pauses) == (3, [1, 2])

    async def refused() -> None:
        calls.append(1)
        raise DeliveryError("400", permanent=True)

    calls.clear()
    with pytest.raises(DeliveryError):
        await with_retries(refused, 5, Backoff(1, 10), sleep=sleep)
    assert len(calls) == 1


class FakeChannel:
    def __init__(self, name: str, failures: int = 0, permanent: bool = False) -> None:
        self.name, self.failures, self.permanent = name, failures, permanent
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def send(self, alert: Alert, action: dict[str, Any]) -> None:
        if self.failures:
            self.failures -= 1
            raise DeliveryError("boom", permanent=self.permanent)
        self.sent.append((alert.alert_id, action))


SETTINGS = NotifySettings(attempts=4, backoff_s=0, backoff_max_s=0)  # type: ignore[call-arg]


async def test_dispatch_skips_done_actions_and_reports_failures() -> None:
    hook, slack = FakeChannel("webhook", failures=3), FakeChannel("slack", 1, permanent=True)
    dispatcher = Dispatcher({"webhook": hook, "slack": slack}, SETTINGS)
    actions = [{"channel": "webhook", "url": "u"}, {"channel": "slack", "webhook_url": "s"},
               {"channel": "webhook", "url": "v"}]  # fmt: skip
    outcome = await dispatcher.dispatch(make_alert(actions=actions), done={"2:webhook"})
    assert outcome.sent == ["0:webhook"] and outcome.skipped == ["2:webhook"]
    assert list(outcome.failed) == ["1:slack"]
    assert hook.sent == [("a1", actions[0])] and slack.sent == []
