"""Event ids already routed, so a redelivered or replayed event adds no second read.

A plain changelog-backed table keyed by event id with the time it was first routed; entries
older than ``dedupe_ttl_s`` count as absent and a timer removes them. (Faust's windowed
tables expire keys too, but their expiry index is not rebuilt after recovery, so restored
keys would never leave.) Each entry lives on the partition of the raw event that wrote it,
the partition every redelivery of that event (same key) arrives on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import cast

import faust
from faust.tables.base import Collection
from faust.types import TableT

from agents.router_config import get_router_settings
from alpr import app

log = logging.getLogger(__name__)

_settings = get_router_settings()


class SeenEvent(faust.Record, serializer="json", include_metadata=False):
    """When an event id was first routed, the raw partition its entry belongs to, and the
    offset of the raw message that routed it (-1 in entries written before it was kept)."""

    seen_at: float
    partition: int
    offset: int = -1

    def is_message(self, partition: int, offset: int) -> bool:
        """Whether this entry was written for that very raw message (so seeing the message
        again is Kafka redelivering it, not the edge sending the event twice)."""
        return self.offset >= 0 and (self.partition, self.offset) == (partition, offset)


event_ids_seen = app.Table(
    "event_ids_seen",
    key_type=str,
    value_type=SeenEvent,
    help="Event ids routed within the dedupe TTL (agents.router)",
)


async def mark_seen(table: TableT, event_id: str, entry: SeenEvent) -> None:
    """``table[event_id] = entry``, with the changelog message sent and awaited directly.

    Assignment would queue the message in Faust's producer buffer, whose drain is one
    message at a time and pauses the whole consumer (up to 0.1 s at a time) whenever more
    than 100 are queued: at a few thousand events a second that caps the router near 1,000.
    """
    collection = cast(Collection, table)
    table.data[event_id] = entry
    await table.changelog_topic.send(
        key=event_id,
        value=entry,
        partition=entry.partition,
        key_serializer=collection.key_serializer,
        value_serializer=collection.value_serializer,
    )


def is_fresh(entry: SeenEvent | None, now: float, ttl_s: float) -> bool:
    """Whether ``entry`` still marks its event id as seen at time ``now``."""
    return entry is not None and now - entry.seen_at < ttl_s


async def sweep_expired(table: TableT, now: float, ttl_s: float, chunk: int = 1000) -> int:
    """Remove entries older than ``ttl_s`` from the local part of ``table``; how many went.

    Deletes with an explicit changelog partition because no stream event is current here.
    """
    expired = [k for k, v in list(table.data.items()) if not is_fresh(v, now, ttl_s)]
    for done, key in enumerate(expired, 1):
        entry = table.data.pop(key, None)
        if entry is not None:
            table.send_changelog(entry.partition, key, None, value_serializer="raw")
        if done % chunk == 0:
            await asyncio.sleep(0)  # let the router run between chunks
    return len(expired)


@app.timer(interval=_settings.dedupe_sweep_s, on_leader=False)
async def expire_seen_event_ids() -> None:
    removed = await sweep_expired(event_ids_seen, time.time(), _settings.dedupe_ttl_s)
    if removed:
        log.info("dedupe: removed %d event ids older than %.0fs", removed, _settings.dedupe_ttl_s)
