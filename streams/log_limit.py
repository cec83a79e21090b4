"""Repeated log lines, rate-limited: an outage is said a few times, not thousands.

During a 40 s Kafka outage a worker wrote 16,782 ERROR and WARNING lines, 8,373 of them
aiokafka's "Unable connect to node with id 1" (issue 17, finding 6): the log hid everything
else and filled the disk. :class:`RepeatLimiter` lets the first ``burst`` records of one
kind through in each ``window_s``, drops the rest of that window, and adds the number
dropped to the next record of the kind it lets through. A kind is the logger, the level and
the message template (``record.msg`` before its arguments) and its text arguments, so
"Unable connect to node with id %s: %s" is one kind whatever the node (a number) and error,
while "%s failed (%d times): %r" of the PostgreSQL writer and of the Elasticsearch writer
are two (one store's outage must not hide the other's).

It is installed on the root logger's handlers (:func:`limit_repeated_lines`), so it sees the
records of every library that propagates to them: aiokafka, Faust, mode and the project.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

#: More kinds than this at once (messages built with f-strings are a kind each): forget the
#: kinds whose window has ended.
MAX_KINDS = 2048


@dataclass
class _Window:
    start: float
    passed: int = 1
    dropped: int = 0


class RepeatLimiter(logging.Filter):
    """Lets ``burst`` records of each kind through per ``window_s`` seconds."""

    def __init__(
        self, window_s: float = 10.0, burst: int = 3, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        if window_s <= 0:
            raise ValueError(f"window_s must be positive, got {window_s!r}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst!r}")
        self.window_s = window_s
        self.burst = burst
        self.clock = clock
        self._windows: dict[tuple[str, int, str, tuple[str, ...]], _Window] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        key = (
            record.name,
            record.levelno,
            str(record.msg),
            tuple(a for a in args if isinstance(a, str)),
        )
        now = self.clock()
        with self._lock:
            window = self._windows.get(key)
            if window is None or now - window.start >= self.window_s:
                dropped = window.dropped if window is not None else 0
                self._windows[key] = _Window(now)
                if len(self._windows) > MAX_KINDS:
                    self._forget_ended(now)
                if dropped:
                    _note_dropped(record, dropped, now - window.start if window else 0.0)
                return True
            if window.passed < self.burst:
                window.passed += 1
                return True
            window.dropped += 1
            return False

    def _forget_ended(self, now: float) -> None:
        ended = [k for k, w in self._windows.items() if now - w.start >= self.window_s]
        for key in ended:
            del self._windows[key]
        if len(self._windows) > MAX_KINDS:  # all of them live: start afresh
            self._windows.clear()


def _note_dropped(record: logging.LogRecord, dropped: int, over_s: float) -> None:
    # Appended to the template, outside its %-arguments; a literal % would break them.
    note = f" [{dropped} more like this in the last {over_s:.0f}s not logged]"
    record.msg = f"{record.msg}{note}"


def limit_repeated_lines(
    window_s: float = 10.0, burst: int = 3, logger: logging.Logger | None = None
) -> RepeatLimiter | None:
    """Put one :class:`RepeatLimiter` on every handler of ``logger`` (the root logger) that
    has none yet; returns it, or None when every handler had one already."""
    target = logger or logging.getLogger()
    bare = [h for h in target.handlers if not any(isinstance(f, RepeatLimiter) for f in h.filters)]
    if not bare:
        return None
    limiter = RepeatLimiter(window_s, burst)
    for handler in bare:
        handler.addFilter(limiter)
    return limiter
