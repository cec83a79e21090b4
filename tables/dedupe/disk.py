"""Dedupe state in an SQLite file, with a small cache of recent entries in memory.

Memory stays bounded whatever the number of event ids: SQLite's page cache
(``page_cache_mib`` for each of the two connections, the loop's reader and the background
writer's, :mod:`tables.dedupe.writer`), the cache of recent entries (``cache_entries``, about
200 B each) and the marks not written yet (at most :data:`WRITE_BACKLOG`) are all it holds.
The file keeps, with the entries and in the same transactions, the changelog offset up to
which each raw partition's entries go, so a restarted worker reads only the changelog
written since; the changelog topic stays the source of truth:

- a missing file, one that cannot be read, or one written for another changelog topic or
  format (:mod:`tables.dedupe.state_file`), is started afresh and restored in full;
- a partition whose stored position lies past its changelog's end (the topic was recreated
  or truncated) is stale: the router forgets it and restores it from the beginning
  (:meth:`SeenEvents.forget_partition`);
- a file another process holds (two workers given one state directory) is left to it: this
  state then lives in a private temporary file, restored in full;
- a file that cannot be written for a while (disk full, I/O error, locked) holds its marks
  and restored records in memory, seen by lookups, and is written again once it can be
  (:mod:`tables.dedupe.writer`: backoff, the outage reported, the router held back once
  :data:`WRITE_BACKLOG` marks wait); the sweep waits for it meanwhile;
- a file that can never be written again (corrupted) is started afresh, and the router
  restores every partition it had in full (:attr:`SeenEvents.lost`).

A changelog topic recreated and written past the file's position cannot be told from the
one the file was written for: delete the state directory when the topic is recreated.

Entries are ordered by ``seen_at`` in an index, so the sweep reads exactly the expired ones.
A canonical (lowercase) UUID, the edge's event id, is stored as its 16 bytes; any other id
as text. Lookups of ids that are not cached read the file on the event loop: at 1 M ids
a lookup costs about 5 microseconds, from the OS's page cache.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from streams.failures import Unavailable
from streams.retry import Backoff
from tables.dedupe.entries import SeenEvent
from tables.dedupe.state import Change, SeenEvents
from tables.dedupe.state_file import StateFile
from tables.dedupe.writer import COMPONENT, BackgroundWriter, Row, is_broken

log = logging.getLogger(__name__)

#: Changelog records taken in per transaction while restoring.
RESTORE_CHUNK = 20_000

#: Marks not in the file yet beyond which the router waits for the file (about 200 B each).
WRITE_BACKLOG = 100_000

_GET = "SELECT seen_at, part, raw_offset FROM seen WHERE event_id = ?"
_PUT = "INSERT OR REPLACE INTO seen (event_id, seen_at, part, raw_offset) VALUES (?, ?, ?, ?)"
_DELETE = "DELETE FROM seen WHERE event_id = ?"
_EXPIRED = (
    "SELECT event_id, seen_at, part, raw_offset FROM seen WHERE seen_at <= ? "
    "ORDER BY seen_at LIMIT ?"
)
_POSITION = (
    "INSERT INTO positions (part, next_offset) VALUES (?, ?) ON CONFLICT (part) "
    "DO UPDATE SET next_offset = max(next_offset, excluded.next_offset)"
)

_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def stored_key(event_id: str) -> str | bytes:
    """The key an event id is stored under: a canonical UUID's 16 bytes, else the text."""
    if len(event_id) == 36 and _CANONICAL_UUID.fullmatch(event_id):
        return bytes.fromhex(event_id.replace("-", ""))
    return event_id


def event_id_of(key: str | bytes) -> str:
    return key if isinstance(key, str) else str(uuid.UUID(bytes=key))


def _row(entry: SeenEvent) -> Row:
    return (entry.seen_at, entry.partition, entry.offset)


class DiskSeenEvents(SeenEvents):
    """The entries in the SQLite file ``path`` (None: a private temporary file), for the
    changelog topic ``changelog``, its writes tried again after ``backoff``'s pauses while
    they fail; see the module's notes."""

    def __init__(
        self,
        path: Path | None,
        changelog: str,
        cache_entries: int = 50_000,
        page_cache_mib: int = 64,
        backoff: Backoff | None = None,
    ) -> None:
        if cache_entries < 0:
            raise ValueError(f"cache_entries must be >= 0, got {cache_entries}")
        if page_cache_mib < 1:
            raise ValueError(f"page_cache_mib must be >= 1, got {page_cache_mib}")
        self._changelog, self._page_cache_mib, self._backoff = changelog, page_cache_mib, backoff
        self._open(path)
        positions = self._db.execute("SELECT part, next_offset FROM positions").fetchall()
        super().__init__(dict(positions))
        self._cache: OrderedDict[str, Row] = OrderedDict()
        self._cache_entries = cache_entries
        #: Restored records not stored yet (None: a tombstone), and the positions they reach.
        self._pending: dict[str, Row | None] = {}
        self._pending_positions: dict[int, int] = {}

    def _open(self, path: Path | None, afresh: bool = False) -> None:
        self._file = StateFile(path, self._changelog, self._page_cache_mib, afresh)
        self.path = self._file.path
        self._db = self._file.db
        self._writer = BackgroundWriter(
            self._file.connect(), write_rows, WRITE_BACKLOG, self._backoff
        )
        self._broken = False

    def _start_afresh_if_broken(self) -> None:
        """Replace a file that can never be written again by an empty one; its partitions
        are then restored in full from the changelog (:attr:`lost`)."""
        if not (self._writer.broken or self._broken):
            return
        log.warning(
            "dedupe state %s cannot be written for good: started afresh, partitions %s "
            "are restored in full from the changelog",
            self.path,
            sorted(self.positions),
        )
        self.lost |= set(self.positions) | set(self._pending_positions)
        self._writer.close()
        self._file.close()
        self._open(None if self._file.private else self.path, afresh=True)
        self.positions.clear()
        self._cache.clear()
        self._pending, self._pending_positions = {}, {}

    def lookup(self, event_id: str) -> SeenEvent | None:
        if self._pending and event_id in self._pending:  # restored: the newest
            restored = self._pending[event_id]
            return None if restored is None else SeenEvent(*restored)
        found = self._cache.get(event_id) or self._writer.get(event_id)
        if found is None:
            found = self._read(event_id)
            if found is None:
                return None
        self._remember(event_id, found)
        return SeenEvent(*found)

    def _read(self, event_id: str) -> Row | None:
        try:
            found: Row | None = self._db.execute(_GET, (stored_key(event_id),)).fetchone()
        except sqlite3.DatabaseError as exc:  # not the event's fault: its batch waits
            self._broken = self._broken or is_broken(exc)
            raise Unavailable(COMPONENT, f"dedupe state file not readable: {exc!r}") from exc
        return found

    @property
    def private(self) -> bool:
        """Whether the state is in a private temporary file (its own was held)."""
        return self._file.private

    @property
    def cached(self) -> int:
        """Entries held in memory (at most ``cache_entries``)."""
        return len(self._cache)

    def _remember(self, event_id: str, row: Row) -> None:
        cache = self._cache
        cache[event_id] = row
        cache.move_to_end(event_id)
        if len(cache) > self._cache_entries:
            cache.popitem(last=False)

    def __iter__(self) -> Iterator[str]:
        self.flush()
        for (key,) in self._db.execute("SELECT event_id FROM seen"):
            yield event_id_of(key)

    def __len__(self) -> int:
        self.flush()
        count: int = self._db.execute("SELECT count(*) FROM seen").fetchone()[0]
        return count

    def _take_in(self, partition: int, next_offset: int, change: Change) -> None:
        if change is not None:
            event_id, entry = change
            self._cache.pop(event_id, None)
            self._pending[event_id] = None if entry is None else _row(entry)
        positions = self._pending_positions
        positions[partition] = max(positions.get(partition, 0), next_offset)
        if len(self._pending) >= RESTORE_CHUNK:
            self.flush()

    @property
    def failing(self) -> bool:
        """Whether the file cannot be written now (its writes are being tried again)."""
        return self._writer.failing

    def flush(self) -> None:
        """Store what was restored, once the marks before it are stored; while the file
        cannot be written, it stays in memory (seen by lookups) for a later flush."""
        self._writer.drain()
        if self._writer.failing or not (self._pending or self._pending_positions):
            return
        pending, positions = self._pending, self._pending_positions
        try:
            with transaction(self._db):
                self._db.executemany(
                    _DELETE, [(stored_key(k),) for k, row in pending.items() if row is None]
                )
                self._db.executemany(
                    _PUT, [(stored_key(k), *row) for k, row in pending.items() if row is not None]
                )
                self._db.executemany(_POSITION, positions.items())
        except sqlite3.DatabaseError as exc:
            self._broken = self._broken or is_broken(exc)
            log.warning("restored dedupe entries kept in memory, not in the file yet: %r", exc)
            return
        self._pending, self._pending_positions = {}, {}

    async def room(self) -> None:
        await self._writer.room()
        self._start_afresh_if_broken()

    def written(self, marks: Mapping[str, SeenEvent], offsets: Mapping[int, int]) -> None:
        """Stored by the background writer (:mod:`tables.dedupe.writer`), seen at once."""
        if self._pending or self._pending_positions:
            self.flush()  # restored records are older than these marks
        next_offsets = {partition: offset + 1 for partition, offset in offsets.items()}
        rows = {event_id: _row(entry) for event_id, entry in marks.items()}
        self._writer.put(rows, next_offsets)
        for event_id, row in rows.items():
            if self._pending:  # not stored (the file fails): older than this mark
                self._pending.pop(event_id, None)
            self._remember(event_id, row)
        self._advance(next_offsets)

    def expired(
        self, now: float, ttl_s: float, limit: int | None = None
    ) -> list[tuple[str, SeenEvent]]:
        """Entries in ``seen_at`` order; one within a rounding error of the TTL may be left
        for the next call, and all of them while the file cannot be written (entries newer
        than the file's wait in memory meanwhile)."""
        self.flush()
        if self._writer.failing or self._pending or self._broken:
            return []
        try:
            rows = self._db.execute(_EXPIRED, (now - ttl_s, -1 if limit is None else limit))
            return [
                (event_id_of(key), SeenEvent(seen_at, partition, offset))
                for key, seen_at, partition, offset in rows
                if now - seen_at >= ttl_s
            ]
        except sqlite3.DatabaseError as exc:  # the next sweep, or the next file, takes them
            self._broken = self._broken or is_broken(exc)
            log.warning("expired dedupe entries not read from the file: %r", exc)
            return []

    def forget(self, event_ids: Iterable[str]) -> None:
        self.flush()
        keys = []
        for event_id in event_ids:
            self._cache.pop(event_id, None)
            keys.append((stored_key(event_id),))
        try:
            with transaction(self._db):
                self._db.executemany(_DELETE, keys)
        except sqlite3.DatabaseError as exc:  # expired, so counted absent: the next sweep
            self._broken = self._broken or is_broken(exc)
            log.warning("expired dedupe entries left in the file until the next sweep: %r", exc)

    def forget_partition(self, partition: int) -> None:
        """Reads the whole file (entries are not indexed by partition): for stale files."""
        self.flush()
        with transaction(self._db):
            self._db.execute("DELETE FROM seen WHERE part = ?", (partition,))
            self._db.execute("DELETE FROM positions WHERE part = ?", (partition,))
        self._cache = OrderedDict((k, v) for k, v in self._cache.items() if v[1] != partition)
        self.positions.pop(partition, None)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            try:
                self._writer.close()
            finally:
                self._file.close()


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN")
    try:
        yield
    except BaseException:
        if db.in_transaction:  # SQLite rolls back itself on some errors (SQLITE_FULL, IOERR)
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def write_rows(
    db: sqlite3.Connection, rows: Mapping[str, Row], positions: Mapping[int, int]
) -> None:
    """The background writer's transaction: entries and the positions they reach."""
    with transaction(db):
        db.executemany(_PUT, [(stored_key(k), *row) for k, row in rows.items()])
        db.executemany(_POSITION, positions.items())
