"""An alert to notify about."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from streams.alert import Alert


def make_alert(alert_id: str = "a1", actions: list[dict[str, Any]] | None = None) -> Alert:
    return Alert(
        alert_id=alert_id, rule="stolen", rule_type="watchlist", severity="critical",
        subject="AB123CD", event_ids=["ev-1"], camera_id="gate-in", site_id="depot",
        triggered_at=datetime(2026, 11, 25, 3, 4, 5, tzinfo=UTC),
        raised_at=datetime(2026, 11, 25, 3, 4, 6, tzinfo=UTC),
        message="AB123CD on watch list stolen", plate="AB123CD", crop_key="crops/ev-1.jpg",
        actions=actions or [],
    )  # fmt: skip


@pytest.fixture
def alert() -> Alert:
    return make_alert()
