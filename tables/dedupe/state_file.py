"""The on-disk dedupe state's SQLite file: held by one process, checked when opened.

Written in WAL mode with ``synchronous=NORMAL``: a process killed loses nothing, a power cut
may lose the last transactions but leaves the file consistent, and as each transaction
stores entries together with the changelog positions they reach, what was lost is read
again from the changelog. A file that cannot be read, or was written for another changelog
topic or format, is started afresh and restored in full.
"""

from __future__ import annotations

import fcntl
import logging
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

#: The layout of the file; a file of another format is started afresh.
FORMAT = "1"

#: How long a connection waits for another one's write (a checkpoint) before it fails.
BUSY_TIMEOUT_MS = 30_000

TABLES = (
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    # event_id has no declared type: a UUID's 16 bytes or another id's text, each as is.
    "CREATE TABLE IF NOT EXISTS seen (event_id PRIMARY KEY, seen_at REAL NOT NULL, "
    "part INTEGER NOT NULL, raw_offset INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS seen_by_age ON seen (seen_at)",
    "CREATE TABLE IF NOT EXISTS positions (part INTEGER PRIMARY KEY, next_offset INTEGER NOT NULL)",
)


class StateFile:
    """The database of the state at ``path`` (None: a private temporary file, removed when
    closed), ready for ``changelog``'s entries; see the module's notes."""

    def __init__(
        self, path: Path | None, changelog: str, page_cache_mib: int, afresh: bool = False
    ) -> None:
        self._lock: IO[bytes] | None = None
        self._private: Path | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._lock = _lock(path)
            if self._lock is None:
                log.warning(
                    "dedupe state %s is held by another process (give each worker its own "
                    "state directory): using a private temporary file, restored in full",
                    path,
                )
        if self._lock is None:
            self._private = Path(tempfile.mkdtemp(prefix="alpr-dedupe-"))
            path = self._private / "state.sqlite3"
        assert path is not None
        #: The file (a private temporary one when ``private``).
        self.path = path
        self.page_cache_mib = page_cache_mib
        if afresh:
            _remove(path)
        self.db = _open(path, changelog)
        self._tune(self.db)

    @property
    def private(self) -> bool:
        return self._private is not None

    def connect(self) -> sqlite3.Connection:
        """Another connection to the file, for use in one other thread."""
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._tune(db)
        return db

    def _tune(self, db: sqlite3.Connection) -> None:
        db.execute("PRAGMA synchronous = NORMAL")  # per connection, not kept in the file
        db.execute(f"PRAGMA cache_size = {-1024 * self.page_cache_mib}")
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute(f"PRAGMA journal_size_limit = {64 * 1024 * 1024}")

    def close(self) -> None:
        """Close the file and release it (a private one is removed)."""
        try:
            self.db.close()
        finally:
            if self._lock is not None:
                self._lock.close()  # releases the lock
                self._lock = None
            if self._private is not None:
                shutil.rmtree(self._private, ignore_errors=True)


def _lock(path: Path) -> IO[bytes] | None:
    """An exclusive lock on ``path`` for this process (released when it exits, killed or
    not), or None if another process holds it."""
    lock = (path.parent / f"{path.name}.lock").open("wb")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return None
    return lock


def _open(path: Path, changelog: str) -> sqlite3.Connection:
    """The database at ``path``, started afresh if it is not ``changelog``'s state."""
    db: sqlite3.Connection | None = None
    try:
        db = _prepare(sqlite3.connect(path, isolation_level=None), changelog)
        problem = _problem(dict(db.execute("SELECT name, value FROM meta").fetchall()), changelog)
    except sqlite3.DatabaseError as exc:
        problem = f"it cannot be read ({exc})"
    if problem is None and db is not None:
        return db
    log.warning("dedupe state %s is started afresh and restored in full: %s", path, problem)
    if db is not None:
        db.close()
    _remove(path)
    return _prepare(sqlite3.connect(path, isolation_level=None), changelog)


def _remove(path: Path) -> None:
    for name in (path.name, f"{path.name}-wal", f"{path.name}-shm"):
        (path.parent / name).unlink(missing_ok=True)


def _problem(meta: dict[str, str], changelog: str) -> str | None:
    """Why a file with ``meta`` is not the state of ``changelog``, or None."""
    if (meta.get("format"), meta.get("changelog")) != (FORMAT, changelog):
        return f"it was written for {meta}, not for format {FORMAT} of {changelog}"
    return None


def _prepare(db: sqlite3.Connection, changelog: str) -> sqlite3.Connection:
    db.execute("PRAGMA journal_mode = WAL")  # kept in the file
    db.execute("BEGIN")
    for statement in TABLES:
        db.execute(statement)
    db.executemany(
        "INSERT OR IGNORE INTO meta (name, value) VALUES (?, ?)",
        (("format", FORMAT), ("changelog", changelog)),
    )
    db.execute("COMMIT")
    return db
