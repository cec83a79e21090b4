"""A token bucket per channel, and retries with exponential backoff."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from notify.base import DeliveryError
from streams.retry import Backoff

T = TypeVar("T")


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved; ``acquire`` waits for one."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst}")
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens = float(burst)
        self.updated = clock()

    def wait_s(self) -> float:
        """Take a token if one is there (0.0), else say how long until one is."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate

    async def acquire(self) -> None:
        while (pause := self.wait_s()) > 0:
            await asyncio.sleep(pause)


async def with_retries(
    attempt_once: Callable[[], Awaitable[T]],
    attempts: int,
    backoff: Backoff,
    on_retry: Callable[[int, DeliveryError], None] = lambda n, e: None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Run ``attempt_once`` until it succeeds, fails permanently or ``attempts`` are spent,
    pausing ``backoff.delay`` between attempts; the last ``DeliveryError`` is raised."""
    for attempt in range(1, attempts + 1):
        try:
            return await attempt_once()
        except DeliveryError as error:
            if error.permanent or attempt == attempts:
                raise
            on_retry(attempt, error)
            await sleep(backoff.delay(attempt - 1))
    raise AssertionError("unreachable: attempts >= 1")
