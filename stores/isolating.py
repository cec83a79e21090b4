"""Storing a batch whole, and when a row of it can never be stored, finding that row.

A store that is down is waited out (``retry_until_done``); an error that a row causes (a
value the store cannot hold) would fail the batch at every attempt, so the batch is split in
halves until the offending rows stand alone, and only those go to the dead-letter topic.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from streams.retry import Backoff, retry_until_done

Item = TypeVar("Item")

WriteFn = Callable[[Sequence[Item]], Awaitable[int]]
DeadLetterFn = Callable[[Any, str], Awaitable[None]]


class IsolatingWriter(Generic[Item]):
    """Writes ``(event, item)`` pairs through ``write``, isolating items it refuses.

    ``transient`` says which errors mean "the store is not there, try again" and
    ``refused`` which mean "this data is bad"; anything else is a bug and propagates.
    ``dead_letter(event, message)`` receives each refused item's event.
    """

    def __init__(
        self,
        what: str,
        write: WriteFn[Item],
        transient: Callable[[BaseException], bool],
        refused: tuple[type[BaseException], ...],
        dead_letter: DeadLetterFn,
        backoff: Backoff,
        on_retry: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.what = what
        self.write_fn = write
        self.transient = transient
        self.refused = refused
        self.dead_letter = dead_letter
        self.backoff = backoff
        self.on_retry = on_retry

    async def write(self, pairs: Sequence[tuple[Any, Item]]) -> int:
        """Store every item that can be stored; return how many were new."""
        if not pairs:
            return 0
        items = [item for _, item in pairs]
        try:
            return await retry_until_done(
                self.what,
                lambda: self.write_fn(items),
                self.transient,
                self.backoff,
                self.on_retry,
            )
        except self.refused as exc:
            if len(pairs) == 1:
                await self.dead_letter(pairs[0][0], f"{self.what} refused the read: {exc}")
                return 0
        half = len(pairs) // 2
        return await self.write(pairs[:half]) + await self.write(pairs[half:])
