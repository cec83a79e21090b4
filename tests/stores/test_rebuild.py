"""Where a rebuild cuts: at the start of the ``since`` day (UTC), or nowhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from stores.rebuild import cut_of


def test_the_cut_is_utc_midnight_of_the_since_day() -> None:
    assert cut_of(None) is None
    since = datetime(2026, 5, 2, 1, 30, tzinfo=timezone(timedelta(hours=3)))
    assert cut_of(since) == datetime(2026, 5, 1, tzinfo=UTC)
    assert cut_of(datetime(2026, 5, 2, 23, 59, tzinfo=UTC)) == datetime(2026, 5, 2, tzinfo=UTC)


def test_a_naive_since_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        cut_of(datetime(2026, 5, 2))
