"""Keeping Python's cyclic garbage collector off the worker's large, long-lived heap.

A worker holds hundreds of thousands of long-lived objects (a 100,000-plate watch list, the
rule set, Faust's own structures). Each full collection walks all of them: measured here,
100-140 ms with the event loop stopped, several times a minute under load, which is the
alert latency's p99 on its own. Once the rule set is loaded, :func:`settle` collects what is
garbage now and moves everything else to the permanent generation (``gc.freeze``), so later
collections walk only what was allocated since. Objects frozen are still freed by reference
counting when dropped; a rule set replaced later is settled again (after a short quiet
period, so a burst of rule changes costs one full collection).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time

log = logging.getLogger(__name__)


def settle() -> float:
    """Collect everything, then freeze what survived; returns the seconds it took."""
    started = time.perf_counter()
    gc.unfreeze()  # the previous rule set's leftovers become collectable again
    gc.collect()
    gc.freeze()
    took = time.perf_counter() - started
    log.info("heap settled: %d objects frozen in %.0f ms", gc.get_freeze_count(), took * 1000)
    return took


class Settler:
    """Settles the heap once changes have been quiet for ``quiet_s`` seconds."""

    def __init__(self, enabled: bool, quiet_s: float = 2.0) -> None:
        self.enabled = enabled
        self.quiet_s = quiet_s
        self._pending: asyncio.TimerHandle | None = None

    def now(self) -> None:
        if self.enabled:
            self.cancel()
            settle()

    def soon(self) -> None:
        """Settle after ``quiet_s`` without another call (needs a running event loop)."""
        if not self.enabled:
            return
        self.cancel()
        self._pending = asyncio.get_running_loop().call_later(self.quiet_s, self.now)

    def cancel(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
