"""Alert acknowledgements as the web views make them: the event, and no event for an alert
acknowledged already or not stored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from web.api import acknowledgements
from web.api.acknowledgements import acknowledge_alert, make_acknowledgement
from web.auth.keys import ApiKey
from web.lookup.contract import Alert

KEY = ApiKey(key_id="k1", owner="eve", role="operator", created_at=datetime.now(UTC))
AT = datetime(2026, 3, 2, tzinfo=UTC)


def test_an_acknowledgement_names_who_gave_it_when_to_the_millisecond_and_the_note() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    made = make_acknowledgement(KEY, "a-1", "on it")
    assert (made.alert_id, made.key_id, made.owner, made.note) == ("a-1", "k1", "eve", "on it")
    assert made.acknowledged_at >= before and made.acknowledged_at.microsecond % 1000 == 0
    assert made.acknowledgement_id != make_acknowledgement(KEY, "a-1", None).acknowledgement_id


def alert(acknowledged: bool) -> Alert:
    return Alert(
        alert_id="a-1", rule_id="r", event_id="e", captured_at=AT, plate="AB12CDE",
        camera_id="c", severity="info", raised_at=AT,
        acknowledged_at=AT if acknowledged else None,
        acknowledged_by="eve (k1)" if acknowledged else None,
    )  # fmt: skip


class FakeReference:
    def __init__(self, stored: list[Alert | None]) -> None:
        self.stored = stored

    async def alert(self, alert_id: str) -> Alert | None:
        return self.stored.pop(0)


class FakeState:
    def __init__(self, stored: list[Alert | None]) -> None:
        self.ref = FakeReference(stored)
        self.pool_asked = 0

    async def reference(self) -> FakeReference:
        return self.ref

    async def pool(self) -> str:
        self.pool_asked += 1
        return "pool"


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    log: list[tuple[str, Any]] = []

    class Topic:
        async def send(self, *, key: str, value: Any) -> Any:
            log.append(("sent", value))

            async def delivered() -> None:
                log.append(("acked by the broker", key))

            return delivered()

    async def apply(db: Any, value: Any) -> int:
        log.append(("applied", db))
        return 1

    monkeypatch.setattr(acknowledgements, "alert_acknowledgements", Topic())
    monkeypatch.setattr(acknowledgements, "apply_acknowledgement", apply)
    return log


async def test_the_event_is_on_the_broker_before_the_store_has_it(
    sent: list[tuple[str, Any]],
) -> None:
    state = FakeState([alert(False), alert(True)])
    shown = await acknowledge_alert(state, KEY, "a-1", "on it")  # type: ignore[arg-type]
    assert shown is not None and shown.acknowledged_by == "eve (k1)"
    assert [step for step, _ in sent] == ["sent", "acked by the broker", "applied"]
    assert sent[0][1].note == "on it" and sent[0][1].alert_id == "a-1"


async def test_an_alert_acknowledged_already_or_missing_sends_nothing(
    sent: list[tuple[str, Any]],
) -> None:
    assert (await acknowledge_alert(FakeState([alert(True)]), KEY, "a-1", None)) == alert(True)  # type: ignore[arg-type]
    assert await acknowledge_alert(FakeState([None]), KEY, "a-1", None) is None  # type: ignore[arg-type]
    assert sent == []
    with pytest.raises(ValueError, match="at most 1000"):
        await acknowledge_alert(FakeState([]), KEY, "a-1", "x" * 1001)  # type: ignore[arg-type]
