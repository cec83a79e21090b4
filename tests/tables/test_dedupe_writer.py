"""The dedupe state's background writer (``tables.dedupe.writer``): entries visible before
they are in the file, one write at a time, bounded backlog, failures reported and retried
with backoff, never raised."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator, Mapping

import pytest

from streams.outages import OUTAGES
from streams.retry import Backoff
from tables.dedupe.writer import COMPONENT, BackgroundWriter, Row


class Table:
    """A real SQLite table the writer writes to; ``gate`` holds writes back while clear,
    ``fail`` makes the next write fail."""

    def __init__(self) -> None:
        self.db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self.db.execute("CREATE TABLE seen (event_id TEXT PRIMARY KEY, seen_at REAL)")
        self.db.execute("CREATE TABLE positions (part INTEGER PRIMARY KEY, next_offset INTEGER)")
        self.gate = threading.Event()
        self.gate.set()
        self.fail = False
        self.writes = 0

    def write(
        self, db: sqlite3.Connection, rows: Mapping[str, Row], positions: Mapping[int, int]
    ) -> None:
        assert self.gate.wait(10)
        if self.fail:
            self.fail = False
            raise sqlite3.OperationalError("disk I/O error")
        db.executemany(
            "INSERT OR REPLACE INTO seen VALUES (?, ?)", [(k, r[0]) for k, r in rows.items()]
        )
        db.executemany("INSERT OR REPLACE INTO positions VALUES (?, ?)", positions.items())
        self.writes += 1

    def stored(self) -> dict[str, float]:
        return dict(self.db.execute("SELECT event_id, seen_at FROM seen").fetchall())

    def positions(self) -> dict[int, int]:
        return dict(self.db.execute("SELECT part, next_offset FROM positions").fetchall())


@pytest.fixture
def table() -> Iterator[Table]:
    table = Table()
    yield table
    table.gate.set()


def test_entries_are_seen_before_they_are_in_the_file_and_stored_after_a_drain(
    table: Table,
) -> None:
    writer = BackgroundWriter(table.db, table.write, limit=100)
    table.gate.clear()
    writer.put({"a": (1.0, 0, 1)}, {0: 2})  # its write waits at the gate
    writer.put({"b": (2.0, 1, 1)}, {1: 2})  # queued behind it
    assert writer.get("a") == (1.0, 0, 1) and writer.get("b") == (2.0, 1, 1)
    assert writer.get("c") is None and writer.waiting == 2
    assert table.stored() == {}
    table.gate.set()
    writer.drain()
    assert table.stored() == {"a": 1.0, "b": 2.0}
    assert table.positions() == {0: 2, 1: 2}
    assert writer.waiting == 0 and writer.get("a") is None
    assert table.writes == 2  # one write at a time: what was queued went in the second


def test_a_failed_write_is_reported_and_its_entries_go_with_the_next_try(
    table: Table, caplog: pytest.LogCaptureFixture
) -> None:
    writer = BackgroundWriter(table.db, table.write, limit=100, backoff=Backoff(0, 0))
    table.fail = True
    writer.put({"a": (1.0, 0, 1)}, {0: 2})
    writer.drain()  # returns: the write failed, nothing is raised
    assert writer.failing and OUTAGES.is_down(COMPONENT)
    assert writer.get("a") == (1.0, 0, 1)  # still seen: not lost
    writer.drain()  # the pause (none here) is over: tried again
    assert table.stored() == {"a": 1.0} and table.positions() == {0: 2}
    assert not writer.failing and not OUTAGES.is_down(COMPONENT)
    assert caplog.text.count("cannot be written") == 1
    assert "written again after 1 failed writes" in caplog.text


def test_a_newer_entry_queued_meanwhile_wins_over_a_failed_write(table: Table) -> None:
    writer = BackgroundWriter(table.db, table.write, limit=100, backoff=Backoff(0, 0))
    table.gate.clear()
    table.fail = True
    writer.put({"a": (1.0, 0, 1)}, {0: 2})
    writer.put({"a": (5.0, 0, 9)}, {0: 10})
    table.gate.set()
    writer.drain()
    assert writer.failing
    writer.drain()
    assert table.stored() == {"a": 5.0} and table.positions() == {0: 10}


def test_a_failed_write_is_tried_again_only_after_the_backoff_pause(table: Table) -> None:
    writer = BackgroundWriter(table.db, table.write, limit=100, backoff=Backoff(60, 60))
    table.fail = True
    writer.put({"a": (1.0, 0, 1)}, {})
    writer.drain()
    writer.drain()  # within the pause: not tried
    assert writer.failing and table.stored() == {} and writer.waiting == 1
    writer.close()  # closes without raising: the changelog has the entry


def test_more_than_the_limit_waiting_makes_the_caller_wait_for_the_file(table: Table) -> None:
    writer = BackgroundWriter(table.db, table.write, limit=10)
    table.gate.clear()
    writer.put({f"a{n}": (1.0, 0, n) for n in range(5)}, {})
    assert writer.waiting == 5  # returned at once: within the limit
    opener = threading.Timer(0.2, table.gate.set)
    opener.start()
    writer.put({f"b{n}": (1.0, 0, n) for n in range(8)}, {})  # 13 waiting: waits
    assert writer.waiting == 0 and len(table.stored()) == 13
    opener.join()


async def test_under_an_event_loop_what_was_queued_goes_once_the_write_ends(
    table: Table,
) -> None:
    writer = BackgroundWriter(table.db, table.write, limit=100)
    table.gate.clear()
    writer.put({"a": (1.0, 0, 1)}, {})
    writer.put({"b": (1.0, 0, 2)}, {})  # queued; no further put or drain comes
    table.gate.set()
    for _ in range(200):
        if writer.waiting == 0:
            break
        await asyncio.sleep(0.01)
    assert table.stored() == {"a": 1.0, "b": 1.0}


def test_limit_must_be_positive(table: Table) -> None:
    with pytest.raises(ValueError, match="limit must be >= 1, got 0"):
        BackgroundWriter(table.db, table.write, limit=0)
