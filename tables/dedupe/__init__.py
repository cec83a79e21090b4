"""Event ids already routed, so a redelivered or replayed event adds no second read.

The router's state: event id -> when it was first routed, from which raw partition and
offset. Each entry lives on the partition of the raw event that wrote it (the partition every
redelivery of that event arrives on) and is logged to a compacted changelog topic with one
partition per raw partition, so the worker that takes a raw partition over restores its
entries before routing from it. Entries older than ``dedupe_ttl_s`` count as absent; the
sweep removes them with a tombstone.

The state grows by one entry per event for a whole TTL (86 M entries in 24 h at 1,000
events/s), so where it is kept is a backend behind one interface (:class:`SeenEvents`),
chosen by the router's ``dedupe_store`` setting (:func:`open_seen_events`):

- ``memory`` (:mod:`tables.dedupe.memory`, the default): a dict, about 300 B per id,
  restored in full at every start;
- ``disk`` (:mod:`tables.dedupe.disk`): an SQLite file with bounded memory; a restarted
  worker restores only the changelog written since it stopped. Not the default yet: it cost
  the router about 30 us more CPU per event (``python -m bench.router``).

This package is the state and its changelog format (:mod:`tables.dedupe.entries`) only;
reading and writing the topic is :mod:`streams.changelog`'s job, wired in
:mod:`agents.router.service`.
"""

from tables.dedupe.disk import DiskSeenEvents
from tables.dedupe.entries import (
    SeenEvent,
    decode_entry,
    decode_key,
    encode_entry,
    encode_key,
    is_fresh,
)
from tables.dedupe.factory import open_seen_events
from tables.dedupe.memory import MemorySeenEvents
from tables.dedupe.state import BatchView, SeenEvents

__all__ = [
    "BatchView",
    "DiskSeenEvents",
    "MemorySeenEvents",
    "SeenEvent",
    "SeenEvents",
    "decode_entry",
    "decode_key",
    "encode_entry",
    "encode_key",
    "is_fresh",
    "open_seen_events",
]
