"""The on-disk dedupe state (``tables.dedupe.disk``): what a restart keeps, when the file is
started afresh, bounded memory, exact expiry, and the ids it stores compactly."""

from __future__ import annotations

import logging
import multiprocessing
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from config.router import RouterSettings
from tables.dedupe import (
    DiskSeenEvents,
    MemorySeenEvents,
    SeenEvent,
    encode_entry,
    encode_key,
    open_seen_events,
)
from tables.dedupe.disk import RESTORE_CHUNK, event_id_of, stored_key

UUID = "0f9c6f3e-2d1a-4b5c-8e7f-123456789abc"


def test_a_reopened_file_keeps_entries_and_positions(tmp_path: Path) -> None:
    path = tmp_path / "seen.sqlite3"
    seen = DiskSeenEvents(path, "changelog")
    seen.apply(2, 40, encode_key("restored"), encode_entry(SeenEvent(5.0, 2, 1)))
    seen.flush()
    seen.written({UUID: SeenEvent(7.0, 3, 8)}, {3: 11})
    seen.close()

    again = DiskSeenEvents(path, "changelog")
    assert dict(again) == {"restored": SeenEvent(5.0, 2, 1), UUID: SeenEvent(7.0, 3, 8)}
    assert again.positions == {2: 41, 3: 12}  # a restore reads on from there
    again.close()


def test_records_applied_but_not_flushed_are_not_in_the_file(tmp_path: Path) -> None:
    """Entries and positions go to the file together: a crash before a flush leaves the
    position behind the records, which the next restore reads again."""
    path = tmp_path / "seen.sqlite3"
    seen = DiskSeenEvents(path, "changelog")
    seen.apply(0, 0, b'"a"', encode_entry(SeenEvent(5.0, 0, 1)))
    seen.flush()
    seen.apply(0, 1, b'"b"', encode_entry(SeenEvent(5.0, 0, 2)))
    with sqlite3.connect(path) as db:  # the file as another reader sees it now
        assert db.execute("SELECT part, next_offset FROM positions").fetchall() == [(0, 1)]
        assert db.execute("SELECT count(*) FROM seen").fetchone() == (1,)
    seen.close()


def test_a_long_restore_is_stored_in_chunks(tmp_path: Path) -> None:
    seen = DiskSeenEvents(tmp_path / "seen.sqlite3", "changelog", cache_entries=10)
    count = RESTORE_CHUNK + 5
    for n in range(count):
        seen.apply(n % 3, n, encode_key(f"id-{n}"), encode_entry(SeenEvent(float(n), n % 3, n)))
    seen.flush()
    assert len(seen) == count
    assert seen.get("id-7") == SeenEvent(7.0, 1, 7)
    seen.close()


def test_a_file_of_another_changelog_is_started_afresh(tmp_path: Path) -> None:
    path = tmp_path / "seen.sqlite3"
    seen = DiskSeenEvents(path, "old-changelog")
    seen.written({"a": SeenEvent(1.0, 0)}, {0: 3})
    seen.close()
    fresh = DiskSeenEvents(path, "new-changelog")
    assert len(fresh) == 0 and fresh.positions == {}
    fresh.close()


def test_a_file_that_is_not_a_database_is_started_afresh(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "seen.sqlite3"
    path.write_bytes(b"this is not an SQLite file" * 200)
    with caplog.at_level(logging.WARNING):
        seen = DiskSeenEvents(path, "changelog")
    assert "is started afresh and restored in full: it cannot be read" in caplog.text
    seen.written({"a": SeenEvent(1.0, 0)}, {0: 0})
    assert dict(seen) == {"a": SeenEvent(1.0, 0)} and seen.positions == {0: 1}
    seen.close()


def _hold_for_a_moment(path: str, ready: Any) -> None:
    seen = DiskSeenEvents(Path(path), "changelog")
    seen.written({"held": SeenEvent(1.0, 0)}, {0: 0})
    ready.set()
    multiprocessing.Event().wait(3)  # the parent checks meanwhile
    seen.close()


def test_a_file_held_by_another_process_is_left_to_it(tmp_path: Path) -> None:
    path = tmp_path / "seen.sqlite3"
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    holder = context.Process(target=_hold_for_a_moment, args=(str(path), ready))
    holder.start()
    try:
        assert ready.wait(30)
        seen = DiskSeenEvents(path, "changelog")
        assert seen.private and seen.path != path  # a private temporary file instead
        assert len(seen) == 0 and seen.positions == {}
        seen.written({"mine": SeenEvent(2.0, 1)}, {1: 0})
        assert dict(seen) == {"mine": SeenEvent(2.0, 1)}
        seen.close()
        assert not seen.path.exists()  # removed with its directory
    finally:
        holder.join(30)
    assert set(DiskSeenEvents(path, "changelog")) == {"held"}  # untouched by the second


def test_a_closed_state_releases_its_file(tmp_path: Path) -> None:
    path = tmp_path / "seen.sqlite3"
    DiskSeenEvents(path, "changelog").close()
    again = DiskSeenEvents(path, "changelog")
    assert again.path == path and not again.private
    again.close()


def test_the_cache_of_recent_entries_stays_within_its_size(tmp_path: Path) -> None:
    seen = DiskSeenEvents(tmp_path / "seen.sqlite3", "changelog", cache_entries=100)
    for batch in range(20):
        seen.written({f"id-{batch}-{n}": SeenEvent(1.0, 0, n) for n in range(50)}, {0: batch})
        seen.get(f"id-0-{batch}")  # looked-up entries are cached too
    assert seen.cached <= 100
    assert len(seen) == 1000 and seen.get("id-0-0") == SeenEvent(1.0, 0, 0)
    seen.forget(["id-19-49"])
    assert seen.get("id-19-49") is None  # not served from the cache after it was forgotten
    seen.close()


def test_expiry_finds_every_expired_entry_whatever_the_order_taken_in(tmp_path: Path) -> None:
    seen = DiskSeenEvents(tmp_path / "seen.sqlite3", "changelog")
    seen.written({"fresh": SeenEvent(990.0, 0), "c": SeenEvent(300.0, 0)}, {})
    seen.apply(1, 5, b'"b"', encode_entry(SeenEvent(210.0, 1)))  # restored behind both
    assert seen.expired(now=1000.0, ttl_s=100.0) == [
        ("b", SeenEvent(210.0, 1)), ("c", SeenEvent(300.0, 0))
    ]  # fmt: skip
    assert seen.expired(now=1000.0, ttl_s=100.0, limit=1) == [("b", SeenEvent(210.0, 1))]
    seen.close()


def test_canonical_uuids_are_stored_as_their_bytes_and_read_back_as_text() -> None:
    assert stored_key(UUID) == bytes.fromhex(UUID.replace("-", ""))
    assert event_id_of(stored_key(UUID)) == UUID
    # Anything else is kept as it came: an upper-case UUID is another event id.
    for other in (UUID.upper(), "a", UUID.replace("-", "")):
        assert stored_key(other) == other


def test_upper_and_lower_case_uuids_are_distinct_ids(tmp_path: Path) -> None:
    seen = DiskSeenEvents(tmp_path / "seen.sqlite3", "changelog")
    seen.written({UUID: SeenEvent(1.0, 0), UUID.upper(): SeenEvent(2.0, 0)}, {})
    assert dict(seen) == {UUID: SeenEvent(1.0, 0), UUID.upper(): SeenEvent(2.0, 0)}
    seen.close()


def test_constructor_names_a_bad_argument(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cache_entries must be >= 0, got -1"):
        DiskSeenEvents(tmp_path / "a.sqlite3", "changelog", cache_entries=-1)
    with pytest.raises(ValueError, match="page_cache_mib must be >= 1, got 0"):
        DiskSeenEvents(tmp_path / "a.sqlite3", "changelog", page_cache_mib=0)


def test_the_settings_choose_the_backend_and_its_place(tmp_path: Path) -> None:
    assert isinstance(open_seen_events(RouterSettings(), tmp_path, "topic"), MemorySeenEvents)
    disk = open_seen_events(RouterSettings(dedupe_store="disk"), tmp_path, "topic")
    assert isinstance(disk, DiskSeenEvents)
    assert disk.path == tmp_path / "router-dedupe" / "topic.sqlite3"
    disk.close()
    chosen = RouterSettings(
        dedupe_store="disk", dedupe_dir=tmp_path / "elsewhere", dedupe_cache_entries=5
    )
    placed = open_seen_events(chosen, tmp_path, "topic")
    assert isinstance(placed, DiskSeenEvents)
    assert placed.path == tmp_path / "elsewhere" / "topic.sqlite3"
    placed.close()


@pytest.mark.parametrize(
    "field, value",
    [
        ("dedupe_store", "rocksdb"),
        ("dedupe_cache_entries", -1),
        ("dedupe_cache_entries", 5_000_001),
        ("dedupe_page_cache_mib", 0),
    ],
)
def test_dedupe_settings_out_of_bounds_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        RouterSettings.model_validate({field: value})


def test_a_restored_record_overrides_a_mark_not_in_the_file_yet(tmp_path: Path) -> None:
    """A partition given up and taken back: its new owner's records, restored, are newer
    than this worker's marks of it still on their way to the file."""
    seen = DiskSeenEvents(tmp_path / "seen.sqlite3", "changelog")
    seen.written({UUID: SeenEvent(1.0, 0, 1), "b": SeenEvent(1.0, 0, 2)}, {0: 1})
    seen.apply(0, 2, encode_key(UUID), None)  # the new owner swept it
    seen.apply(0, 3, b'"b"', encode_entry(SeenEvent(9.0, 0, 7)))
    assert seen.get(UUID) is None and seen.get("b") == SeenEvent(9.0, 0, 7)
    seen.flush()
    assert dict(seen) == {"b": SeenEvent(9.0, 0, 7)} and seen.positions == {0: 4}
    seen.close()
