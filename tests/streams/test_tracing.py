"""Trace context in Kafka headers (``streams.tracing``): inject and extract, the spans of the
stages' helpers, sampling, and the trace id in log lines."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from config.settings import SettingsError, load_settings
from config.tracing import TracingSettings
from streams import tracing
from streams.log_format import JsonFormatter
from tests.support import tracing as traced
from tests.support.tracing import Spans, traced_with

spans = traced.spans  # the fixture

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
SPAN_ID = "b7ad6b7169203331"
PARENT = f"00-{TRACE_ID}-{SPAN_ID}-01"


@dataclass(frozen=True)
class Message:
    topic: str = "alpr.plates.raw"
    partition: int = 3
    offset: int = 42
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def parsed(headers: list[tuple[str, bytes]] | None) -> tuple[str, str, str]:
    """(trace id, span id, flags) of the one traceparent in ``headers``."""
    (value,) = [v for n, v in headers or () if n == tracing.TRACEPARENT]
    version, trace_id, span_id, flags = value.decode().split("-")
    assert version == "00"
    return trace_id, span_id, flags


# Propagation alone: no tracer needed.


def test_extract_reads_the_traceparent_header_among_others() -> None:
    headers = [("alpr-dlq-attempts", b"2"), ("traceparent", PARENT.encode())]
    context = tracing.extract(headers)
    assert context is not None
    span = tracing.trace.get_current_span(context).get_span_context()
    assert format(span.trace_id, "032x") == TRACE_ID
    assert format(span.span_id, "016x") == SPAN_ID
    assert span.is_remote and span.trace_flags.sampled


@pytest.mark.parametrize(
    "headers",
    [
        None,
        [],
        [("other", b"x")],
        [("traceparent", b"")],
        [("traceparent", b"not a trace context")],
        [("traceparent", f"00-{'0' * 32}-{SPAN_ID}-01".encode())],  # all-zero trace id
        [("traceparent", b"\xff\xfe")],
        [("traceparent", PARENT.upper().encode())],  # W3C hex is lower case
        [("traceparent", f"ff-{TRACE_ID}-{SPAN_ID}-01".encode())],  # a forbidden version
        [("traceparent", f"{PARENT}-extra".encode())],  # version 00 has four fields
        [("traceparent", f"00-{TRACE_ID}-{'0' * 16}-01".encode())],  # all-zero span id
    ],
)
def test_extract_of_no_or_a_bad_traceparent_is_none(
    headers: list[tuple[str, bytes]] | None,
) -> None:
    assert tracing.extract(headers) is None


def test_a_later_version_is_read_for_the_fields_it_shares_with_00() -> None:
    context = tracing.extract([("traceparent", f"01-{TRACE_ID}-{SPAN_ID}-01-more".encode())])
    assert context is not None


def test_extract_takes_headers_as_faust_may_hand_them_a_dict() -> None:
    assert tracing.extract({"traceparent": PARENT.encode()}) is not None  # type: ignore[arg-type]


def test_inject_then_extract_round_trips_and_replaces_an_older_context() -> None:
    context = tracing.extract([("traceparent", PARENT.encode())])
    older = f"00-{'1' * 32}-{'2' * 16}-01".encode()
    headers = tracing.inject([("k", b"v"), ("traceparent", older)], context)
    assert headers[0] == ("k", b"v")
    assert parsed(headers) == (TRACE_ID, SPAN_ID, "01")
    assert tracing.extract(headers) is not None


def test_inject_without_a_span_adds_nothing() -> None:
    assert tracing.inject([("k", b"v")]) == [("k", b"v")]


# Off: nothing recorded, nothing added.


def test_off_by_default_every_helper_is_a_no_op() -> None:
    tracing.configure(TracingSettings(), "test")
    assert tracing.tracer() is None
    with tracing.consume("stage", Message(headers=[("traceparent", PARENT.encode())])) as span:
        assert span is None
        assert tracing.outgoing_headers() is None
        assert tracing.outgoing_headers([("k", b"v")]) == [("k", b"v")]
    with tracing.publish_spans("edge publish", [1, 2], lambda _: {"a": 1}) as headers:
        assert headers == [None, None]
    messages = [Message()]
    with tracing.spans_per_message("write", messages, carry=True) as carried:
        assert carried is messages


# On: spans in memory.


def test_a_stage_continues_the_trace_of_its_message_and_passes_it_on(spans: Spans) -> None:
    message = Message(headers=[("traceparent", PARENT.encode())])
    with tracing.consume("router route", message) as span:
        assert span is not None
        tracing.annotate(event_id="ev-1", camera="cam-1", missing=None)
        out = tracing.outgoing_headers([("k", b"v")])
    (done,) = spans.named("router route")
    assert done.kind is SpanKind.CONSUMER
    assert done.parent is not None and format(done.parent.span_id, "016x") == SPAN_ID
    assert format(done.context.trace_id, "032x") == TRACE_ID
    assert done.attributes is not None
    assert done.attributes["alpr.event_id"] == "ev-1"
    assert "alpr.missing" not in done.attributes
    assert done.attributes["messaging.destination.name"] == "alpr.plates.raw"
    assert done.attributes["messaging.kafka.offset"] == 42
    assert out is not None and out[0] == ("k", b"v")
    assert parsed(out) == (TRACE_ID, format(done.context.span_id, "016x"), "01")


def test_only_an_entry_stage_starts_a_trace_for_a_message_without_one(spans: Spans) -> None:
    with tracing.consume("alerts evaluate", Message()) as span:
        assert span is None
        assert tracing.outgoing_headers() is None
    with tracing.consume("router route", Message(), root=True) as span:
        assert span is not None
    (root,) = spans.finished()
    assert root.name == "router route" and root.parent is None


def test_a_failed_stage_marks_its_span(spans: Spans) -> None:
    with tracing.consume("router route", Message(), root=True) as span:
        tracing.fail(span, "malformed_avro")
    (done,) = spans.finished()
    assert done.status.status_code is StatusCode.ERROR
    assert done.status.description == "malformed_avro"


def test_a_batch_gets_one_span_per_traced_message_and_forwards_each_in_its_own(
    spans: Spans,
) -> None:
    other = f"00-{'3' * 32}-{'4' * 16}-01"
    messages = [
        Message(offset=1, headers=[("traceparent", PARENT.encode()), ("k", b"v")]),
        Message(offset=2),
        Message(offset=3, headers=[("traceparent", other.encode())]),
    ]
    with tracing.spans_per_message("rule_feed forward", messages, carry=True) as carried:
        assert carried[1] is messages[1]
    first, third = spans.named("rule_feed forward")
    assert format(first.context.trace_id, "032x") == TRACE_ID
    assert format(third.context.trace_id, "032x") == "3" * 32
    assert parsed(carried[0].headers)[:2] == (TRACE_ID, format(first.context.span_id, "016x"))
    assert ("k", b"v") in carried[0].headers
    assert parsed(carried[2].headers)[1] == format(third.context.span_id, "016x")
    assert messages[0].headers[0] == ("traceparent", PARENT.encode())  # originals untouched


def test_a_batch_that_fails_ends_its_spans_with_the_error(spans: Spans) -> None:
    messages = [Message(headers=[("traceparent", PARENT.encode())])]
    with (
        pytest.raises(RuntimeError),
        tracing.spans_per_message("projection pg write", messages),
    ):
        raise RuntimeError("database away")
    (done,) = spans.finished()
    assert done.status.status_code is StatusCode.ERROR
    assert "database away" in (done.status.description or "")


def test_publish_starts_one_trace_per_traced_item(spans: Spans) -> None:
    items = ["event-1", "status", "event-2"]
    attributes = {"event-1": {"alpr.event_id": "e1"}, "event-2": {"alpr.event_id": "e2"}}
    with tracing.publish_spans("edge publish", items, attributes.get) as headers:
        assert headers[1] is None
    first, second = spans.named("edge publish")
    assert first.parent is None and second.parent is None
    assert first.kind is SpanKind.PRODUCER
    assert first.context.trace_id != second.context.trace_id
    assert parsed(headers[0])[:2] == (
        format(first.context.trace_id, "032x"),
        format(first.context.span_id, "016x"),
    )


def test_a_trace_not_sampled_at_its_start_is_recorded_by_no_stage() -> None:
    for found in traced_with(TracingSettings(sample_ratio=0.0, export_interval_s=0.05)):
        with tracing.publish_spans("edge publish", ["e"], lambda _: {}) as (headers,):
            pass
        assert int(parsed(headers)[2], 16) & 1 == 0  # not sampled: the decision travels on
        with tracing.consume("router route", Message(headers=list(headers or ())), root=True):
            pass
        assert found.finished() == []


def test_unkept_traces_cost_no_span_at_any_stage() -> None:
    unkept = f"00-{TRACE_ID}-{SPAN_ID}-00".encode()
    for found in traced_with(TracingSettings(sample_ratio=0.0, export_interval_s=0.05)):
        with tracing.consume("router route", Message(), root=True) as span:
            assert span is None  # a new trace, not kept at ratio 0
            assert tracing.outgoing_headers() is None
        with tracing.consume("alerts evaluate", Message(headers=[("traceparent", unkept)])) as s:
            assert s is None
        messages = [Message(headers=[("traceparent", unkept)])]
        with tracing.spans_per_message("rule_feed forward", messages, carry=True) as carried:
            assert carried[0] is messages[0]  # forwarded as it came: still not kept
        assert found.finished() == []


def test_a_kept_trace_is_recorded_whatever_the_ratio() -> None:
    for found in traced_with(TracingSettings(sample_ratio=0.0, export_interval_s=0.05)):
        with tracing.consume(
            "alerts evaluate", Message(headers=[("traceparent", PARENT.encode())])
        ):
            pass
        assert [s.name for s in found.finished()] == ["alerts evaluate"]


def test_log_lines_carry_the_trace_id_of_the_current_span(spans: Spans) -> None:
    record = logging.LogRecord("alpr", logging.INFO, __file__, 1, "routed", None, None)
    with tracing.consume("router route", Message(headers=[("traceparent", PARENT.encode())])):
        line = json.loads(JsonFormatter().format(record))
    assert line["trace_id"] == TRACE_ID
    assert "trace_id" not in json.loads(JsonFormatter().format(record))


# Settings.


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ALPR_TRACING__ENDPOINT", "127.0.0.1:4318"),  # no scheme
        ("ALPR_TRACING__ENDPOINT", "ftp://collector/v1/traces"),
        ("ALPR_TRACING__SAMPLE_RATIO", "1.5"),
        ("ALPR_TRACING__QUEUE_SIZE", "0"),
    ],
)
def test_bad_tracing_settings_are_refused_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()


def test_tracing_is_off_unless_an_endpoint_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALPR_TRACING__ENDPOINT", raising=False)
    assert load_settings().tracing.endpoint is None
    monkeypatch.setenv("ALPR_TRACING__ENDPOINT", "http://127.0.0.1:4318/v1/traces")
    assert load_settings().tracing.endpoint == "http://127.0.0.1:4318/v1/traces"
