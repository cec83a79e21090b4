"""Retrying what failed while a service is down: the project's one backoff policy.

Every retry loop of the project takes its pauses from :class:`Backoff`: the core's writes to
the stores and sends of batches (waited out without a limit, as an event must not be lost),
the notifier's delivery attempts (a limited number), the batch consumer's reconnects, the
edge's stream reconnects and spool senders (with jitter, so cameras that lost the same
server do not come back in step), and the stack's bootstrap. It lives in ``streams/``, the
contract, because the edge and the core may both import it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from streams.failures import Unavailable
from streams.outages import OUTAGES, component_of

log = logging.getLogger(__name__)

T = TypeVar("T")


class Abandoned(Exception):
    """The process is stopping: the work is given up, to be done by the next owner."""


@dataclass(frozen=True)
class Backoff:
    """Pauses of ``first_s``, ``first_s * factor``, ... seconds, capped at ``max_s``, each
    moved at random by up to ``jitter`` of itself (none by default).

    ``stopping`` is asked before each pause of :meth:`pauses`: once it says yes, the next
    pause raises ``Abandoned`` instead, so a worker that stops during an outage does not wait
    it out. A ``first_s`` of 0 retries at once (for channels configured so, and tests).
    """

    first_s: float = 0.2
    max_s: float = 10.0
    factor: float = 2.0
    jitter: float = 0.0
    stopping: Callable[[], bool] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not 0 <= self.first_s <= self.max_s:
            raise ValueError(f"first_s must be in [0, max_s={self.max_s}], got {self.first_s!r}")
        if self.factor < 1:
            raise ValueError(f"factor must be >= 1, got {self.factor!r}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be in [0, 1], got {self.jitter!r}")

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry ``attempt`` (0 = the first retry)."""
        try:
            base = min(self.max_s, self.first_s * self.factor ** max(0, attempt))
        except OverflowError:  # an outage of thousands of attempts: long at the cap
            base = self.max_s
        if not self.jitter:
            return float(base)
        spread = base * self.jitter
        return max(0.0, base + (rng or random).uniform(-spread, spread))

    def pauses(self) -> Iterator[float]:
        """The pauses between attempts, for ever; raises ``Abandoned`` once ``stopping``."""
        attempt = 0
        while True:
            if self.stopping is not None and self.stopping():
                raise Abandoned("stopping: the work is left to the next owner")
            yield self.delay(attempt)
            attempt += 1


async def retry_until_done(
    what: str,
    attempt: Callable[[], Awaitable[T]],
    is_transient: Callable[[BaseException], bool],
    backoff: Backoff,
    on_retry: Callable[[BaseException], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    component: str | None = None,
) -> T:
    """Run ``attempt`` until it succeeds; transient errors are waited out, others raised.

    While it waits, the component that failed is reported down (``streams.outages``): the
    one an :class:`Unavailable` names, else ``component``, else the one ``what`` or the
    error's module names; once the loop ends (an attempt succeeded, or the work was given
    up) it is no longer waited for.
    """
    pauses = backoff.pauses()
    failures = 0
    down: set[str] = set()
    try:
        while True:
            try:
                return await attempt()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                failures += 1
                which = exc.component if isinstance(exc, Unavailable) else component
                which = which or component_of(what, exc)
                OUTAGES.down(which, exc)
                down.add(which)
                pause = next(pauses)
                if on_retry is not None:
                    on_retry(exc)
                # Once at first, then every tenth attempt: an outage must not flood the log.
                if failures == 1 or failures % 10 == 0:
                    log.warning(
                        "%s failed (%d times): %r; retrying in %.1fs", what, failures, exc, pause
                    )
                await sleep(pause)
    finally:
        for which in down:  # back, or no longer waited for (given up, stopping)
            OUTAGES.up(which)


def retry_blocking(
    what: str,
    attempt: Callable[[], T],
    is_transient: Callable[[BaseException], bool],
    backoff: Backoff,
    attempts: int,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``attempt`` up to ``attempts`` times, pausing as ``backoff`` says after a
    transient error; the last error, or any other, is raised.

    For blocking calls that may be made on the event loop (a Faust codec encoding a record):
    they cannot wait an outage out, only ride over a short one (a service restarting), so
    the number of attempts is bounded; the async callers wait the rest out with
    :func:`retry_until_done`.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, got {attempts!r}")
    pauses = backoff.pauses()
    for tried in range(1, attempts + 1):
        try:
            return attempt()
        except Exception as exc:
            if not is_transient(exc) or tried == attempts:
                raise
            pause = next(pauses)
            log.warning(
                "%s failed (%d of %d): %r; again in %.1fs", what, tried, attempts, exc, pause
            )
            sleep(pause)
    raise AssertionError("unreachable")  # the loop returns or raises
