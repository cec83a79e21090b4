"""Replaying the assignments topic: every assignment applied in order, non-assignments counted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from stores import alert_assignments
from streams.failures import ProcessingError, Reason, Stage
from streams.records import AlertAssignment

AT = datetime(2026, 3, 2, tzinfo=UTC)


def assignment(n: int, assignee: str | None) -> AlertAssignment:
    return AlertAssignment(
        assignment_id=f"g{n}", alert_id="a1", assignee=assignee, key_id="k1", owner="eve",
        assigned_at=AT,
    )  # fmt: skip


class FakeDb:
    def __init__(self) -> None:
        self.applied: list[tuple[Any, ...]] = []

    async def execute(self, sql: str, *args: Any) -> str:
        self.applied.append(args)
        return "INSERT 0 1"


async def batches(*groups: list[bytes | None]) -> AsyncIterator[list[bytes | None]]:
    for group in groups:
        yield group


async def test_a_replay_applies_every_assignment_and_counts_what_is_not_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wire = {b"1": assignment(1, "dana"), b"2": assignment(2, None)}

    def decoded(value: bytes | None, cache: Any) -> AlertAssignment:
        if value not in wire:
            raise ProcessingError(Reason.MALFORMED_AVRO, Stage.DECODE, "not an assignment")
        return wire[value]

    monkeypatch.setattr(alert_assignments, "assignment_of", decoded)
    db = FakeDb()
    values = batches([b"1", b"junk"], [None, b"2"])
    report = await alert_assignments.replay_assignments(db, values, cache=None)  # type: ignore[arg-type]
    assert (report.messages, report.changed, report.undecodable) == (4, 2, 2)
    assert [args[1] for args in db.applied] == ["dana", None]  # in the topic's order


async def test_a_replay_stops_when_the_registry_cannot_be_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def down(value: bytes | None, cache: Any) -> AlertAssignment:
        raise ProcessingError(Reason.REGISTRY_UNAVAILABLE, Stage.DECODE, "registry down")

    monkeypatch.setattr(alert_assignments, "assignment_of", down)
    with pytest.raises(ProcessingError):
        await alert_assignments.replay_assignments(FakeDb(), batches([b"1"]), cache=None)  # type: ignore[arg-type]
