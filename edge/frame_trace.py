"""A plate event's trace at the edge, from the frame that completed it (``streams.tracing``).

A camera's thread times each stage of its pipeline (``CameraPipeline``'s observer); while
tracing is on, :class:`FrameStages` also keeps when each stage of the current frame ran. A
frame that completes plate events (most complete none) then gets its trace
(:func:`frame_trace`): an ``edge frame`` root span from the frame's start, with ``edge
detect``, ``edge locate`` and ``edge ocr`` children made from the times kept, and an ``edge
spool`` child per event (:func:`spool_span`), for the spooling of the event and its crops. The
spooled event keeps the frame's context, and its publish (``edge publish``,
``edge.publish.kafka``), one more child of the frame, carries the trace on in the Kafka headers
to the router and every stage after it. Whether a trace is kept is decided at the frame
(``sample_ratio``); a frame not kept marks its events so, and no later stage starts a trace of
its own for them.

Frames without events get no span: a trace per frame (ten a second per camera) would bury the
events' traces and fill a trace store's bound within minutes, while the stage histograms
(``alpr_edge_stage_seconds``) already say where every frame's time goes. Events a source's end
completes (no frame: ``CameraPipeline.finish``) get an ``edge finish`` root instead.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from opentelemetry.trace import Span

from streams import tracing

#: The pipeline's stages that get a span of their own, by the name the observer reports.
STAGE_SPANS = {"detect": "edge detect", "locate": "edge locate", "ocr": "edge ocr"}


class FrameStages:
    """When the stages of a camera's current frame ran (used by that camera's thread only)."""

    def __init__(self) -> None:
        self.started_ns = time.time_ns()
        #: (stage, start, end) in nanoseconds since the epoch, in the order reported.
        self.stages: list[tuple[str, int, int]] = []

    def begin(self) -> None:
        """A new frame: forget the last one's stages."""
        self.started_ns = time.time_ns()
        self.stages.clear()

    def observe(self, stage: str, ms: float) -> None:
        """A stage that took ``ms`` and has just ended."""
        if stage not in STAGE_SPANS:
            return
        end = time.time_ns()
        start = end - int(ms * 1e6)
        if stage == "ocr" and self.stages and self.stages[-1][0] == "locate":
            # A plate search reports its locate and OCR times together once both are done:
            # the locate ended where the OCR began.
            _, located, reported = self.stages[-1]
            self.stages[-1] = ("locate", start - (reported - located), start)
        self.stages.append((stage, start, end))


@contextmanager
def frame_trace(
    stages: FrameStages | None, camera: str, frame: int | None, events: int
) -> Iterator[Span | None]:
    """The trace of a frame (``frame``: its number; None: the source's end) that completed
    ``events`` plate events, current within the block, where they are spooled. Nothing when
    tracing is off (``stages`` None)."""
    if stages is None:
        yield None
        return
    name = "edge frame" if frame is not None else "edge finish"
    attributes: dict[str, str | int] = {"alpr.camera": camera, "alpr.events": events}
    if frame is not None:
        attributes["alpr.frame"] = frame
    started = stages.started_ns if frame is not None else None
    with tracing.root_span(name, attributes, started) as span:
        if frame is not None:
            for stage, start, end in stages.stages:
                tracing.past_span(STAGE_SPANS[stage], start, end)
        yield span


def spool_span(event_id: str, camera: str, preview: bool) -> AbstractContextManager[Span | None]:
    """The span of one event's spooling (its crops, then the event), a child of its frame's.
    The frame's span stays current: the event spools its context, so its publish is the
    frame's child too, beside the spooling."""
    attributes = {"alpr.event_id": event_id, "alpr.camera": camera, "alpr.preview": preview}
    return tracing.child_span("edge spool", attributes, current=False)
