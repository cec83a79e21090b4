"""Daily partitions: names, bounds and the days created ahead."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from stores.partitions import (
    create_sql,
    day_bounds,
    day_of_partition,
    days_ahead,
    partition_name,
    utc_day,
)


def test_name_round_trips_and_sorts_by_day() -> None:
    days = [date(2026, 12, 31), date(2027, 1, 1), date(2026, 2, 3)]
    names = [partition_name(d) for d in days]
    assert [day_of_partition(n) for n in names] == days
    assert sorted(names) == [partition_name(d) for d in sorted(days)]


def test_names_of_other_tables_are_no_partition() -> None:
    assert day_of_partition("plate_reads_hourly") is None
    assert day_of_partition("plate_reads_p2026112") is None


def test_bounds_are_a_half_open_utc_day() -> None:
    start, end = day_bounds(date(2026, 3, 29))
    assert start == datetime(2026, 3, 29, tzinfo=UTC)
    assert end - start == timedelta(days=1)
    assert "FROM ('2026-03-29T00:00:00+00:00') TO ('2026-03-30T00:00:00+00:00')" in create_sql(
        date(2026, 3, 29)
    )


def test_a_read_belongs_to_its_utc_day() -> None:
    late_evening_east = datetime(2026, 5, 2, 1, 30, tzinfo=timezone(timedelta(hours=3)))
    assert utc_day(late_evening_east) == date(2026, 5, 1)
    with pytest.raises(ValueError, match="naive"):
        utc_day(datetime(2026, 5, 2))


def test_days_ahead_covers_yesterday_today_and_the_days_after() -> None:
    today = date(2026, 1, 1)
    assert days_ahead(today, 2) == [date(2025, 12, 31), today, date(2026, 1, 2), date(2026, 1, 3)]
    with pytest.raises(ValueError, match="ahead"):
        days_ahead(today, -1)
