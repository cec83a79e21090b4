"""Writing the router's marks to the dedupe state's file in a thread of its own.

A batch's marks are inserted at random places of the file's B-tree (event ids are random):
on this 2-core machine, with 1 M ids, that cost 20 to 90 us per mark on the event loop,
against 1 to 2 us for the whole lookup and write in a dict, and stalled every agent of the
worker meanwhile. SQLite leaves the GIL while it works, so a thread writes while the loop
routes the next batch; a second connection reads meanwhile (WAL: readers never wait for the
writer). One batch is written at a time; the marks not yet in the file stay visible through
:meth:`BackgroundWriter.get`, and once more than ``limit`` of them wait, the caller waits for
the write in progress, so memory stays bounded when the disk cannot keep up.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait

#: An entry as stored: ``(seen_at, partition, offset)``.
Row = tuple[float, int, int]

#: Writes ``rows`` and the ``positions`` they reach in one transaction (in the thread).
Write = Callable[[sqlite3.Connection, Mapping[str, Row], Mapping[int, int]], None]


class BackgroundWriter:
    """Writes batches of entries with ``write`` on ``db``, a connection used by no other
    thread; see the module's notes."""

    def __init__(self, db: sqlite3.Connection, write: Write, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self._db = db
        self._write = write
        self._limit = limit
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="dedupe-writer")
        #: Entries and positions waiting for the next write, and those of the write running.
        self._queued: dict[str, Row] = {}
        self._queued_positions: dict[int, int] = {}
        self._writing: dict[str, Row] = {}
        self._writing_positions: dict[int, int] = {}
        self._running: Future[None] | None = None
        self._failure: BaseException | None = None

    def get(self, event_id: str) -> Row | None:
        """The entry of ``event_id`` not in the file yet, if any."""
        found = self._queued.get(event_id)
        if found is None and self._writing:
            found = self._writing.get(event_id)
        return found

    @property
    def waiting(self) -> int:
        """Entries not in the file yet."""
        return len(self._queued) + len(self._writing)

    def put(self, rows: Mapping[str, Row], positions: Mapping[int, int]) -> None:
        """Write ``rows`` and ``positions`` soon; waits only while more than ``limit``
        entries are not in the file. Raises the error of a write that failed (its entries
        are written again with the next one)."""
        self._queued.update(rows)
        _merge(self._queued_positions, positions)
        self._advance()
        self._raise_failure()
        if self.waiting > self._limit:
            self.drain()

    def drain(self) -> None:
        """Return once every entry put is in the file (or raise why one is not)."""
        while self._running is not None or self._queued or self._queued_positions:
            if self._running is not None:
                wait([self._running])
            self._advance()
            self._raise_failure()

    def close(self) -> None:
        """Write what is left, stop the thread and close its connection."""
        try:
            self.drain()
        finally:
            self._executor.shutdown()
            self._db.close()

    def _raise_failure(self) -> None:
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    def _advance(self) -> None:
        """Collect a finished write, then start writing what is queued."""
        running = self._running
        if running is not None:
            if not running.done():
                return
            written, positions = self._writing, self._writing_positions
            self._running, self._writing, self._writing_positions = None, {}, {}
            failure = running.exception()
            if failure is not None:
                # Not stored: queued again, under what was queued since, for the next write.
                self._queued = {**written, **self._queued}
                _merge(self._queued_positions, positions)
                self._failure = failure
                return
        if not self._queued and not self._queued_positions:
            return
        rows, positions = self._queued, self._queued_positions
        self._queued, self._queued_positions = {}, {}
        self._writing, self._writing_positions = rows, positions
        self._running = self._executor.submit(self._write, self._db, rows, positions)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop: the next put or drain collects it
        # Once done, what was queued meanwhile goes without waiting for another put.
        self._running.add_done_callback(lambda _: loop.call_soon_threadsafe(self._advance))


def _merge(positions: dict[int, int], more: Mapping[int, int]) -> None:
    for partition, offset in more.items():
        positions[partition] = max(positions.get(partition, 0), offset)
