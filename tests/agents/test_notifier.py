"""The notifier agent through ``agent.test_context()``: each action delivered once, the
delivery log honoured, failures dead-lettered."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

import agents.alerting.notifier
import tables.local
from agents.alerting.notifier import DeliveryLog, alert_deliveries, notify_alerts, settle
from config.alerting import NotifySettings
from notify.base import DeliveryError
from streams.alert import Alert
from tests.notify.conftest import make_alert
from tests.support.settings import use_sections

HOOK = {"channel": "webhook", "url": "http://127.0.0.1:9/hook", "secret_env": None}
MAIL = {"channel": "email", "to": ["sec@example.org"], "subject": None}


class Recorder:
    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[str] = []
        self.fail_with: DeliveryError | None = None

    async def send(self, alert: Alert, action: dict[str, Any]) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(alert.alert_id)


@pytest.fixture
def channels(monkeypatch: pytest.MonkeyPatch) -> dict[str, Recorder]:
    fakes = {name: Recorder(name) for name in ("email", "sms", "slack", "webhook")}
    monkeypatch.setattr(agents.alerting.notifier, "build_channels", lambda session, settings: fakes)
    settings = NotifySettings(attempts=2, backoff_s=0, backoff_max_s=0)  # type: ignore[call-arg]
    use_sections(monkeypatch, agents.alerting.notifier, notify=settings)
    return fakes


@pytest.fixture
def dead_letters(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    letters: list[Any] = []

    async def record(letter: Any) -> None:
        letters.append(letter)

    monkeypatch.setattr(agents.alerting.notifier, "send_dead_letter", record)
    return letters


@pytest.fixture(autouse=True)
def empty_log() -> Iterator[None]:
    alert_deliveries.data.clear()
    yield
    alert_deliveries.data.clear()


async def put(*alerts: Alert) -> None:
    async with notify_alerts.test_context() as agent:
        for alert in alerts:
            await agent.put(alert, key=alert.alert_id)
        await settle()


async def test_each_action_delivered_once_even_when_the_alert_comes_twice(
    channels: dict[str, Recorder], dead_letters: list[Any]
) -> None:
    alert = make_alert("a1", [HOOK, MAIL])
    await put(alert)
    await put(alert)
    assert channels["webhook"].sent == ["a1"] and channels["email"].sent == ["a1"]
    assert alert_deliveries.data["a1"].done == ["0:webhook", "1:email"]
    assert dead_letters == []


async def test_logged_deliveries_are_skipped(channels: dict[str, Recorder]) -> None:
    alert_deliveries.data["a1"] = DeliveryLog(done=["0:webhook"])  # as restored after a crash
    await put(make_alert("a1", [HOOK, MAIL]))
    assert channels["webhook"].sent == [] and channels["email"].sent == ["a1"]


async def test_failure_after_the_last_retry_is_dead_lettered_and_not_logged(
    channels: dict[str, Recorder], dead_letters: list[Any]
) -> None:
    channels["webhook"].fail_with = DeliveryError("503 from receiver")
    await put(make_alert("a1", [HOOK, MAIL]))
    (letter,) = dead_letters
    assert letter.event_id == "a1" and "0:webhook: 503 from receiver" in letter.message
    assert alert_deliveries.data["a1"].done == ["1:email"]


class SlowReceiver(Recorder):
    """Holds every delivery until released; counts how many wait at once."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.release = asyncio.Event()
        self.waiting = 0
        self.most_waiting = 0

    async def send(self, alert: Alert, action: dict[str, Any]) -> None:
        self.waiting += 1
        self.most_waiting = max(self.most_waiting, self.waiting)
        try:
            await self.release.wait()
        finally:
            self.waiting -= 1
        self.sent.append(alert.alert_id)


async def test_a_slow_receiver_holds_neither_the_partition_nor_other_channels(
    channels: dict[str, Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = SlowReceiver("webhook")
    channels["webhook"] = slow
    settings = NotifySettings(  # type: ignore[call-arg]
        attempts=1, backoff_s=0, backoff_max_s=0, in_flight_per_channel=2
    )
    use_sections(monkeypatch, agents.alerting.notifier, notify=settings)
    hooks = [make_alert(f"h{n}", [HOOK]) for n in range(5)]
    mail = make_alert("m1", [MAIL])
    async with notify_alerts.test_context() as agent:
        for alert in [*hooks, mail]:
            await agent.put(alert, key=alert.alert_id)
        for _ in range(100):  # the mail behind five waiting hooks goes out meanwhile
            if channels["email"].sent:
                break
            await asyncio.sleep(0.01)
        assert channels["email"].sent == ["m1"]
        assert slow.sent == [] and slow.waiting == 2  # at most two in flight per channel
        slow.release.set()
        await settle()
    assert sorted(slow.sent) == [a.alert_id for a in hooks] and slow.most_waiting == 2
    assert all(alert_deliveries.data[a.alert_id].done == ["0:webhook"] for a in hooks)


async def test_an_alert_redelivered_while_its_first_delivery_waits_is_sent_once(
    channels: dict[str, Recorder],
) -> None:
    slow = SlowReceiver("webhook")
    channels["webhook"] = slow
    alert = make_alert("a1", [HOOK])
    async with notify_alerts.test_context() as agent:
        await agent.put(alert, key=alert.alert_id)
        await agent.put(alert, key=alert.alert_id)
        slow.release.set()
        await settle()
    assert slow.sent == ["a1"] and slow.most_waiting == 1


async def test_old_log_entries_are_pruned_and_tombstoned_by_their_partitions_owner(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tombstones: list[tuple[int, str, Any]] = []
    monkeypatch.setattr(
        alert_deliveries,
        "send_changelog",
        lambda partition, key, value, **_kw: tombstones.append((partition, key, value)),
    )
    monkeypatch.setattr(tables.local, "CHUNK", 2)  # several chunks
    entries = {
        "old-mine": DeliveryLog(done=["0:webhook"], at=100.0, partition=1),
        "old-theirs": DeliveryLog(done=["0:webhook"], at=200.0, partition=2),
        "legacy": DeliveryLog(done=["0:webhook"]),  # written before times were kept
        "fresh": DeliveryLog(done=["0:webhook"], at=950.0, partition=1),
        "edge": DeliveryLog(done=["0:webhook"], at=900.0, partition=1),  # exactly the TTL old
    }
    alert_deliveries.data.update(entries)
    removed = await agents.alerting.notifier.prune_deliveries(now=1000.0, ttl_s=100.0, owned=[1])
    assert removed == 4
    assert set(alert_deliveries.data) == {"fresh"}
    assert tombstones == [(1, "old-mine", None), (1, "edge", None)]


async def test_a_delivery_notes_its_time_and_partition(channels: dict[str, Recorder]) -> None:
    before = time.time()
    await put(make_alert("a9", [HOOK]))
    logged = alert_deliveries.data["a9"]
    assert logged.at >= before and logged.partition >= 0
