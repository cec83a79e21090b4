"""A durable first-in first-out queue on disk (SQLite in WAL mode), with a size cap.

Items are written before they are sent and deleted only once the receiver acknowledged
them, so a crash between the two sends an item again rather than losing it.

A spool may be capped in bytes (of values) and in items. When an item does not fit, the
oldest items put as ``evictable`` (superseded kinds: heartbeats, previews) make room
first; if that is not enough, ``put`` raises ``SpoolFull`` and the caller applies its
policy (the edge worker holds plate events back, see ``edge.worker``). Nothing is dropped
here silently: every eviction is counted in ``evicted``.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Item:
    """One spooled item: its sequence number (send order), key, value and metadata."""

    seq: int
    key: str
    value: bytes
    meta: str


class SpoolFull(Exception):
    """The item does not fit under the spool's cap, even after evicting what may go."""


class Spool:
    """A FIFO of (key, value, meta) items in one SQLite file; safe across threads."""

    def __init__(
        self, path: Path, max_bytes: int | None = None, max_items: int | None = None
    ) -> None:
        if max_bytes is not None and max_bytes < 1:
            raise ValueError(f"max_bytes must be >= 1 or None, got {max_bytes!r}")
        if max_items is not None and max_items < 1:
            raise ValueError(f"max_items must be >= 1 or None, got {max_items!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_bytes = max_bytes
        self.max_items = max_items
        #: Items evicted to make room (evictable kinds only), since this spool was opened.
        self.evicted = 0
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # an acknowledged put survives power loss
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS items ("
            " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
            " key TEXT NOT NULL, value BLOB NOT NULL, meta TEXT NOT NULL DEFAULT '')"
        )
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(items)")}
        if "evictable" not in columns:  # a spool file written before the cap existed
            self._db.execute("ALTER TABLE items ADD COLUMN evictable INTEGER NOT NULL DEFAULT 0")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS rejected ("
            " seq INTEGER PRIMARY KEY, key TEXT NOT NULL, value BLOB NOT NULL,"
            " meta TEXT NOT NULL, reason TEXT NOT NULL)"
        )
        count, size = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(value)), 0) FROM items"
        ).fetchone()
        self._items, self._bytes = int(count), int(size)

    def put(self, key: str, value: bytes, meta: str = "", evictable: bool = False) -> int:
        """Append an item; its sequence number once it is on disk. ``SpoolFull`` when it
        does not fit under the cap even after evicting the oldest evictable items."""
        with self._lock:
            if not self._fits(len(value)):
                self._evict_for(len(value))
                if not self._fits(len(value)):
                    raise SpoolFull(
                        f"{self.path.name}: {self._items} items, {self._bytes} bytes; "
                        f"cap {self.max_items} items, {self.max_bytes} bytes"
                    )
            try:
                cursor = self._db.execute(
                    "INSERT INTO items (key, value, meta, evictable) VALUES (?, ?, ?, ?)",
                    (key, value, meta, int(evictable)),
                )
            except sqlite3.OperationalError as exc:
                # A full disk is a full spool: the caller's policy holds the item back
                # (a final event waits for room) instead of its thread dying on it.
                if exc.sqlite_errorcode != sqlite3.SQLITE_FULL:
                    raise
                raise SpoolFull(f"{self.path.name}: the disk is full ({exc})") from exc
            self._items += 1
            self._bytes += len(value)
            return int(cursor.lastrowid or 0)

    def fits(self, size: int) -> bool:
        """Whether an item of ``size`` bytes fits now (without evicting anything)."""
        with self._lock:
            return self._fits(size)

    def _fits(self, size: int) -> bool:
        if self.max_items is not None and self._items + 1 > self.max_items:
            return False
        return self.max_bytes is None or self._bytes + size <= self.max_bytes

    def _evict_for(self, size: int) -> None:
        rows = self._db.execute(
            "SELECT seq, LENGTH(value) FROM items WHERE evictable = 1 ORDER BY seq"
        ).fetchall()
        gone: list[int] = []
        items, total = self._items, self._bytes
        for seq, length in rows:
            fits_items = self.max_items is None or items + 1 <= self.max_items
            fits_bytes = self.max_bytes is None or total + size <= self.max_bytes
            if fits_items and fits_bytes:
                break
            gone.append(int(seq))
            items, total = items - 1, total - int(length)
        if gone:
            self._delete(gone)
            self.evicted += len(gone)

    def _delete(self, seqs: list[int]) -> None:
        """Delete items by sequence number, keeping the counts (items already gone, e.g.
        evicted while being sent, count nothing)."""
        for seq in seqs:
            row = self._db.execute(
                "DELETE FROM items WHERE seq = ? RETURNING LENGTH(value)", (seq,)
            ).fetchone()
            if row is not None:
                self._items -= 1
                self._bytes -= int(row[0])

    def peek(self, limit: int) -> list[Item]:
        """The oldest ``limit`` items, oldest first, left in the spool."""
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit!r}")
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, key, value, meta FROM items ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
        return [Item(int(seq), str(key), bytes(value), str(meta)) for seq, key, value, meta in rows]

    def ack(self, items: list[Item]) -> None:
        """Remove items the receiver has acknowledged. If the removal cannot be written (a
        full disk), nothing is removed and the error is raised: the items are sent again
        later (the receiver drops the copies by event id)."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._delete([i.seq for i in items])
                self._db.execute("COMMIT")
            except sqlite3.Error:
                self._rollback()
                raise

    def _rollback(self) -> None:
        """Undo the open transaction and count the items again (the counts followed the
        deletes that are undone now)."""
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")
        count, size = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(value)), 0) FROM items"
        ).fetchone()
        self._items, self._bytes = int(count), int(size)

    def reject(self, item: Item, reason: str) -> None:
        """Set aside an item that can never be sent (kept for inspection, not retried)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT OR REPLACE INTO rejected (seq, key, value, meta, reason)"
                " VALUES (?, ?, ?, ?, ?)",
                (item.seq, item.key, item.value, item.meta, reason),
            )
            self._delete([item.seq])
            self._db.execute("COMMIT")

    def rejected(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM rejected").fetchone()[0])

    def depth(self) -> int:
        """How many items wait."""
        with self._lock:
            return self._items

    def size(self) -> int:
        """Bytes of the values waiting."""
        with self._lock:
            return self._bytes

    def close(self) -> None:
        with self._lock:
            self._db.close()
