"""Writing the router's marks to the dedupe state's file in a thread of its own.

A batch's marks are inserted at random places of the file's B-tree (event ids are random):
on this 2-core machine, with 1 M ids, that cost 20 to 90 us per mark on the event loop,
against 1 to 2 us for the whole lookup and write in a dict, and stalled every agent of the
worker meanwhile. SQLite leaves the GIL while it works, so a thread writes while the loop
routes the next batch; a second connection reads meanwhile (WAL: readers never wait for the
writer). One batch is written at a time; the marks not yet in the file stay visible through
:meth:`BackgroundWriter.get`, and once more than ``limit`` of them wait, the caller waits for
the file, so memory stays bounded when the disk cannot keep up.

A write that fails (disk full, I/O error, file locked for longer than the busy timeout) is
an outage of the file, never an error of the caller (issue 17): its entries stay queued and
visible, the write is tried again after the project's backoff (:class:`streams.retry.Backoff`),
and the outage is logged once and reported in ``streams.outages`` (metric, ``/health``) as
:data:`COMPONENT` until a write succeeds. The marks are in the changelog already, so even
a file that never comes back loses nothing: a restart restores them from there.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait

from streams.outages import OUTAGES
from streams.retry import Abandoned, Backoff

log = logging.getLogger(__name__)

#: An entry as stored: ``(seen_at, partition, offset)``.
Row = tuple[float, int, int]

#: Writes ``rows`` and the ``positions`` they reach in one transaction (in the thread).
Write = Callable[[sqlite3.Connection, Mapping[str, Row], Mapping[int, int]], None]

#: The component an outage of the file is reported as (``streams.outages``).
COMPONENT = "dedupe_file"

#: SQLite's result codes of a file no wait will make writable again (it is not a database).
BROKEN = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})


class BackgroundWriter:
    """Writes batches of entries with ``write`` on ``db``, a connection used by no other
    thread, waiting ``backoff``'s pauses after a failed write; see the module's notes."""

    def __init__(
        self, db: sqlite3.Connection, write: Write, limit: int, backoff: Backoff | None = None
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self._db = db
        self._write = write
        self._limit = limit
        self._backoff = backoff or Backoff()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="dedupe-writer")
        #: Entries and positions waiting for the next write, and those of the write running.
        self._queued: dict[str, Row] = {}
        self._queued_positions: dict[int, int] = {}
        self._writing: dict[str, Row] = {}
        self._writing_positions: dict[int, int] = {}
        self._running: Future[None] | None = None
        #: Writes failed in a row (0: the file is written), since when, and the next try.
        self.failures = 0
        self._failing_since = 0.0
        #: Whether the last write failed for good (:data:`BROKEN`): the file is to be replaced.
        self.broken = False
        self._closed = False
        self._retry_at = 0.0

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

    @property
    def failing(self) -> bool:
        """Whether the last write failed (the file is down: writes are being retried)."""
        return self.failures > 0

    def put(self, rows: Mapping[str, Row], positions: Mapping[int, int]) -> None:
        """Write ``rows`` and ``positions`` soon. While the file is written, waits only while
        more than ``limit`` entries are not in it; while it fails, never (see :meth:`room`)."""
        self._queued.update(rows)
        _merge(self._queued_positions, positions)
        self._advance()
        if self.waiting > self._limit and not self.failing:
            self.drain()

    def drain(self) -> None:
        """Return once every entry put is in the file, or once a write fails (its entries
        stay queued, tried again after a pause: see :attr:`failing`). While the file fails,
        a write is tried here only once the pause is over."""
        self._advance()
        while self._running is not None:
            wait([self._running])
            failures = self.failures
            self._advance()
            if self.failures > failures:
                return

    async def room(self) -> None:
        """Return once at most ``limit`` entries wait for the file: at once while it keeps up,
        once it is back while it fails. Raises ``Abandoned`` if ``backoff`` says the process
        is stopping meanwhile."""
        stopping = self._backoff.stopping
        while self.waiting > self._limit and not self.broken:
            if stopping is not None and stopping():
                raise Abandoned("stopping: the marks not in the file are in the changelog")
            self._advance()
            if self._running is not None:
                await asyncio.wait([asyncio.wrap_future(self._running)])  # a failure: not ours
            else:
                await asyncio.sleep(max(0.0, self._retry_at - time.monotonic()))

    def close(self) -> None:
        """Write what is left, stop the thread and close its connection. Entries the file
        cannot take are left to the changelog (the file's positions do not cover them)."""
        try:
            self.drain()
            if self.failing:
                log.warning(
                    "dedupe state file closed with %d entries not written: the changelog "
                    "keeps them",
                    self.waiting,
                )
        finally:
            self._closed = True
            OUTAGES.up(COMPONENT)
            self._executor.shutdown()
            self._db.close()

    def _advance(self) -> None:
        """Collect a finished write, then start writing what is queued (once the pause
        after a failed write is over)."""
        running = self._running
        if self._closed:
            return  # a pause's timer that rang after the close
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
                self._failed(failure)
                return
            self._recovered()
        if not self._queued and not self._queued_positions:
            return
        if self.failing and time.monotonic() < self._retry_at:
            return  # the pause's timer (or the next put) tries again
        rows, positions = self._queued, self._queued_positions
        self._queued, self._queued_positions = {}, {}
        self._writing, self._writing_positions = rows, positions
        self._running = self._executor.submit(self._write, self._db, rows, positions)
        loop = _running_loop()
        if loop is not None:
            # Once done, what was queued meanwhile goes without waiting for another put.
            self._running.add_done_callback(lambda _: loop.call_soon_threadsafe(self._advance))

    def _failed(self, failure: BaseException) -> None:
        if not self.failing:  # once per outage: the metric counts the retries
            self._failing_since = time.monotonic()
            log.warning(
                "dedupe state file cannot be written (%r): its marks wait in memory (the router "
                "waits beyond %d) and the write is tried again with backoff",
                failure,
                self._limit,
            )
        self.broken = is_broken(failure)
        pause = self._backoff.delay(self.failures)
        self.failures += 1
        self._retry_at = time.monotonic() + pause
        OUTAGES.down(COMPONENT, failure)
        loop = _running_loop()
        if loop is not None:
            loop.call_later(pause, self._advance)

    def _recovered(self) -> None:
        if not self.failing:
            return
        log.warning(
            "dedupe state file written again after %d failed writes in %.1fs",
            self.failures,
            time.monotonic() - self._failing_since,
        )
        self.failures = 0
        OUTAGES.up(COMPONENT)


def is_broken(error: BaseException) -> bool:
    """Whether ``error`` says the file can never be written again (:data:`BROKEN`)."""
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in BROKEN


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None  # no loop: the next put or drain collects and starts writes


def _merge(positions: dict[int, int], more: Mapping[int, int]) -> None:
    for partition, offset in more.items():
        positions[partition] = max(positions.get(partition, 0), offset)
