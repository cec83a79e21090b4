"""The dedupe table's time-to-live: what counts as seen, and what the sweep removes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tables.dedupe import SeenEvent, event_ids_seen, is_fresh, sweep_expired


@pytest.fixture(autouse=True)
def empty_table() -> Iterator[None]:
    event_ids_seen.data.clear()
    yield
    event_ids_seen.data.clear()


def test_freshness_is_bounded_by_the_ttl() -> None:
    entry = SeenEvent(seen_at=1000.0, partition=3)
    assert is_fresh(entry, now=1000.0, ttl_s=60)
    assert is_fresh(entry, now=1059.9, ttl_s=60)
    assert not is_fresh(entry, now=1060.0, ttl_s=60)
    assert not is_fresh(None, now=1000.0, ttl_s=60)


async def test_sweep_removes_expired_entries_with_tombstones_on_their_partition(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tombstones: list[tuple[Any, ...]] = []
    monkeypatch.setattr(
        event_ids_seen,
        "send_changelog",
        lambda partition, key, value, **kw: tombstones.append((partition, key, value)),
    )
    event_ids_seen.data.update(
        {
            "old-a": SeenEvent(seen_at=100.0, partition=2),
            "old-b": SeenEvent(seen_at=500.0, partition=5),
            "new": SeenEvent(seen_at=950.0, partition=2),
        }
    )
    removed = await sweep_expired(event_ids_seen, now=1000.0, ttl_s=100.0, chunk=1)
    assert removed == 2
    assert set(event_ids_seen.data) == {"new"}
    assert sorted(tombstones) == [(2, "old-a", None), (5, "old-b", None)]
