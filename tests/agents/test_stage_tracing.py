"""The stages carry a read's trace on (``streams.tracing``): the router's read continues the
raw event's trace in its headers, the rule feed evaluates each read in its own trace and
its alert carries it on, and with tracing off nothing is added to any message."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest

import tests.agents.test_route_raw_reads as routing
from agents.alerting.rule_book import RULE_BOOK
from config.tracing import TracingSettings
from streams import tracing
from streams.batch_consumer import Batch
from streams.codec import SchemaCache
from tests.agents.feed_harness import ALERTS_TOPIC, FeedHarness, plate_read, use_rules
from tests.support import tracing as traced
from tests.support.streams import encode_plate_event
from tests.support.tracing import Spans

spans = traced.spans  # the fixture

pytestmark = pytest.mark.usefixtures("router_settings")
harness = routing.harness  # the fixture, shared

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def traceparent(headers: list[tuple[str, bytes]] | None) -> list[str]:
    return [v.decode() for n, v in headers or () if n == tracing.TRACEPARENT]


def sent_reads(harness: routing.Harness) -> list[Any]:
    return [s for s in harness.producer.sent if s.topic == routing.DETECTED]


async def test_a_routed_read_goes_on_in_the_events_trace(
    harness: routing.Harness, schema_cache: SchemaCache, spans: Spans
) -> None:
    event_id = str(uuid.uuid4())
    payload = encode_plate_event(schema_cache, event_id=event_id, camera_id="cam-7")
    await harness.route(harness.record(payload, headers=[("traceparent", PARENT.encode())]))
    (route,) = spans.named("router route")
    assert format(route.context.trace_id, "032x") == TRACE_ID
    assert route.attributes is not None
    assert route.attributes["alpr.event_id"] == event_id
    assert route.attributes["alpr.camera"] == "cam-7"
    (read,) = sent_reads(harness)
    (value,) = traceparent(read.headers)
    assert value.split("-")[1:3] == [TRACE_ID, format(route.context.span_id, "016x")]


async def test_an_event_without_a_trace_starts_one_at_the_router(
    harness: routing.Harness, schema_cache: SchemaCache, spans: Spans
) -> None:
    await harness.route(harness.record(encode_plate_event(schema_cache)))
    (route,) = spans.named("router route")
    assert route.parent is None
    (read,) = sent_reads(harness)
    assert traceparent(read.headers)[0].split("-")[1] == format(route.context.trace_id, "032x")


async def test_a_dead_letter_ends_the_routers_span_in_error(
    harness: routing.Harness, spans: Spans
) -> None:
    await harness.route(harness.record(b"not avro", headers=[("traceparent", PARENT.encode())]))
    (route,) = spans.named("router route")
    assert route.status.description == "wrong_magic"


async def test_with_tracing_off_the_router_adds_no_headers(
    harness: routing.Harness, schema_cache: SchemaCache
) -> None:
    tracing.configure(TracingSettings(), "test")
    await harness.route(
        harness.record(encode_plate_event(schema_cache), headers=[("traceparent", PARENT.encode())])
    )
    (read,) = sent_reads(harness)
    assert read.headers is None


async def test_the_rule_feed_evaluates_each_read_in_its_trace_and_its_alert_goes_on_in_it(
    spans: Spans,
) -> None:
    RULE_BOOK.rules.clear()
    RULE_BOOK.ready.set()
    try:
        use_rules({"type": "watchlist", "name": "stolen", "plates": ["AB123CD"]})
        feed = FeedHarness()
        traced_read = feed.record(plate_read(1))
        traced_read = dataclasses.replace(traced_read, headers=[("traceparent", PARENT.encode())])
        untraced = feed.record(plate_read(2))
        await feed.feed.handle(Batch([traced_read, untraced], 0))
    finally:
        RULE_BOOK.rules.clear()
    (evaluate,) = spans.named("alerts evaluate")  # the untraced read starts no trace
    assert format(evaluate.context.trace_id, "032x") == TRACE_ID
    first, second = feed.sent_to(ALERTS_TOPIC)
    (value,) = traceparent(first.headers)
    assert value.split("-")[1:3] == [TRACE_ID, format(evaluate.context.span_id, "016x")]
    assert traceparent(second.headers) == []
