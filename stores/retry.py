"""Retrying writes to a store that is down: exponential backoff, without a limit.

A projection must not move its offsets past an event it has not written, so a store outage
is waited out, however long: the agent keeps its batch and tries again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class Abandoned(Exception):
    """The process is stopping: the write is given up, to be done by the next owner."""


@dataclass(frozen=True)
class Backoff:
    """Pauses of ``first``, ``first * factor``, ... seconds, capped at ``most``.

    ``stopping`` is asked before each pause: once it says yes, the next pause raises
    ``Abandoned`` instead, so a worker that stops during an outage does not wait it out.
    """

    first: float = 0.2
    most: float = 10.0
    factor: float = 2.0
    stopping: Callable[[], bool] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not 0 < self.first <= self.most:
            raise ValueError(f"first must be in (0, most={self.most}], got {self.first}")
        if self.factor < 1:
            raise ValueError(f"factor must be >= 1, got {self.factor}")

    def pauses(self) -> Iterator[float]:
        pause = self.first
        while True:
            if self.stopping is not None and self.stopping():
                raise Abandoned("stopping: the write is left to the next owner")
            yield pause
            pause = min(pause * self.factor, self.most)


async def retry_until_done(
    what: str,
    attempt: Callable[[], Awaitable[T]],
    is_transient: Callable[[BaseException], bool],
    backoff: Backoff,
    on_retry: Callable[[BaseException], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Run ``attempt`` until it succeeds; transient errors are waited out, others raised."""
    pauses = backoff.pauses()
    failures = 0
    while True:
        try:
            return await attempt()
        except Exception as exc:
            if not is_transient(exc):
                raise
            failures += 1
            pause = next(pauses)
            if on_retry is not None:
                on_retry(exc)
            # Say it once at first, then every tenth attempt: an outage must not flood the log.
            if failures == 1 or failures % 10 == 0:
                log.warning(
                    "%s failed (%d times): %r; retrying in %.1fs", what, failures, exc, pause
                )
            await sleep(pause)
