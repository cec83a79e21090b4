"""The PostgreSQL writer's own arithmetic: the hourly counts of a batch copied straight in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from stores.pg_writer import hourly_counts
from stores.rows import read_row
from tests.support.stores import plate_read_datum


def test_hourly_counts_group_by_camera_and_utc_hour_in_lock_order() -> None:
    ten = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    plus_two = timezone(timedelta(hours=2))
    rows = [
        read_row(plate_read_datum(camera_id="b", captured_at=ten + timedelta(minutes=5))),
        read_row(plate_read_datum(camera_id="a", captured_at=ten + timedelta(minutes=59))),
        read_row(plate_read_datum(camera_id="a", captured_at=ten + timedelta(minutes=60))),
        # 12:30 at UTC+2 is 10:30 UTC: counted in the UTC hour, as date_trunc(..., 'UTC') does
        read_row(plate_read_datum(camera_id="a", captured_at=datetime(2026, 11, 25, 12, 30,
                                                                      tzinfo=plus_two))),
    ]  # fmt: skip
    cameras, hours, counts = hourly_counts(rows)
    assert list(zip(cameras, hours, counts, strict=True)) == [
        ("a", ten, 2),
        ("a", ten + timedelta(hours=1), 1),
        ("b", ten, 1),
    ]
    assert all(hour.tzinfo is not None and hour.utcoffset() == timedelta(0) for hour in hours)
