"""Replaying an alert-event topic (assignments, acknowledgements) into its PostgreSQL table.

Each kind of operator action on alerts is an event on a topic of its own and a table kept by
applying those events idempotently, whatever their order; a rebuild empties the table and
applies every event on the topic again. This is the loop the kinds share.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from streams.codec import SchemaCache
from streams.failures import TRANSIENT_REASONS, ProcessingError

E = TypeVar("E")


@dataclass
class Replayed:
    """What a replay of an alert-event topic did."""

    messages: int = 0
    changed: int = 0
    undecodable: int = 0


async def replay_events(
    db: Any,
    batches: AsyncIterator[list[bytes | None]],
    cache: SchemaCache,
    decoded: Callable[[bytes | None, SchemaCache], E],
    apply: Callable[[Any, E], Awaitable[int]],
) -> Replayed:
    """``apply`` every event in ``batches`` (message values, oldest first) to ``db``; a message
    ``decoded`` refuses is counted and passed over (the live projection dead-letters it).
    A registry that cannot be asked raises: the caller's transaction then keeps the table as
    it was, rather than rebuilt without the events it could not read."""
    report = Replayed()
    async for batch in batches:
        for value in batch:
            report.messages += 1
            try:
                event = decoded(value, cache)
            except ProcessingError as exc:
                if exc.reason in TRANSIENT_REASONS:
                    raise
                report.undecodable += 1
                continue
            report.changed += await apply(db, event)
    return report
