"""The correction projection: applied to every store, or a dead letter when a store refuses."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from agents.projections import corrections
from streams.records import ReadCorrection
from streams.retry import Backoff

AT = datetime(2026, 3, 2, tzinfo=UTC)
CORRECTION = ReadCorrection(
    correction_id="c1", event_id="e1", captured_at=AT, old_text="AB12", new_text="AB13",
    new_plate="AB13", reason="misread", key_id="k1", owner="dana", corrected_at=AT,
)  # fmt: skip


class FakeStores:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.applied: list[ReadCorrection] = []

    async def apply(self, correction: ReadCorrection, backoff: Backoff) -> None:
        if self.error is not None:
            raise self.error
        self.applied.append(correction)


@pytest.fixture
def letters(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    sent: list[Any] = []

    async def send(letter: Any) -> None:
        sent.append(letter)

    monkeypatch.setattr(corrections, "send_dead_letter", send)
    monkeypatch.setattr(corrections, "dead_letter_for", lambda error, message, now: error)
    return sent


async def test_a_correction_is_applied(letters: list[Any]) -> None:
    stores = FakeStores()
    event = SimpleNamespace(value=CORRECTION, message=None)
    assert await corrections.project_correction(stores, event, Backoff(0.01, 0.02))  # type: ignore[arg-type]
    assert stores.applied == [CORRECTION] and letters == []


async def test_a_correction_a_store_refuses_is_a_dead_letter(letters: list[Any]) -> None:
    stores = FakeStores(ValueError("bad data"))
    event = SimpleNamespace(value=CORRECTION, message=None)
    assert not await corrections.project_correction(stores, event, Backoff(0.01, 0.02))  # type: ignore[arg-type]
    [error] = letters
    assert error.event_id == "e1" and "bad data" in str(error)
