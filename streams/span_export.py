"""Finished spans to an exporter in the background, in a bounded queue that never blocks.

A traced stage must not slow down or stop because the trace collector is slow or away:
:class:`BoundedSpanExport` takes a finished span in constant time on the stage's thread and
drops it, counted, when its queue is full; one thread of its own sends batches to the
exporter (OTLP over HTTP in production). A batch the exporter fails to send is dropped and
counted too, not retried by us (the exporter retries within its own timeout).

Drops are counted in ``alpr_trace_spans_dropped_total{reason}`` and logged once per outage:
one warning when spans are first lost, one line when exports work again. The OTLP exporter
logs every failed request itself; :class:`OutageLogFilter` lets its lines through only until
the outage has been reported, so an hour without a collector is two lines, not thousands.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from prometheus_client import Counter

log = logging.getLogger(__name__)

DROPPED = Counter(
    "alpr_trace_spans_dropped_total",
    "Finished spans not exported: the queue was full (queue_full) or the collector refused "
    "or did not answer (export_failed)",
    ["reason"],
)
EXPORTED = Counter("alpr_trace_spans_exported_total", "Spans the trace collector accepted")


class OutageLogFilter(logging.Filter):
    """Passes an exporter's lines until the export it is part of has been reported as
    failing; passes them again once exports have worked."""

    def __init__(self) -> None:
        super().__init__()
        self.reported = False

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.reported


class BoundedSpanExport(SpanProcessor):
    """A span processor with a bounded queue and one exporting thread."""

    def __init__(
        self,
        exporter: SpanExporter,
        queue_size: int,
        batch_size: int,
        interval_s: float,
        destination: str = "the trace collector",
        log_filter: OutageLogFilter | None = None,
    ) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size!r}")
        if not 1 <= batch_size <= queue_size:
            raise ValueError(
                f"batch_size must be in 1..queue_size ({queue_size}), got {batch_size!r}"
            )
        if interval_s <= 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s!r}")
        self.exporter = exporter
        self.queue_size = queue_size
        self.batch_size = batch_size
        self.interval_s = interval_s
        self.destination = destination
        self.log_filter = log_filter or OutageLogFilter()
        self._queue: deque[ReadableSpan] = deque()
        self._wake = threading.Event()
        #: Spans queued or being exported; ``_settled`` is notified when it falls to 0.
        self._pending = 0
        self._settled = threading.Condition()
        self._stopping = False
        self._full_reported = False
        self._thread = threading.Thread(target=self._run, name="alpr-span-export", daemon=True)
        self._thread.start()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        if not span.context.trace_flags.sampled or self._stopping:
            return
        if len(self._queue) >= self.queue_size:
            DROPPED.labels("queue_full").inc()
            if not self._full_reported:
                self._full_reported = True
                log.warning(
                    "tracing: span queue full (%d spans): %s is slow or away; finished spans "
                    "are dropped and counted in alpr_trace_spans_dropped_total",
                    self.queue_size, self.destination,
                )  # fmt: skip
            return
        with self._settled:
            self._pending += 1
        self._queue.append(span)
        if len(self._queue) >= self.batch_size:
            self._wake.set()

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self.interval_s)
            self._wake.clear()
            self._export_waiting()
        self._export_waiting()

    def _export_waiting(self) -> None:
        while self._queue:
            batch = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
            self._export(batch)
            with self._settled:
                self._pending -= len(batch)
                if self._pending == 0:
                    self._settled.notify_all()

    def _export(self, batch: Sequence[ReadableSpan]) -> None:
        try:
            result = self.exporter.export(batch)
        except Exception as exc:  # an exporter bug must not end the thread
            log.debug("tracing: exporter raised %r", exc)
            result = SpanExportResult.FAILURE
        if result is SpanExportResult.SUCCESS:
            EXPORTED.inc(len(batch))
            if self.log_filter.reported:
                log.warning("tracing: spans reach %s again", self.destination)
            self.log_filter.reported = False
            self._full_reported = False
            return
        DROPPED.labels("export_failed").inc(len(batch))
        if not self.log_filter.reported:
            self.log_filter.reported = True
            log.warning(
                "tracing: %d spans not accepted by %s; spans are dropped and counted in "
                "alpr_trace_spans_dropped_total until it answers (not logged again)",
                len(batch), self.destination,
            )  # fmt: skip

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Export what waits now; True once done within ``timeout_millis``."""
        self._wake.set()
        with self._settled:
            return self._settled.wait_for(lambda: self._pending == 0, timeout_millis / 1000)

    def shutdown(self, timeout_s: float = 2.0) -> None:
        """Stop taking spans, export what waits (for at most ``timeout_s``), close the
        exporter. The thread is a daemon: a collector that does not answer never holds the
        process's exit for longer."""
        if self._stopping:
            return
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout_s)
        left = len(self._queue)
        self._queue.clear()
        if left:
            DROPPED.labels("export_failed").inc(left)
        self.exporter.shutdown()
