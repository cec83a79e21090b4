"""Slowing down guessing: failed sign-ins and unknown keys counted per client address.

An address with ``failures`` failures inside the last ``window`` seconds must wait until the
oldest of them leaves the window; its attempts meanwhile are answered 429 without being
checked, so a guesser gets ``failures`` tries per window, whatever its speed. Kept per worker
process, like the rate limiter.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable


class FailureThrottle:
    def __init__(
        self,
        failures: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
        max_addresses: int = 100_000,
    ) -> None:
        if failures < 1:
            raise ValueError(f"failures must be at least 1 (got {failures})")
        if window <= 0:
            raise ValueError(f"window must be above 0 seconds (got {window})")
        self.failures = failures
        self.window = window
        self.clock = clock
        self.max_addresses = max_addresses
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, address: str) -> deque[float]:
        stamps = self._seen.pop(address, None) or deque()
        while stamps and stamps[0] <= self.clock() - self.window:
            stamps.popleft()
        self._seen[address] = stamps
        if len(self._seen) > self.max_addresses:
            self._seen.popitem(last=False)
        return stamps

    def wait(self, address: str) -> float:
        """Seconds ``address`` must wait before its next attempt (0.0: it may try now)."""
        stamps = self._recent(address)
        if len(stamps) < self.failures:
            return 0.0
        return max(0.0, stamps[0] + self.window - self.clock())

    def failed(self, address: str) -> None:
        """Count one failure of ``address``."""
        self._recent(address).append(self.clock())
