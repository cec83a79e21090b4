"""The assignment projection: the latest assignment kept, a refused one dead-lettered."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from agents.projections import alerts
from stores.alert_assignments import assigned_by
from streams.records import AlertAssignment
from streams.retry import Backoff

AT = datetime(2026, 3, 2, tzinfo=UTC)
ASSIGNMENT = AlertAssignment(
    assignment_id="g1", alert_id="a1", assignee="dana", key_id="k1", owner="eve", assigned_at=AT
)


class FakePool:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.executed: list[tuple[Any, ...]] = []

    async def execute(self, sql: str, *args: Any) -> str:
        if self.error is not None:
            raise self.error
        self.executed.append(args)
        return "INSERT 0 1"


class FakeWriter:
    def __init__(self, pool: FakePool) -> None:
        self._pool = pool

    async def pool(self) -> FakePool:
        return self._pool


@pytest.fixture
def letters(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    sent: list[Any] = []

    async def send(letter: Any) -> None:
        sent.append(letter)

    monkeypatch.setattr(alerts, "send_dead_letter", send)
    monkeypatch.setattr(alerts, "dead_letter_for", lambda error, message, now: error)
    return sent


async def test_an_assignment_is_kept_with_who_made_it(letters: list[Any]) -> None:
    pool = FakePool()
    event = SimpleNamespace(value=ASSIGNMENT, message=None)
    assert await alerts.project_assignment(FakeWriter(pool), event, Backoff(0.01, 0.02)) == 1  # type: ignore[arg-type]
    assert pool.executed == [("a1", "dana", "eve (k1)", AT, "g1")] and letters == []
    assert assigned_by(ASSIGNMENT) == "eve (k1)"


async def test_an_assignment_postgresql_refuses_is_a_dead_letter(letters: list[Any]) -> None:
    pool = FakePool(ValueError("bad data"))
    event = SimpleNamespace(value=ASSIGNMENT, message=None)
    assert await alerts.project_assignment(FakeWriter(pool), event, Backoff(0.01, 0.02)) == 0  # type: ignore[arg-type]
    [error] = letters
    assert error.event_id == "a1" and "alert assignment not stored" in str(error)
