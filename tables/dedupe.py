"""Event ids already routed, so a redelivered or replayed event adds no second read.

The router's state: event id -> when it was first routed, from which raw partition and
offset. Each entry lives on the partition of the raw event that wrote it (the partition every
redelivery of that event arrives on) and is logged to a compacted changelog topic with one
partition per raw partition, so the worker that takes a raw partition over restores its
entries before routing from it. Entries older than ``dedupe_ttl_s`` count as absent; the
sweep removes them with a tombstone.

The changelog's format is the one the router's Faust table used (key: the event id as a JSON
string; value: ``{"seen_at", "partition", "offset"}``), so state written before the router
left Faust's per-event streams is read back as it was.

This module is the state and its changelog format only; reading and writing the topic is
:mod:`streams.changelog`'s job, wired in :mod:`agents.router.service`.

The state grows by one entry per event for a whole TTL (3.6 M entries after an hour at 1,000
events/s), so two costs that grow with it are kept off the event loop's path:

- Entries are stored as plain tuples of numbers, which the garbage collector stops tracking
  (it never untracks a tuple subclass such as :class:`SeenEvent`): a full collection over
  3.6 M entries took 530 ms with a slotted dataclass per entry, 1.4 ms with plain tuples.
- The dict keeps entries in the order they were taken in (a re-marked or restored entry is
  moved to the end), which is about the order of ``seen_at``: the sweep reads the expired
  entries from the front and stops at the first fresh one, in bounded chunks, instead of
  scanning the whole state (3.3 s at 3.6 M entries).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import NamedTuple


class SeenEvent(NamedTuple):
    """When an event id was first routed, the raw partition its entry belongs to, and the
    offset of the raw message that routed it (-1 in entries written before it was kept)."""

    seen_at: float
    partition: int
    offset: int = -1

    def is_message(self, partition: int, offset: int) -> bool:
        """Whether this entry was written for that very raw message (so seeing the message
        again is Kafka redelivering it, not the edge sending the event twice)."""
        return self.offset >= 0 and (self.partition, self.offset) == (partition, offset)


def is_fresh(entry: SeenEvent | None, now: float, ttl_s: float) -> bool:
    """Whether ``entry`` still marks its event id as seen at time ``now``."""
    return entry is not None and now - entry.seen_at < ttl_s


def encode_key(event_id: str) -> bytes:
    return json.dumps(event_id).encode()


def encode_entry(entry: SeenEvent) -> bytes:
    return json.dumps(
        {"seen_at": entry.seen_at, "partition": entry.partition, "offset": entry.offset}
    ).encode()


def decode_key(key: bytes) -> str:
    event_id = json.loads(key)
    if not isinstance(event_id, str):
        raise ValueError(f"changelog key is not a JSON string: {key[:80]!r}")
    return event_id


def decode_entry(value: bytes) -> SeenEvent:
    data = json.loads(value)
    return SeenEvent(
        seen_at=float(data["seen_at"]),
        partition=int(data["partition"]),
        offset=int(data.get("offset", -1)),
    )


class SeenEvents(Mapping[str, SeenEvent]):
    """The entries of the raw partitions this worker has read, and how far into each
    changelog partition they go.

    A partition that is given up keeps its entries and position: if it comes back, only the
    changelog written since (by its owner meanwhile) is read.
    """

    def __init__(self) -> None:
        #: Event id -> ``(seen_at, partition, offset)``, a plain tuple (see the module's notes).
        self.data: dict[str, tuple[float, int, int]] = {}
        #: Per raw partition, the changelog offset after the last record applied or written.
        self.positions: dict[int, int] = {}
        self.malformed = 0

    def __getitem__(self, event_id: str) -> SeenEvent:
        return SeenEvent(*self.data[event_id])

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def apply(self, partition: int, offset: int, key: bytes | None, value: bytes | None) -> None:
        """Apply one changelog record read back (``value`` None: a tombstone)."""
        self.positions[partition] = max(self.positions.get(partition, 0), offset + 1)
        try:
            event_id = decode_key(key or b"")
            entry = None if value is None else decode_entry(value)
            self.data.pop(event_id, None)  # re-inserted at the end: the sweep's order
            if entry is not None:
                self.data[event_id] = (entry.seen_at, entry.partition, entry.offset)
        except (ValueError, KeyError, TypeError):
            self.malformed += 1  # not ours to fix: the record is skipped, the rest restored

    def written(self, marks: Mapping[str, SeenEvent], offsets: Mapping[int, int]) -> None:
        """Take ``marks`` in once their changelog records are in Kafka (``offsets``: per
        partition, the last offset written)."""
        for event_id, entry in marks.items():
            self.data.pop(event_id, None)  # re-inserted at the end: the sweep's order
            self.data[event_id] = (entry.seen_at, entry.partition, entry.offset)
        for partition, offset in offsets.items():
            self.positions[partition] = max(self.positions.get(partition, 0), offset + 1)

    def expired(
        self, now: float, ttl_s: float, limit: int | None = None
    ) -> list[tuple[str, SeenEvent]]:
        """The oldest entries, up to the first one still fresh at ``now`` (at most ``limit``).

        Entries are in the order they were taken in. One taken in out of ``seen_at`` order
        (restored behind a fresher entry of another partition) waits for the entries before it
        to expire; lookups count it as absent meanwhile (:func:`is_fresh`).
        """
        found: list[tuple[str, SeenEvent]] = []
        for event_id, (seen_at, partition, offset) in self.data.items():
            if now - seen_at < ttl_s or (limit is not None and len(found) >= limit):
                break
            found.append((event_id, SeenEvent(seen_at, partition, offset)))
        return found

    def forget(self, event_ids: Iterable[str]) -> None:
        for event_id in event_ids:
            self.data.pop(event_id, None)


class BatchView(Mapping[str, SeenEvent]):
    """What the router sees while it routes one batch: the batch's own marks (not in the
    changelog yet) over the stored entries, so a duplicate within the batch is caught."""

    def __init__(self, stored: Mapping[str, SeenEvent]) -> None:
        self.stored = stored
        self.marks: dict[str, SeenEvent] = {}

    def __getitem__(self, event_id: str) -> SeenEvent:
        found = self.marks.get(event_id)
        return found if found is not None else self.stored[event_id]

    def __iter__(self) -> Iterator[str]:
        yield from self.marks
        yield from (k for k in self.stored if k not in self.marks)

    def __len__(self) -> int:
        return len(self.marks) + sum(1 for k in self.stored if k not in self.marks)

    async def mark(self, event_id: str, entry: SeenEvent) -> None:
        self.marks[event_id] = entry
