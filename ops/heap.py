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
from typing import Any

from prometheus_client import Histogram

log = logging.getLogger(__name__)

GC_PAUSES = Histogram(
    "alpr_gc_pause_seconds",
    "Pauses of the cyclic garbage collector (the event loop stops meanwhile)",
    ["generation"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)


class PauseTimer:
    """A ``gc.callbacks`` hook timing each collection into :data:`GC_PAUSES`."""

    def __init__(self) -> None:
        self.started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        elif self.started:
            took = time.perf_counter() - self.started
            GC_PAUSES.labels(str(info.get("generation", "?"))).observe(took)
            if took > 0.1:
                log.warning("garbage collection of generation %s stopped the worker %.0f ms",
                            info.get("generation"), took * 1000)  # fmt: skip


def watch_pauses() -> None:
    """Time every collection of this process (once)."""
    if not any(isinstance(hook, PauseTimer) for hook in gc.callbacks):
        gc.callbacks.append(PauseTimer())


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
