"""Dedupe state files that fail for real: one that cannot grow, as on a full disk (SQLite's
``max_page_count`` on the background writer's connection: ``SQLITE_FULL``), and one whose
pages were overwritten (``SQLITE_CORRUPT``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tables.dedupe import DiskSeenEvents, SeenEvent

#: SQLite's largest max_page_count: no limit in practice.
NO_LIMIT = 4_294_967_294


def _writer_connection(seen: DiskSeenEvents) -> sqlite3.Connection:
    seen.flush()  # no write of the thread's in progress while its connection is changed
    db: sqlite3.Connection = seen._writer._db
    return db


def fill_up(seen: DiskSeenEvents) -> None:
    """The file may not grow by one page more."""
    db = _writer_connection(seen)
    (pages,) = db.execute("PRAGMA page_count").fetchone()
    db.execute(f"PRAGMA max_page_count = {pages}")


def make_room(seen: DiskSeenEvents) -> None:
    """The disk has room again."""
    seen._writer._db.execute(f"PRAGMA max_page_count = {NO_LIMIT}")


def corrupt(path: Path, changelog: str = "changelog", entries: int = 5000) -> None:
    """A state file whose entries' pages are overwritten: its meta and positions still read,
    any write of an entry fails for good (``SQLITE_CORRUPT``)."""
    seen = DiskSeenEvents(path, changelog)
    seen.written({f"id-{n}": SeenEvent(float(n), n % 2, n) for n in range(entries)}, {0: 1, 1: 1})
    seen.close()
    data = bytearray(path.read_bytes())
    data[8 * 4096 :] = b"\xa5" * (len(data) - 8 * 4096)
    path.write_bytes(bytes(data))
