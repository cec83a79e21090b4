"""Tracing on, into memory, for unit tests of the traced stages (``streams.tracing``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from config.tracing import TracingSettings
from streams import tracing


class Spans:
    """The spans a test's code finished, once exported."""

    def __init__(self, exporter: InMemorySpanExporter) -> None:
        self.exporter = exporter

    def finished(self) -> list[ReadableSpan]:
        assert tracing.flush(5.0), "spans not exported within 5 s"
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [span for span in self.finished() if span.name == name]


def traced_with(settings: TracingSettings, service: str = "test") -> Iterator[Spans]:
    exporter = InMemorySpanExporter()
    tracing.configure(settings, service, exporter=exporter)
    try:
        yield Spans(exporter)
    finally:
        tracing.shutdown()
        tracing.configure(TracingSettings(), service)  # off again, as in every other test


@pytest.fixture
def spans() -> Iterator[Spans]:
    """Tracing on for the test (every trace sampled), spans kept in memory."""
    yield from traced_with(TracingSettings(export_interval_s=0.05))
