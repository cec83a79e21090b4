"""The on-disk dedupe state while its file cannot be written (issue 17): nothing raised, the
marks and restored records seen from memory, the outage reported once, the writes resumed
with backoff once the disk has room, nothing lost; the router held back only past the
backlog; a file broken for good started afresh. The files fail for real
(``tests.tables.full_file``), not mocked."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

import tables.dedupe.disk
from streams.outages import OUTAGES
from streams.retry import Abandoned, Backoff
from tables.dedupe import DiskSeenEvents, SeenEvent, encode_entry, encode_key
from tables.dedupe.writer import COMPONENT
from tests.tables.full_file import corrupt, fill_up, make_room

MARKS = {f"id-{n}": SeenEvent(float(n), n % 2, n) for n in range(2000)}


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


def test_marks_a_full_file_cannot_take_stay_seen_and_are_written_once_it_can(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "seen.sqlite3"
    seen = DiskSeenEvents(path, "changelog", cache_entries=0, backoff=Backoff(0, 0))
    fill_up(seen)
    with caplog.at_level(logging.WARNING):
        seen.written(MARKS, {0: 1998, 1: 1999})  # raises nothing
        seen.flush()
        seen.flush()  # tried again, failed again
    assert seen.failing and OUTAGES.is_down(COMPONENT)
    assert "database or disk is full" in str(OUTAGES.status()[COMPONENT]["error"])
    assert caplog.text.count("cannot be written") == 1  # once per outage, not per try
    assert all(seen.get(event_id) == entry for event_id, entry in MARKS.items())
    assert seen.expired(now=1e9, ttl_s=1) == []  # the sweep waits for the file
    make_room(seen)
    seen.flush()
    assert not seen.failing and not OUTAGES.is_down(COMPONENT)
    seen.close()
    again = DiskSeenEvents(path, "changelog")
    assert dict(again) == MARKS and again.positions == {0: 1999, 1: 2000}
    again.close()


def test_records_restored_while_the_file_is_full_wait_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "seen.sqlite3"
    seen = DiskSeenEvents(path, "changelog", backoff=Backoff(0, 0))
    fill_up(seen)
    seen.written(MARKS, {0: 1998, 1: 1999})
    seen.flush()
    assert seen.failing
    seen.apply(0, 1999, encode_key("restored"), encode_entry(SeenEvent(5.0, 0, 7)))
    seen.apply(1, 2000, encode_key("id-1"), None)  # a tombstone read back
    seen.flush()  # kept: the file still cannot be written
    assert seen.get("restored") == SeenEvent(5.0, 0, 7) and seen.get("id-1") is None
    make_room(seen)
    seen.flush()
    seen.close()
    again = DiskSeenEvents(path, "changelog")
    expected = {k: v for k, v in MARKS.items() if k != "id-1"} | {"restored": SeenEvent(5.0, 0, 7)}
    assert dict(again) == expected and again.positions == {0: 2000, 1: 2001}
    again.close()


def test_a_mark_over_a_restored_record_not_stored_wins(tmp_path: Path) -> None:
    seen = DiskSeenEvents(tmp_path / "seen.sqlite3", "changelog", backoff=Backoff(0, 0))
    fill_up(seen)
    seen.written(MARKS, {0: 1998, 1: 1999})
    seen.flush()
    seen.apply(0, 1999, encode_key("again"), encode_entry(SeenEvent(1.0, 0, 7)))
    seen.flush()
    seen.written({"again": SeenEvent(9.0, 0, 3000)}, {0: 3000})  # seen anew since
    assert seen.get("again") == SeenEvent(9.0, 0, 3000)
    make_room(seen)
    seen.flush()
    assert dict(seen)["again"] == SeenEvent(9.0, 0, 3000)
    seen.close()


async def test_under_the_event_loop_writes_resume_by_themselves(tmp_path: Path) -> None:
    path = tmp_path / "seen.sqlite3"
    seen = DiskSeenEvents(path, "changelog", backoff=Backoff(0.01, 0.05))
    fill_up(seen)
    seen.written(MARKS, {0: 1998, 1: 1999})
    await asyncio.sleep(0.2)  # tried a few times, with backoff
    assert seen.failing and seen._writer.failures >= 2
    make_room(seen)
    await wait_until(lambda: not seen.failing)  # no further put or flush needed
    seen.close()
    again = DiskSeenEvents(path, "changelog")
    assert len(again) == len(MARKS)
    again.close()


async def test_past_the_backlog_the_caller_waits_for_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tables.dedupe.disk, "WRITE_BACKLOG", 100)
    seen = DiskSeenEvents(tmp_path / "seen.sqlite3", "changelog", backoff=Backoff(0.01, 0.05))
    fill_up(seen)
    seen.written(MARKS, {0: 1998, 1: 1999})  # returns: the wait is the caller's to await
    room = asyncio.ensure_future(seen.room())
    await asyncio.sleep(0.2)
    assert not room.done()  # held back, neither dropped nor raised
    make_room(seen)
    await asyncio.wait_for(room, 5)
    assert not seen.failing
    seen.close()


async def test_a_stopping_worker_gives_the_wait_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tables.dedupe.disk, "WRITE_BACKLOG", 100)
    stopping = False
    backoff = Backoff(0.01, 0.05, stopping=lambda: stopping)
    seen = DiskSeenEvents(tmp_path / "seen.sqlite3", "changelog", backoff=backoff)
    fill_up(seen)
    seen.written(MARKS, {0: 1998, 1: 1999})
    room = asyncio.ensure_future(seen.room())
    await asyncio.sleep(0.05)
    stopping = True
    with pytest.raises(Abandoned):
        await asyncio.wait_for(room, 5)
    seen.close()  # the marks not in the file are the changelog's: nothing raised
    assert not OUTAGES.is_down(COMPONENT)


async def test_a_file_broken_for_good_is_started_afresh_and_its_partitions_restored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "seen.sqlite3"
    corrupt(path)
    seen = DiskSeenEvents(path, "changelog", backoff=Backoff(0, 0))
    assert seen.positions == {0: 2, 1: 2}  # it still reads
    seen.written({"new": SeenEvent(1.0, 0, 5)}, {0: 5})  # raises nothing
    await wait_until(lambda: seen._writer.broken)
    await seen.room()
    assert "cannot be written for good: started afresh" in caplog.text
    assert seen.lost == {0, 1} and seen.positions == {} and len(seen) == 0
    seen.written({"after": SeenEvent(2.0, 1, 6)}, {1: 6})
    seen.flush()
    assert not seen.failing and dict(seen) == {"after": SeenEvent(2.0, 1, 6)}
    seen.close()
