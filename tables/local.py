"""This worker's share of a Faust table, for timers that work outside a stream event."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

from alpr import app

#: Entries looked at between two returns to the event loop.
CHUNK = 1000


async def walk(data: Mapping[str, Any]) -> AsyncIterator[tuple[str, Any]]:
    """The entries of ``data`` (a table's local data), returning to the event loop every
    :data:`CHUNK` keys. The keys are a snapshot; each value is read when its turn comes, so an
    entry written meanwhile is seen as it is now, and one removed meanwhile is skipped."""
    for n, key in enumerate(list(data.keys())):
        if n and n % CHUNK == 0:
            await asyncio.sleep(0)
        value = data.get(key)
        if value is not None:
            yield key, value


def owned_partitions(topic: str) -> set[int]:
    """The partitions of ``topic`` this worker actively owns (and so of the tables whose
    changelog follows it)."""
    return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic}
