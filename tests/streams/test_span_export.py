"""The bounded span export (``streams.span_export``): a slow, failing or absent collector
costs dropped spans, counted and logged once per outage, never a wait."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from config.tracing import TracingSettings
from streams import span_export, tracing
from streams.span_export import DROPPED, EXPORTED, BoundedSpanExport


class Collector(SpanExporter):
    """An exporter that fails while ``down`` and waits on ``gate`` (when given) in each export."""

    def __init__(self) -> None:
        self.down = False
        self.gate: threading.Event | None = None
        self.received: list[str] = []
        self.calls = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.calls += 1
        if self.gate is not None:
            self.gate.wait(10)
        if self.down:
            logging.getLogger("test.exporter").warning("connection refused")
            return SpanExportResult.FAILURE
        self.received += [span.name for span in spans]
        return SpanExportResult.SUCCESS


def dropped(reason: str) -> float:
    return DROPPED.labels(reason)._value.get()


@pytest.fixture
def collector() -> Collector:
    return Collector()


@pytest.fixture
def export(collector: Collector) -> Iterator[BoundedSpanExport]:
    processor = BoundedSpanExport(collector, queue_size=4, batch_size=2, interval_s=0.05)
    logging.getLogger("test.exporter").addFilter(processor.log_filter)
    yield processor
    logging.getLogger("test.exporter").removeFilter(processor.log_filter)
    processor.shutdown(1.0)


def finish(processor: BoundedSpanExport, *names: str) -> None:
    provider = TracerProvider()
    provider.add_span_processor(processor)
    for name in names:
        provider.get_tracer("test").start_span(name).end()


def test_spans_are_exported_in_batches(export: BoundedSpanExport, collector: Collector) -> None:
    before = EXPORTED._value.get()
    finish(export, "a", "b", "c")
    assert export.force_flush(5000)
    assert collector.received == ["a", "b", "c"]
    assert EXPORTED._value.get() - before == 3


def test_a_full_queue_drops_and_counts_without_waiting_and_says_so_once(
    export: BoundedSpanExport, collector: Collector, caplog: pytest.LogCaptureFixture
) -> None:
    collector.gate = threading.Event()  # the collector hangs
    finish(export, "first")
    deadline = time.monotonic() + 5
    while collector.calls == 0 and time.monotonic() < deadline:
        time.sleep(0.01)  # the first span is in an export that does not return
    before = dropped("queue_full")
    started = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger=span_export.__name__):
        finish(export, *(f"s{i}" for i in range(10)))
    assert time.perf_counter() - started < 0.5
    assert dropped("queue_full") - before == 6  # 4 queued, 6 dropped
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
    assert "span queue full" in caplog.records[0].message
    collector.gate.set()
    assert export.force_flush(5000)
    assert collector.received == ["first", "s0", "s1", "s2", "s3"]


def test_a_collector_away_costs_counted_spans_and_two_log_lines(
    export: BoundedSpanExport, collector: Collector, caplog: pytest.LogCaptureFixture
) -> None:
    collector.down = True
    before = dropped("export_failed")
    with caplog.at_level(logging.WARNING):
        for round_ in range(3):
            finish(export, f"x{round_}", f"y{round_}")
            assert export.force_flush(5000)
        assert dropped("export_failed") - before == 6
        collector.down = False
        finish(export, "back")
        assert export.force_flush(5000)
    lines = [r.getMessage() for r in caplog.records]
    assert lines.count("connection refused") == 1  # the exporter's own line, once
    assert sum("not accepted by" in line for line in lines) == 1
    assert sum("reach the trace collector again" in line for line in lines) == 1
    assert collector.received == ["back"]


def test_shutdown_with_a_hanging_collector_returns_in_its_time(collector: Collector) -> None:
    collector.gate = threading.Event()
    processor = BoundedSpanExport(collector, queue_size=8, batch_size=1, interval_s=0.05)
    finish(processor, "a", "b")
    started = time.perf_counter()
    processor.shutdown(0.3)
    assert time.perf_counter() - started < 2
    collector.gate.set()


@pytest.mark.parametrize(
    ("queue_size", "batch_size", "interval_s", "named"),
    [(0, 1, 1.0, "queue_size"), (4, 5, 1.0, "batch_size"), (4, 2, 0.0, "interval_s")],
)
def test_bad_arguments_are_named(
    collector: Collector, queue_size: int, batch_size: int, interval_s: float, named: str
) -> None:
    with pytest.raises(ValueError, match=named):
        BoundedSpanExport(collector, queue_size, batch_size, interval_s)


def test_no_collector_listening_costs_dropped_spans_not_waits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The real OTLP exporter at a port nobody listens on: spans are made and dropped,
    nothing blocks, and the outage is reported once."""
    settings = TracingSettings(
        endpoint="http://127.0.0.1:9/v1/traces", export_interval_s=0.05, export_timeout_s=0.5
    )
    before = dropped("export_failed")
    with caplog.at_level(logging.WARNING):
        assert tracing.configure(settings, "test")
        try:
            active = tracing.tracer()
            assert active is not None
            started = time.perf_counter()
            for i in range(200):
                active.start_span(f"s{i}").end()
            assert time.perf_counter() - started < 0.5
            assert tracing.flush(10.0)
        finally:
            tracing.configure(TracingSettings(), "test")
    assert dropped("export_failed") - before == 200
    ours = [r for r in caplog.records if r.name == span_export.__name__]
    assert len(ours) == 1 and "127.0.0.1:9" in ours[0].getMessage()
