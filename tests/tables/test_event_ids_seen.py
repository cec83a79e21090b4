"""The dedupe state: what counts as seen, its changelog format, and restoring from it, for
each backend (``memory`` and ``disk``); the on-disk state's own guarantees are in
test_seen_on_disk.py."""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tables.dedupe import (
    BatchView,
    DiskSeenEvents,
    MemorySeenEvents,
    SeenEvent,
    SeenEvents,
    decode_entry,
    encode_entry,
    encode_key,
    is_fresh,
)

UUID = "0f9c6f3e-2d1a-4b5c-8e7f-123456789abc"


@pytest.fixture(params=["memory", "disk"])
def seen(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SeenEvents]:
    state: SeenEvents = (
        MemorySeenEvents()
        if request.param == "memory"
        else DiskSeenEvents(tmp_path / "seen.sqlite3", "changelog")
    )
    yield state
    state.close()


def test_freshness_is_bounded_by_the_ttl() -> None:
    entry = SeenEvent(seen_at=1000.0, partition=3)
    assert is_fresh(entry, now=1000.0, ttl_s=60)
    assert is_fresh(entry, now=1059.9, ttl_s=60)
    assert not is_fresh(entry, now=1060.0, ttl_s=60)
    assert not is_fresh(None, now=1000.0, ttl_s=60)


def test_changelog_format_is_the_faust_tables() -> None:
    """Keys are JSON strings, values the record's fields: what the Faust table wrote."""
    entry = SeenEvent(seen_at=12.5, partition=4, offset=99)
    assert encode_key("e-1") == b'"e-1"'
    assert json.loads(encode_entry(entry)) == {"seen_at": 12.5, "partition": 4, "offset": 99}
    # Entries the table wrote before offsets were kept have none.
    assert decode_entry(b'{"seen_at": 1.0, "partition": 2}') == SeenEvent(1.0, 2, -1)


def test_restore_applies_entries_and_tombstones_and_skips_malformed_records(
    seen: SeenEvents,
) -> None:
    seen.apply(1, 0, b'"a"', encode_entry(SeenEvent(5.0, 1, 10)))
    seen.apply(1, 1, b'"b"', encode_entry(SeenEvent(6.0, 1, 11)))
    seen.apply(1, 2, b'"a"', None)
    seen.apply(1, 3, b"not json", b"{}")
    seen.apply(1, 4, b'"c"', b'{"partition": 1}')
    seen.flush()
    assert dict(seen) == {"b": SeenEvent(6.0, 1, 11)}
    assert seen.malformed == 2
    assert seen.positions == {1: 5}


def test_restored_entries_are_seen_before_they_are_flushed(seen: SeenEvents) -> None:
    seen.apply(0, 0, encode_key(UUID), encode_entry(SeenEvent(5.0, 0, 1)))
    seen.apply(0, 1, b'"gone"', encode_entry(SeenEvent(5.0, 0, 2)))
    seen.apply(0, 2, b'"gone"', None)
    assert seen.get(UUID) == SeenEvent(5.0, 0, 1)
    assert seen.get("gone") is None


def test_written_marks_move_the_position_past_them(seen: SeenEvents) -> None:
    seen.apply(0, 3, b'"a"', encode_entry(SeenEvent(1.0, 0)))
    seen.written({"b": SeenEvent(2.0, 0, 7), "c": SeenEvent(2.0, 2, 1)}, {0: 9, 2: 0})
    assert set(seen) == {"a", "b", "c"}
    assert seen.positions == {0: 10, 2: 1}


def test_a_re_marked_event_keeps_its_latest_entry(seen: SeenEvents) -> None:
    seen.written({UUID: SeenEvent(1.0, 0, 1)}, {})
    seen.written({UUID: SeenEvent(2.0, 3, 9)}, {})
    assert seen[UUID] == SeenEvent(2.0, 3, 9) and len(seen) == 1
    with pytest.raises(KeyError):
        seen["absent"]


def test_expired_lists_only_entries_past_the_ttl(seen: SeenEvents) -> None:
    seen.written({"old": SeenEvent(100.0, 0), "new": SeenEvent(950.0, 0)}, {})
    assert seen.expired(now=1000.0, ttl_s=100.0) == [("old", SeenEvent(100.0, 0))]
    assert seen.expired(now=1000.0, ttl_s=100.0, limit=0) == []


def test_forget_removes_entries_and_ignores_absent_ones(seen: SeenEvents) -> None:
    seen.written({UUID: SeenEvent(1.0, 0), "b": SeenEvent(2.0, 0)}, {})
    seen.forget([UUID, "never-seen"])
    assert dict(seen) == {"b": SeenEvent(2.0, 0)} and seen.get(UUID) is None


def test_forgetting_a_partition_drops_its_entries_and_position(seen: SeenEvents) -> None:
    seen.written({"a": SeenEvent(1.0, 0, 1), "b": SeenEvent(1.0, 1, 1)}, {0: 4, 1: 6})
    seen.forget_partition(1)
    assert dict(seen) == {"a": SeenEvent(1.0, 0, 1)}
    assert seen.positions == {0: 5}


def test_memory_expiry_reads_from_the_oldest_taken_in_and_stops_at_the_first_fresh() -> None:
    seen = MemorySeenEvents()
    seen.written({"a": SeenEvent(100.0, 0), "b": SeenEvent(200.0, 1), "c": SeenEvent(300.0, 0)}, {})
    seen.written({"a": SeenEvent(990.0, 0)}, {})  # re-marked: moves behind the others
    seen.apply(1, 5, b'"b"', encode_entry(SeenEvent(210.0, 1)))  # restored again: likewise
    assert list(seen) == ["c", "a", "b"]
    assert seen.expired(now=1000.0, ttl_s=100.0) == [("c", SeenEvent(300.0, 0))]
    seen.forget(["c"])
    assert seen.expired(now=1100.0, ttl_s=50.0) == [
        ("a", SeenEvent(990.0, 0)), ("b", SeenEvent(210.0, 1))
    ]  # fmt: skip
    assert seen.expired(now=1100.0, ttl_s=50.0, limit=1) == [("a", SeenEvent(990.0, 0))]


def test_memory_entries_leave_the_garbage_collectors_watch() -> None:
    # A full collection walks every tracked object: millions of entries would stall the loop.
    seen = MemorySeenEvents()
    seen.apply(0, 0, b'"a"', encode_entry(SeenEvent(5.0, 0, 10)))
    seen.written({"b": SeenEvent(time.time(), 0, 11)}, {})
    gc.collect()
    assert not any(gc.is_tracked(entry) for entry in seen.data.values())


async def test_a_batch_sees_its_own_marks_over_the_stored_entries(seen: SeenEvents) -> None:
    seen.written({"a": SeenEvent(1.0, 0)}, {})
    view = BatchView(seen)
    await view.mark("b", SeenEvent(2.0, 0))
    await view.mark("a", SeenEvent(3.0, 0))
    assert view.get("a") == SeenEvent(3.0, 0) and view.get("b") == SeenEvent(2.0, 0)
    assert view.get("c") is None and view["a"] == SeenEvent(3.0, 0)
    assert set(view) == {"a", "b"} and len(view) == 2
    assert "b" not in seen  # stored only once the changelog has it
