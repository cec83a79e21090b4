"""Replaying the acknowledgements topic: every one applied in order, the first of an alert
kept, non-acknowledgements counted, a registry outage stopping the replay."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from stores import alert_acknowledgements
from streams.failures import ProcessingError, Reason, Stage
from streams.records import AlertAcknowledgement

AT = datetime(2026, 3, 2, tzinfo=UTC)


def acknowledgement(n: int, note: str | None) -> AlertAcknowledgement:
    return AlertAcknowledgement(
        acknowledgement_id=f"n{n}", alert_id="a1", key_id="k1", owner="eve",
        acknowledged_at=AT + timedelta(seconds=n), note=note,
    )  # fmt: skip


class FakeDb:
    def __init__(self) -> None:
        self.applied: list[tuple[Any, ...]] = []
        self.sql: list[str] = []

    async def execute(self, sql: str, *args: Any) -> str:
        self.sql.append(sql)
        self.applied.append(args)
        return "INSERT 0 1"


async def batches(*groups: list[bytes | None]) -> AsyncIterator[list[bytes | None]]:
    for group in groups:
        yield group


async def test_a_replay_applies_every_acknowledgement_and_counts_what_is_not_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wire = {b"1": acknowledgement(1, "on it"), b"2": acknowledgement(2, None)}

    def decoded(value: bytes | None, cache: Any) -> AlertAcknowledgement:
        if value not in wire:
            raise ProcessingError(Reason.MALFORMED_AVRO, Stage.DECODE, "not an acknowledgement")
        return wire[value]

    monkeypatch.setattr(alert_acknowledgements, "acknowledgement_of", decoded)
    db = FakeDb()
    values = batches([b"1", b"junk"], [None, b"2"])
    report = await alert_acknowledgements.replay_acknowledgements(db, values, cache=None)  # type: ignore[arg-type]
    assert (report.messages, report.changed, report.undecodable) == (4, 2, 2)
    assert [args[3] for args in db.applied] == ["on it", None]  # in the topic's order
    # The store keeps the first: a later one replaces only a row that is later still.
    assert "> (excluded.acknowledged_at, excluded.acknowledgement_id)" in db.sql[0]


async def test_a_replay_stops_when_the_registry_cannot_be_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def down(value: bytes | None, cache: Any) -> AlertAcknowledgement:
        raise ProcessingError(Reason.REGISTRY_UNAVAILABLE, Stage.DECODE, "registry down")

    monkeypatch.setattr(alert_acknowledgements, "acknowledgement_of", down)
    with pytest.raises(ProcessingError):
        await alert_acknowledgements.replay_acknowledgements(FakeDb(), batches([b"1"]), cache=None)  # type: ignore[arg-type]
