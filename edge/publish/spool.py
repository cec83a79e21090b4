"""A durable first-in first-out queue on disk (SQLite in WAL mode).

Items are written before they are sent and deleted only once the receiver acknowledged
them, so a crash between the two sends an item again rather than losing it.
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


class Spool:
    """A FIFO of (key, value, meta) items in one SQLite file; safe across threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # an acknowledged put survives power loss
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS items ("
            " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
            " key TEXT NOT NULL, value BLOB NOT NULL, meta TEXT NOT NULL DEFAULT '')"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS rejected ("
            " seq INTEGER PRIMARY KEY, key TEXT NOT NULL, value BLOB NOT NULL,"
            " meta TEXT NOT NULL, reason TEXT NOT NULL)"
        )

    def put(self, key: str, value: bytes, meta: str = "") -> int:
        """Append an item; its sequence number once it is on disk."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO items (key, value, meta) VALUES (?, ?, ?)", (key, value, meta)
            )
            return int(cursor.lastrowid or 0)

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
        """Remove items the receiver has acknowledged."""
        with self._lock:
            self._db.executemany("DELETE FROM items WHERE seq = ?", [(i.seq,) for i in items])

    def reject(self, item: Item, reason: str) -> None:
        """Set aside an item that can never be sent (kept for inspection, not retried)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT OR REPLACE INTO rejected (seq, key, value, meta, reason)"
                " VALUES (?, ?, ?, ?, ?)",
                (item.seq, item.key, item.value, item.meta, reason),
            )
            self._db.execute("DELETE FROM items WHERE seq = ?", (item.seq,))
            self._db.execute("COMMIT")

    def rejected(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM rejected").fetchone()[0])

    def depth(self) -> int:
        """How many items wait."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM items").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
