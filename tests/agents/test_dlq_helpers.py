"""Filters, time parsing and replay selection of the ``alpr dlq`` commands."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from agents.deadletters.letters import HEADER_ATTEMPTS, HEADER_FIRST_FAILED, replay_headers
from agents.deadletters.replay import (
    Filter,
    latest_per_original,
    parse_since,
    why_not_replayed,
    without_payload,
)
from streams.failures import Reason
from streams.records import DeadLetter

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def letter(reason: str = "wrong_magic", payload: bytes | None = b"x", attempts: int = 1,
           failed_at: datetime = NOW, key: bytes | None = b"k") -> DeadLetter:  # fmt: skip
    return DeadLetter(
        id=str(uuid.uuid4()),
        reason=reason,
        message="m",
        stage="decode",
        topic="alpr.plates.raw",
        partition=3,
        offset=7,
        key=key,
        payload=payload,
        first_failed_at=NOW - timedelta(hours=1),
        failed_at=failed_at,
        attempts=attempts,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", NOW - timedelta(minutes=90)),
        ("2h", NOW - timedelta(hours=2)),
        ("1.5d", NOW - timedelta(days=1.5)),
        ("2026-02-27T08:00:00+01:00", datetime(2026, 2, 27, 7, 0, tzinfo=UTC)),
        ("2026-02-27T08:00", datetime(2026, 2, 27, 8, 0, tzinfo=UTC)),
    ],
)
def test_since_takes_durations_and_iso_times(text: str, expected: datetime) -> None:
    assert parse_since(text, now=NOW) == expected


def test_since_names_the_accepted_forms() -> None:
    with pytest.raises(ValueError, match="90m, 2h, 3d"):
        parse_since("yesterday", now=NOW)


def test_filter_by_reason_time_and_id() -> None:
    old = letter(reason="duplicate", failed_at=NOW - timedelta(days=2))
    new = letter(reason="truncated")
    assert Filter().matches(old) and Filter().matches(new)
    assert [x for x in (old, new) if Filter(reasons=frozenset({"duplicate"})).matches(x)] == [old]
    assert [x for x in (old, new) if Filter(since=NOW - timedelta(hours=1)).matches(x)] == [new]
    assert [x for x in (old, new) if Filter(ids=frozenset({new.id})).matches(x)] == [new]


def test_replay_sends_each_original_once_and_skips_missing_payloads() -> None:
    first, again = letter(attempts=1), letter(attempts=2)
    other = letter(payload=b"other")
    lost = letter(payload=None)
    assert sorted(x.id for x in latest_per_original([first, again, other, lost])) == sorted(
        [again.id, other.id]
    )


def test_replay_headers_carry_the_history() -> None:
    headers = dict(replay_headers(letter(attempts=4)))
    assert headers[HEADER_ATTEMPTS] == b"4"
    assert int(headers[HEADER_FIRST_FAILED]) == int((NOW - timedelta(hours=1)).timestamp() * 1000)


def test_letters_without_payload_are_named_with_why_they_cannot_be_replayed() -> None:
    dropped = letter(reason="unwritable", payload=None)
    dropped.message = "x [payload of 9000000 bytes dropped: larger than the producer limit]"
    empty = letter(reason="empty_payload", payload=None)
    kept = letter(reason="unwritable")
    assert without_payload([dropped, empty, kept]) == [dropped, empty]
    line = why_not_replayed(dropped)
    assert line.startswith(f"skipped {dropped.id} (unwritable, from alpr.plates.raw[3]@7): ")
    assert "dropped when it was dead-lettered" in line and "nothing to send back" in line
    assert "the original message had no value" in why_not_replayed(empty)


def test_unwritable_is_a_reason_the_commands_filter_on() -> None:
    assert Reason("unwritable") is Reason.UNWRITABLE
    assert Filter(reasons=frozenset({"unwritable"})).matches(letter(reason="unwritable"))
