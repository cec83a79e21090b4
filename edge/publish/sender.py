"""Drains a spool to a receiver in order, retrying with backoff while the receiver is down."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass

from edge.publish.spool import Item, Spool
from streams.retry import Backoff

logger = logging.getLogger(__name__)

#: How often an idle sender looks for new items (seconds).
POLL_S = 0.2


class Unsendable(Exception):
    """An item no retry can send (it does not encode): it is set aside, not retried."""


@dataclass
class SenderStats:
    sent: int = 0
    failures: int = 0
    rejected: int = 0
    up: bool = False
    last_error: str | None = None


class SpoolSender(ABC):
    """Sends a spool's items oldest first; an item leaves the spool once acknowledged."""

    name = "sender"

    def __init__(self, spool: Spool, batch: int = 100, backoff: Backoff | None = None) -> None:
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch!r}")
        self.spool = spool
        self.batch = batch
        self.backoff = backoff or Backoff(first_s=0.5, max_s=30.0, jitter=0.3)
        self.stats = SenderStats()
        #: Set when ``run`` is told to stop: a send waiting on its receiver may give up.
        self.stopping = asyncio.Event()

    @abstractmethod
    async def send(self, items: list[Item]) -> None:
        """Deliver ``items`` in order, all or raise; ``Unsendable`` names a bad item."""

    @abstractmethod
    async def reset(self) -> None:
        """Drop the connection after a failure; the next ``send`` opens a new one."""

    async def close(self) -> None:
        await self.reset()

    async def drain_once(self) -> int:
        """Send one batch; how many items left the spool. Raises when the receiver fails."""
        items = self.spool.peek(self.batch)
        if not items:
            return 0
        try:
            await self.send(items)
        except Unsendable as exc:
            bad = exc.args[1] if len(exc.args) > 1 else items[0]
            logger.error("%s: item %d set aside: %s", self.name, bad.seq, exc.args[0])
            self.spool.reject(bad, str(exc.args[0]))
            self.stats.rejected += 1
            return 1
        self.spool.ack(items)
        self.stats.sent += len(items)
        self.stats.up = True
        return len(items)

    async def run(self, stop: asyncio.Event) -> None:
        """Drain until ``stop`` is set and the spool is empty or the receiver is down."""
        self.stopping = stop
        attempt = 0
        while True:
            try:
                sent = await self.drain_once()
            except Exception as exc:  # any failure of the receiver: keep the items, retry
                self.stats.failures += 1
                self.stats.up = False
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                logger.warning("%s: receiver down, items stay spooled: %s", self.name, exc)
                await self.reset()
                if stop.is_set():
                    return
                await _sleep_or_stop(stop, self.backoff.delay(attempt))
                attempt += 1
                continue
            attempt = 0
            if not sent:
                if stop.is_set():
                    return
                await _sleep_or_stop(stop, POLL_S)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
