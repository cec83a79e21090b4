"""Which days retention drops: those whose every moment is older than the limit."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from stores.retention import Limits, expired_days


def test_a_day_goes_only_when_its_last_moment_is_past_the_limit() -> None:
    now = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
    limits = Limits.at(now, reads_days=30, alert_days=365)
    assert limits.reads_before == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    days = [date(2026, 2, 27), date(2026, 2, 28), date(2026, 3, 1), date(2026, 3, 2)]
    # 1 March still holds reads younger than 30 days (after 12:00): it stays.
    assert expired_days(days, limits) == [date(2026, 2, 27), date(2026, 2, 28)]


def test_alert_reads_are_never_kept_shorter_than_reads() -> None:
    now = datetime(2026, 3, 31, tzinfo=UTC)
    with pytest.raises(ValueError, match="reads_days <= alert_days"):
        Limits.at(now, reads_days=30, alert_days=7)
    with pytest.raises(ValueError, match="1 <= reads_days"):
        Limits.at(now, reads_days=0, alert_days=7)
