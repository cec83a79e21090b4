"""Traces of a plate read's way through the platform: OpenTelemetry spans, one per stage, joined
into one trace per event by the W3C ``traceparent`` header of its Kafka messages.

The edge starts a read's trace at the frame that completed it (``edge.frame_trace``), spools
the context with the event, and its publish continues it and sends the context in the
message's headers; the router continues it (or starts one, for an event that came without),
and writes its own span's context into the headers of the read it sends; the rule feed, the
alert agent, the notifier and the projections continue the trace of each message they take,
and start none of their own. Web requests get server spans (continuing a caller's
``traceparent``). Whether a trace is kept is decided where it starts (``sample_ratio``) and
travels in the header's ``sampled`` flag: a trace not kept costs no span at any stage.

Off unless ``tracing.endpoint`` is set (``config.tracing``): then :func:`tracer` is None and
every helper here returns at once, so an untraced worker pays one check per message. On,
spans go to the endpoint by OTLP over HTTP from a bounded queue (``streams.span_export``): a
slow or absent collector costs dropped, counted spans, never a wait.

The tracer of a process is set up on first use from the settings (service ``alpr-worker``)
or by :func:`configure` (the edge: ``alpr-edge``; tests: an in-memory exporter). It is not
the OpenTelemetry global provider, which can be set once per process only.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import random
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Protocol, TypeVar, cast

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    Tracer,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from config.tracing import TracingSettings
from streams.span_export import BoundedSpanExport, OutageLogFilter

log = logging.getLogger(__name__)

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
#: The service name of the core worker's spans (the edge configures ``alpr-edge``).
WORKER_SERVICE = "alpr-worker"
#: Loggers of the OTLP exporter, whose lines repeat for every failed request.
EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.common.http",
)

#: Kafka message headers as aiokafka gives and takes them.
Headers = Sequence[tuple[str, bytes]]


class KafkaMessage(Protocol):
    """What a traced stage reads of a message (an aiokafka record, a bundled read)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def headers(self) -> Headers: ...


M = TypeVar("M", bound=KafkaMessage)
T = TypeVar("T")


def _pairs(headers: Headers | Mapping[str, bytes]) -> Iterable[tuple[str, bytes]]:
    """Header pairs; Faust hands a message's headers over as a list or as a dict."""
    return headers.items() if isinstance(headers, Mapping) else headers


#: W3C trace context, version 00 and the later versions' prefix of it. Parsed here rather
#: than by OpenTelemetry's text-map propagator: on the router's path per event, that one's
#: getters, string decoding and ``tracestate`` handling cost several times more.
_TRACEPARENT = re.compile(rb"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_PROPAGATOR = TraceContextTextMapPropagator()
_NO_SPAN: AbstractContextManager[None] = nullcontext()


def parse_traceparent(value: bytes) -> SpanContext | None:
    """The remote span context of a ``traceparent`` value, or None for a bad one."""
    found = _TRACEPARENT.fullmatch(value)
    if found is None:
        return None
    version, trace_hex, span_hex, flags, rest = found.groups()
    if version == b"ff" or (version == b"00" and rest):
        return None
    trace_id, span_id = int(trace_hex, 16), int(span_hex, 16)
    if not trace_id or not span_id:
        return None
    return SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(int(flags, 16)))


def format_traceparent(context: SpanContext) -> bytes:
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}".encode()


def extract(headers: Headers | None) -> Context | None:
    """The trace context in Kafka ``headers``, or None when they carry none (or a bad one).
    A ``tracestate`` is not carried: the platform sets none."""
    if not headers:
        return None
    for name, value in _pairs(headers):
        if name == TRACEPARENT and value:
            remote = parse_traceparent(bytes(value))
            if remote is None:
                return None
            return trace.set_span_in_context(NonRecordingSpan(remote))
    return None


def inject(
    headers: Headers | None = None, context: Context | None = None
) -> list[tuple[str, bytes]]:
    """``headers`` with the trace context of ``context`` (default: the current span) in place
    of any they had; unchanged but for that when there is no span."""
    out = [(n, v) for n, v in headers or () if n not in (TRACEPARENT, TRACESTATE)]
    span = trace.get_current_span(context).get_span_context()
    if span.is_valid:
        out.append((TRACEPARENT, format_traceparent(span)))
    return out


def extract_http(headers: Mapping[str, str]) -> Context | None:
    """The trace context of an HTTP request's headers (case-insensitive mapping), or None."""
    if TRACEPARENT not in headers:
        return None
    context = _PROPAGATOR.extract(headers)
    return context if trace.get_current_span(context).get_span_context().is_valid else None


class _Tracing:
    """The tracer of this process and what it owns."""

    def __init__(self, provider: TracerProvider, export: BoundedSpanExport, ratio: float) -> None:
        self.provider = provider
        self.export = export
        self.ratio = ratio
        self.tracer = provider.get_tracer("alpr")


_current: _Tracing | None = None
_configured = False


def configure(
    settings: TracingSettings, service: str, exporter: SpanExporter | None = None
) -> bool:
    """Set this process's tracer up from ``settings`` as ``service`` (replacing an earlier
    one). ``exporter`` overrides the OTLP exporter (tests). Returns whether tracing is on."""
    global _current, _configured
    shutdown()
    _configured = True
    if exporter is None:
        if settings.endpoint is None:
            return False
        exporter = _otlp_exporter(settings)
    log_filter = OutageLogFilter()
    for name in EXPORTER_LOGGERS:
        logging.getLogger(name).addFilter(log_filter)
    export = BoundedSpanExport(
        exporter,
        settings.queue_size,
        min(settings.batch_size, settings.queue_size),
        settings.export_interval_s,
        destination=settings.endpoint or type(exporter).__name__,
        log_filter=log_filter,
    )
    provider = TracerProvider(
        resource=Resource.create({"service.name": service}),
        # The decisions are taken here, before any span is made (``recorded``): a trace not
        # kept costs no span at all, not even a non-recording one.
        sampler=ParentBased(ALWAYS_ON),
    )
    provider.add_span_processor(export)
    _current = _Tracing(provider, export, settings.sample_ratio)
    return True


def configure_once(settings: TracingSettings, service: str) -> bool:
    """:func:`configure`, unless this process's tracer is set up already (several workers
    of one process share it). Returns whether tracing is on."""
    if not _configured:
        return configure(settings, service)
    return _current is not None


def _otlp_exporter(settings: TracingSettings) -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=settings.endpoint, timeout=settings.export_timeout_s)


def shutdown(timeout_s: float = 2.0) -> None:
    """Export the spans waiting (for at most ``timeout_s``) and stop tracing in this process."""
    global _current
    current, _current = _current, None
    if current is not None:
        current.export.shutdown(timeout_s)
        for name in EXPORTER_LOGGERS:
            logging.getLogger(name).removeFilter(current.export.log_filter)


atexit.register(shutdown)


def tracer() -> Tracer | None:
    """This process's tracer, or None when tracing is off (set up from the settings on the
    first call, unless :func:`configure` came first)."""
    if not _configured:
        from config.settings import get_settings

        configure(get_settings().tracing, WORKER_SERVICE)
    return _current.tracer if _current is not None else None


def flush(timeout_s: float = 5.0) -> bool:
    """Export every finished span now (tests, shutdown); True when done in time."""
    return _current is None or _current.export.force_flush(int(timeout_s * 1000))


def message_attributes(message: KafkaMessage) -> dict[str, Any]:
    """Where the message was read (few attributes: each costs in every span)."""
    return {
        "messaging.destination.name": message.topic,
        "messaging.destination.partition.id": str(message.partition),
        "messaging.kafka.offset": message.offset,
    }


def recorded(parent: Context | None) -> bool:
    """Whether a span continuing ``parent`` is recorded: the decision of the trace's start
    (its ``sampled`` flag), or for a new trace (None) one taken now at ``sample_ratio``."""
    if _current is None:
        return False
    if parent is not None:
        return bool(trace.get_current_span(parent).get_span_context().trace_flags.sampled)
    return _current.ratio >= 1.0 or random.random() < _current.ratio


def unsampled_headers() -> list[tuple[str, bytes]]:
    """Headers of a new trace not kept: the stages after say so, and start none of their own."""
    ids = SpanContext(random.getrandbits(128) or 1, random.getrandbits(64) or 1, False)
    return [(TRACEPARENT, format_traceparent(ids))]


def consume(
    name: str, message: KafkaMessage, root: bool = False
) -> AbstractContextManager[Span | None]:
    """A consumer span, current within the block, for the work on one Kafka ``message``:
    a child of the trace in its headers, or (``root``: a stage where events enter the core)
    a new trace. None (and no span) when tracing is off, when the message's trace was not
    kept (sampling), or when the message carries no trace and the stage starts none."""
    active = tracer()
    if active is None:
        return _NO_SPAN
    parent = extract(message.headers)
    if (parent is None and not root) or not recorded(parent):
        return _NO_SPAN
    return active.start_as_current_span(
        name, context=parent, kind=SpanKind.CONSUMER, attributes=message_attributes(message)
    )


def outgoing_headers(headers: Headers | None = None) -> list[tuple[str, bytes]] | None:
    """Headers for a message sent within the current span: ``headers`` with its trace
    context; ``headers`` as given when no span is recording (tracing off: no extra work)."""
    if _current is None or not trace.get_current_span().get_span_context().is_valid:
        return None if headers is None else list(headers)
    return inject(headers)


def annotate(**attributes: Any) -> None:
    """Set ``alpr.<name>`` attributes on the current span (a no-op without one)."""
    if _current is None:
        return
    span = trace.get_current_span()
    if span.is_recording():
        for name, value in attributes.items():
            if value is not None:
                span.set_attribute(f"alpr.{name}", value)


def fail(span: Span | None, reason: str) -> None:
    """Mark ``span`` (if any) as ended in an error of ``reason`` (a dead letter)."""
    if span is not None:
        span.set_status(Status(StatusCode.ERROR, reason))


@contextmanager
def spans_per_message(
    name: str, messages: Sequence[M], carry: bool = False
) -> Iterator[Sequence[M]]:
    """A consumer span for each traced message of a batch handled in one go (a projection's
    write, the rule feed's forward): all start before the block and end after it, with its
    error if it raised. Messages without a trace get none. Yields ``messages``; with
    ``carry``, copies of them whose headers carry their span's context instead (to forward)."""
    active = tracer()
    if active is None:
        yield messages
        return
    spans: list[Span | None] = []
    for message in messages:
        parent = extract(message.headers)
        spans.append(
            None
            if parent is None or not recorded(parent)
            else active.start_span(
                name, context=parent, kind=SpanKind.CONSUMER,
                attributes=message_attributes(message),
            )
        )  # fmt: skip
    with _ending(spans):
        yield [_carrying(m, s) for m, s in zip(messages, spans, strict=True)] if carry else messages


def _carrying(message: M, span: Span | None) -> M:
    if span is None:
        return message
    headers = inject(message.headers, trace.set_span_in_context(span))
    return cast(M, dataclasses.replace(cast(Any, message), headers=headers))


@contextmanager
def publish_spans(
    name: str,
    items: Sequence[T],
    attributes_of: Callable[[T], Mapping[str, Any] | None],
    parent_of: Callable[[T], Context | None] = lambda _: None,
) -> Iterator[list[list[tuple[str, bytes]] | None]]:
    """A producer span for each item about to be sent (an edge's events), ending after the
    block (the sends acknowledged): a child of the trace ``parent_of`` gives for the item
    (the frame that made it, carried through the spool; its sampling decision followed), or
    a new trace. ``attributes_of`` gives a span's attributes (asked only while tracing is
    on), None for an item not traced. Yields the headers each item's message is to carry
    (None: none)."""
    active = tracer()
    if active is None:
        yield [None] * len(items)
        return
    spans: list[Span | None] = []
    headers: list[list[tuple[str, bytes]] | None] = []
    for item in items:
        attributes = attributes_of(item)
        parent = None if attributes is None else parent_of(item)
        span = None
        if attributes is not None and recorded(parent):
            span = active.start_span(
                name, context=parent or Context(), kind=SpanKind.PRODUCER, attributes=attributes
            )
        spans.append(span)
        if span is not None:
            headers.append(inject(None, trace.set_span_in_context(span)))
        elif attributes is None:
            headers.append(None)
        else:  # a trace not kept still says so, lest the router start one
            headers.append(unsampled_headers() if parent is None else inject(None, parent))
    with _ending(spans):
        yield headers


@contextmanager
def root_span(
    name: str, attributes: Mapping[str, Any], start_time_ns: int | None = None
) -> Iterator[Span | None]:
    """A new trace, current within the block: its root span (``start_time_ns``: when the
    work began, if before the block), kept at ``sample_ratio``. A trace not kept makes no
    span; its context, marked not sampled, is current all the same, so what is sent within
    the block says so (:func:`current_traceparent`). Nothing when tracing is off."""
    active = tracer()
    if active is None:
        yield None
        return
    if not recorded(None):
        ids = SpanContext(random.getrandbits(128) or 1, random.getrandbits(64) or 1, False)
        with trace.use_span(NonRecordingSpan(ids), end_on_exit=False):
            yield None
        return
    with active.start_as_current_span(
        name, context=Context(), attributes=attributes, start_time=start_time_ns
    ) as span:
        yield span


def child_span(
    name: str, attributes: Mapping[str, Any] | None = None, current: bool = True
) -> AbstractContextManager[Span | None]:
    """A child of the current span for the block (ending with its error, if it raised),
    current within it unless ``current`` is False (what the block sends then carries the
    parent's context); none when no span records."""
    if _current is None or not trace.get_current_span().is_recording():
        return _NO_SPAN
    if current:
        return _current.tracer.start_as_current_span(name, attributes=attributes)
    return _ended(_current.tracer.start_span(name, attributes=attributes))


@contextmanager
def _ended(span: Span) -> Iterator[Span]:
    with _ending([span]):
        yield span


def past_span(
    name: str, start_ns: int, end_ns: int, attributes: Mapping[str, Any] | None = None
) -> None:
    """A child of the current span for work done before it was known to be traced, with
    the times measured then (an edge frame's detection and OCR)."""
    if _current is None or not trace.get_current_span().is_recording():
        return
    span = _current.tracer.start_span(name, attributes=attributes, start_time=start_ns)
    span.end(end_time=end_ns)


def current_traceparent() -> str | None:
    """The current span's ``traceparent`` (kept or not), for a message sent later to carry
    (an edge's spooled event); None without a span or with tracing off."""
    if _current is None:
        return None
    context = trace.get_current_span().get_span_context()
    return format_traceparent(context).decode() if context.is_valid else None


@contextmanager
def _ending(spans: Sequence[Span | None]) -> Iterator[None]:
    """End ``spans`` (those there are) after the block, with its error if it raised."""
    started = [span for span in spans if span is not None]
    try:
        yield
    except BaseException as exc:
        for span in started:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, repr(exc)))
        raise
    finally:
        for span in started:
            span.end()


def current_trace_id() -> str | None:
    """The current span's trace id in hex (for log lines), or None."""
    if _current is None:
        return None
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
