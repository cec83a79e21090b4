"""The interface of the dedupe state (one module per backend implements it) and the view
the router reads through while it routes one batch."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from tables.dedupe.entries import SeenEvent, decode_entry, decode_key

#: One changelog record taken in: the event id and its entry (None: a tombstone), or None
#: for a record that could not be read (it only moves the position on).
Change = tuple[str, SeenEvent | None] | None


class SeenEvents(Mapping[str, SeenEvent]):
    """The entries of the raw partitions this worker has read, and how far into each
    changelog partition they go (``positions``: per raw partition, the changelog offset
    after the last record applied or written).

    A partition that is given up keeps its entries and position: if it comes back, only the
    changelog written since (by its owner meanwhile) is read.
    """

    def __init__(self, positions: Mapping[int, int] | None = None) -> None:
        self.positions: dict[int, int] = dict(positions or {})
        self.malformed = 0
        #: Partitions whose entries were lost (their storage broke): to restore in full.
        self.lost: set[int] = set()

    def __getitem__(self, event_id: str) -> SeenEvent:
        found = self.lookup(event_id)
        if found is None:
            raise KeyError(event_id)
        return found

    def get(self, event_id: str, default: Any = None) -> Any:
        found = self.lookup(event_id)
        return default if found is None else found

    def apply(self, partition: int, offset: int, key: bytes | None, value: bytes | None) -> None:
        """Apply one changelog record read back (``value`` None: a tombstone). Call
        :meth:`flush` once the records read are applied."""
        change: Change
        try:
            event_id = decode_key(key or b"")
            change = (event_id, None if value is None else decode_entry(value))
        except (ValueError, KeyError, TypeError):
            self.malformed += 1  # not ours to fix: the record is skipped, the rest restored
            change = None
        self._advance({partition: offset + 1})
        self._take_in(partition, offset + 1, change)

    def _advance(self, next_offsets: Mapping[int, int]) -> None:
        for partition, offset in next_offsets.items():
            self.positions[partition] = max(self.positions.get(partition, 0), offset)

    @abstractmethod
    def lookup(self, event_id: str) -> SeenEvent | None:
        """The entry of ``event_id``, fresh or not, or None."""

    @abstractmethod
    def _take_in(self, partition: int, next_offset: int, change: Change) -> None:
        """Store one changelog record read back (``positions`` already moved on)."""

    @abstractmethod
    def written(self, marks: Mapping[str, SeenEvent], offsets: Mapping[int, int]) -> None:
        """Take ``marks`` in once their changelog records are in Kafka (``offsets``: per
        partition, the last offset written)."""

    @abstractmethod
    def expired(
        self, now: float, ttl_s: float, limit: int | None = None
    ) -> list[tuple[str, SeenEvent]]:
        """Entries no longer fresh at ``now`` (:func:`is_fresh`), oldest first, at most
        ``limit``; a backend may leave some for a later call (see its notes)."""

    @abstractmethod
    def forget(self, event_ids: Iterable[str]) -> None:
        """Remove the entries of ``event_ids`` (absent ones are ignored)."""

    @abstractmethod
    def forget_partition(self, partition: int) -> None:
        """Remove every entry of raw partition ``partition`` and its position, so that it is
        restored from the beginning of its changelog partition."""

    def flush(self) -> None:
        """Store what :meth:`apply` took in; a backend that stores at once has nothing to do."""

    async def room(self) -> None:
        """Return once the state can take more marks: a backend that writes them behind the
        router holds it back here while too many wait (its storage slow or failing)."""

    def close(self) -> None:
        """Release what the state holds (files, locks); it is not used afterwards."""


class BatchView(Mapping[str, SeenEvent]):
    """What the router sees while it routes one batch: the batch's own marks (not in the
    changelog yet) over the stored entries, so a duplicate within the batch is caught."""

    def __init__(self, stored: SeenEvents) -> None:
        self.stored = stored
        self.marks: dict[str, SeenEvent] = {}

    def __getitem__(self, event_id: str) -> SeenEvent:
        found = self.marks.get(event_id)
        return found if found is not None else self.stored[event_id]

    def get(self, event_id: str, default: Any = None) -> Any:
        # Not Mapping.get: most event ids are new, and its KeyError per miss costs.
        found = self.marks.get(event_id)
        return found if found is not None else self.stored.get(event_id, default)

    def __iter__(self) -> Iterator[str]:
        yield from self.marks
        yield from (k for k in self.stored if k not in self.marks)

    def __len__(self) -> int:
        return len(self.marks) + sum(1 for k in self.stored if k not in self.marks)

    async def mark(self, event_id: str, entry: SeenEvent) -> None:
        self.marks[event_id] = entry
