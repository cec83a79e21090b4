"""One dedupe entry, when it counts as seen, and its changelog format.

The changelog's format is the one the router's Faust table used (key: the event id as a JSON
string; value: ``{"seen_at", "partition", "offset"}``), so state written before the router
left Faust's per-event streams is read back as it was.
"""

from __future__ import annotations

import json
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
