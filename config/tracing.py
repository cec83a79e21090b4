"""The ``tracing`` section (``ALPR_TRACING__*``): where OpenTelemetry spans go, how many traces
are kept, and how much a process may hold back while the collector is slow or away.

Tracing is off until ``endpoint`` is set; then every stage a plate read passes (the edge's
frame, detection, OCR, spool and publish, router, rule feed, alert agent, notifier,
projections) and every web request records a span,
and the spans of one read join one trace through the ``traceparent`` header of its Kafka
messages (``streams.tracing``).
"""

from __future__ import annotations

from pydantic import Field

from config.section import Section


class TracingSettings(Section):
    endpoint: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/]+(/\S*)?$",
        max_length=500,
        description="OTLP/HTTP traces endpoint spans are exported to, e.g. "
        "http://127.0.0.1:4318/v1/traces (the stack's Jaeger: `ops/stack env`); "
        "none: tracing is off and costs nothing",
    )
    sample_ratio: float = Field(
        default=1.0,
        ge=0.0,
        le=1.0,
        description="Share of new traces kept, decided where a trace starts (an edge's "
        "frame, a web request); every later stage follows that decision",
    )
    queue_size: int = Field(
        default=4096,
        ge=16,
        le=1_000_000,
        description="Finished spans a process holds while they wait for export; more are "
        "dropped and counted in alpr_trace_spans_dropped_total, never waited for",
    )
    batch_size: int = Field(
        default=512, ge=1, le=10_000, description="Most spans sent in one export request"
    )
    export_interval_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="Longest wait, seconds, before waiting spans are exported",
    )
    export_timeout_s: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="Seconds one export request may take; spans of a request that fails are "
        "dropped and counted",
    )
