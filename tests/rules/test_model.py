"""The rule model: kinds by ``type``, unknown fields refused, durations and schedules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from rules.model import Rule, Schedule, WatchlistRule, parse_duration

RULE: TypeAdapter[object] = TypeAdapter(Rule)


def test_type_picks_the_kind() -> None:
    rule = RULE.validate_python({"type": "watchlist", "name": "w", "plates": ["AB1"]})
    assert isinstance(rule, WatchlistRule)


def test_unknown_field_is_refused_by_name() -> None:
    with pytest.raises(ValidationError) as info:
        RULE.validate_python({"type": "rate", "name": "r", "count": 3, "window": 60, "x": 1})
    assert info.value.errors()[0]["loc"][-1] == "x"


DURATIONS = [(90, 90.0), ("90s", 90.0), ("5m", 300.0), ("2h", 7200.0), ("1d", 86400.0),
             ("250ms", 0.25)]  # fmt: skip


@pytest.mark.parametrize(("text", "seconds"), DURATIONS)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_bad_duration_says_what_is_allowed() -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")


def test_watchlist_needs_plates_and_valid_patterns() -> None:
    with pytest.raises(ValidationError, match="needs plates"):
        RULE.validate_python({"type": "watchlist", "name": "w"})
    with pytest.raises(ValidationError, match="bad regular expression"):
        RULE.validate_python({"type": "watchlist", "name": "w", "match": "regex", "plates": ["("]})


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        Schedule(timezone="Mars/Olympus")


def test_schedule_across_midnight_belongs_to_the_day_it_starts() -> None:
    friday_night = Schedule(days=["fri"], start="22:00", end="06:00", timezone="UTC")  # type: ignore[arg-type]
    assert friday_night.active_at(datetime(2026, 11, 27, 23, 0, tzinfo=UTC))  # Fri 23:00
    assert friday_night.active_at(datetime(2026, 11, 28, 3, 0, tzinfo=UTC))  # Sat 03:00
    assert not friday_night.active_at(datetime(2026, 11, 28, 6, 0, tzinfo=UTC))  # Sat 06:00
    assert not friday_night.active_at(datetime(2026, 11, 28, 23, 0, tzinfo=UTC))  # Sat 23:00
    assert not friday_night.active_at(datetime(2026, 11, 27, 3, 0, tzinfo=UTC))  # Fri 03:00


def test_schedule_in_a_time_zone() -> None:
    office = Schedule(days=["mon"], start="09:00", end="17:00", timezone="America/New_York")  # type: ignore[arg-type]
    # Monday 2026-11-23 13:59 UTC is 08:59 in New York; 14:00 UTC is 09:00.
    assert not office.active_at(datetime(2026, 11, 23, 13, 59, tzinfo=UTC))
    assert office.active_at(datetime(2026, 11, 23, 14, 0, tzinfo=UTC))


def test_sms_numbers_must_be_e164() -> None:
    with pytest.raises(ValidationError, match=r"E\.164"):
        RULE.validate_python(
            {"type": "threshold", "name": "t", "field": "plate_confidence", "op": "<",
             "value": 0.5, "actions": [{"channel": "sms", "to": ["0770"]}]}
        )  # fmt: skip
