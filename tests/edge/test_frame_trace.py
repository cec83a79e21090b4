"""An edge frame's trace (``edge.frame_trace``): the frame that completes plate events is the
root, its detection, plate search and OCR are its children with the times they ran, each
event's spooling is a child too, and the spooled event keeps the frame's context, which its
publish continues (``edge.publish.kafka``) and the Kafka headers carry on. Sampled at the frame:
a frame not kept makes no span and says so to every later stage."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan

from config.tracing import TracingSettings
from edge.frame_trace import FrameStages, frame_trace, spool_span
from edge.publish.kafka import EventPublisher, spooled_trace
from edge.publish.spool import Item, Spool
from streams import tracing
from tests.support import tracing as traced
from tests.support.tracing import Spans, traced_with

spans = traced.spans  # the fixture


@pytest.fixture
def publisher(tmp_path: Path) -> Iterator[EventPublisher]:
    # Nothing is sent: the spool and the publish spans are what is tested here (the real
    # broker's part is tests/integration/test_tracing.py's).
    spool = Spool(tmp_path / "events.db")
    yield EventPublisher(spool, "127.0.0.1:9", "http://127.0.0.1:9")
    spool.close()


def spool_event(publisher: EventPublisher, event_id: str) -> None:
    with spool_span(event_id, "gate-1", preview=False):
        datum = {"event_id": event_id, "camera_id": "gate-1"}
        publisher.enqueue("alpr.plates.raw", "gate-1", "PlateEvent", datum)


def a_frame(stages: FrameStages) -> None:
    """A frame that detected, then searched a plate (locate and OCR reported together),
    each stage reported once at least as long as it says it took has passed."""
    stages.begin()
    time.sleep(0.003)
    stages.observe("gate", 0.1)  # no span of its own
    stages.observe("detect", 2.0)
    time.sleep(0.005)
    stages.observe("locate", 3.0)
    stages.observe("ocr", 1.0)


def times(span: ReadableSpan) -> tuple[int, int]:
    assert span.start_time is not None and span.end_time is not None
    return span.start_time, span.end_time


def published_headers(publisher: EventPublisher) -> list[list[tuple[str, bytes]] | None]:
    items = publisher.spool.peek(10)
    with tracing.publish_spans("edge publish", items, _attributes, spooled_trace) as headers:
        pass
    return headers


def _attributes(item: Item) -> dict[str, str]:
    return {"alpr.event_id": json.loads(item.value)["event_id"]}


def test_a_frame_with_events_is_the_root_of_their_traces(
    spans: Spans, publisher: EventPublisher
) -> None:
    stages = FrameStages()
    a_frame(stages)
    with frame_trace(stages, "gate-1", 41, events=2):
        spool_event(publisher, "e1")
        spool_event(publisher, "e2")
    headers = published_headers(publisher)

    (frame,) = spans.named("edge frame")
    assert frame.parent is None
    assert frame.start_time == stages.started_ns
    assert frame.attributes == {"alpr.camera": "gate-1", "alpr.events": 2, "alpr.frame": 41}
    children = {s.name: s for s in spans.finished() if s.parent == frame.context}
    assert {"edge detect", "edge locate", "edge ocr"} <= set(children)
    detect, locate, ocr = (times(children[f"edge {n}"]) for n in ("detect", "locate", "ocr"))
    assert locate[1] == ocr[0]  # the search located, then read
    assert locate[1] - locate[0] == 3_000_000
    assert stages.started_ns <= detect[0] and detect[1] <= locate[0]
    spooled = [s for s in spans.named("edge spool") if s.parent == frame.context]
    assert sorted(str((s.attributes or {})["alpr.event_id"]) for s in spooled) == ["e1", "e2"]

    # Each event's publish continues the frame's trace, and its message carries the publish.
    published = spans.named("edge publish")
    assert len(published) == 2
    for span, carried in zip(published, headers, strict=True):
        assert span.context.trace_id == frame.context.trace_id
        assert span.parent is not None and span.parent.span_id == frame.context.span_id
        (value,) = [v for n, v in carried or () if n == tracing.TRACEPARENT]
        assert value == tracing.format_traceparent(span.context)


def test_a_frame_not_sampled_makes_no_span_and_its_events_say_so(
    publisher: EventPublisher,
) -> None:
    for found in traced_with(TracingSettings(sample_ratio=0.0, export_interval_s=0.05)):
        stages = FrameStages()
        a_frame(stages)
        with frame_trace(stages, "gate-1", 7, events=1) as span:
            assert span is None
            spool_event(publisher, "e1")
        (carried,) = published_headers(publisher)
        meta = json.loads(publisher.spool.peek(1)[0].meta)
        assert meta["traceparent"].endswith("-00")  # the frame's decision, spooled
        (value,) = [v for n, v in carried or () if n == tracing.TRACEPARENT]
        assert value.decode() == meta["traceparent"]  # and sent on: the router starts none
        assert found.finished() == []


def test_with_tracing_off_nothing_is_spooled_or_sent_but_the_event(
    publisher: EventPublisher,
) -> None:
    tracing.configure(TracingSettings(), "test")
    with frame_trace(None, "gate-1", 7, events=1):
        spool_event(publisher, "e1")
    assert json.loads(publisher.spool.peek(1)[0].meta) == {
        "topic": "alpr.plates.raw",
        "record": "PlateEvent",
    }
    assert published_headers(publisher) == [None]


def test_events_of_a_sources_end_get_a_root_of_their_own(
    spans: Spans, publisher: EventPublisher
) -> None:
    stages = FrameStages()
    a_frame(stages)  # the last frame's stages are not the end's
    with frame_trace(stages, "gate-1", None, events=1):
        spool_event(publisher, "e1")
    (root,) = spans.named("edge finish")
    assert root.parent is None and "alpr.frame" not in (root.attributes or {})
    assert [s.name for s in spans.finished() if s.parent == root.context] == ["edge spool"]
