"""The acknowledgement projection: the first acknowledgement kept, a refused one dead-lettered."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from agents.projections import alerts
from stores.alert_acknowledgements import acknowledged_by
from streams.records import AlertAcknowledgement
from streams.retry import Backoff
from tests.agents.test_alert_assignments import FakePool, FakeWriter

AT = datetime(2026, 3, 2, tzinfo=UTC)
ACKNOWLEDGEMENT = AlertAcknowledgement(
    acknowledgement_id="n1", alert_id="a1", key_id="k1", owner="eve", acknowledged_at=AT,
    note="on it",
)  # fmt: skip


@pytest.fixture
def letters(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    sent: list[Any] = []

    async def send(letter: Any) -> None:
        sent.append(letter)

    monkeypatch.setattr(alerts, "send_dead_letter", send)
    monkeypatch.setattr(alerts, "dead_letter_for", lambda error, message, now: error)
    return sent


async def test_an_acknowledgement_is_kept_with_who_gave_it_and_the_note(
    letters: list[Any],
) -> None:
    pool = FakePool()
    event = SimpleNamespace(value=ACKNOWLEDGEMENT, message=None)
    changed = await alerts.project_acknowledgement(FakeWriter(pool), event, Backoff(0.01, 0.02))  # type: ignore[arg-type]
    assert changed == 1 and letters == []
    assert pool.executed == [("a1", "eve (k1)", AT, "on it", "n1")]
    assert acknowledged_by(ACKNOWLEDGEMENT) == "eve (k1)"


async def test_an_acknowledgement_postgresql_refuses_is_a_dead_letter(letters: list[Any]) -> None:
    pool = FakePool(ValueError("bad data"))
    event = SimpleNamespace(value=ACKNOWLEDGEMENT, message=None)
    changed = await alerts.project_acknowledgement(FakeWriter(pool), event, Backoff(0.01, 0.02))  # type: ignore[arg-type]
    assert changed == 0
    [error] = letters
    assert error.event_id == "a1" and "alert acknowledgement not stored" in str(error)


def test_acknowledgements_have_a_topic_of_their_own_with_their_record() -> None:
    topic = alerts.alert_acknowledgements
    assert topic.get_topic_name() != alerts.alert_assignments.get_topic_name()
    assert topic.value_type is AlertAcknowledgement
