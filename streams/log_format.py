"""Log lines as JSON, one object a line, the same in every process (worker, edge, CLI), for a
log collector to read without a parser per process.

Each line has ``time`` (UTC, ISO 8601 to the millisecond), ``level``, ``logger`` and
``message``; and, where known, ``trace_id``, ``camera`` and ``event_id``: given to one call
(``log.info(..., extra={"camera": cam})``) or to everything logged inside a block, across
awaits, through context variables (``with log_context(camera=cam, event_id=eid): ...``). A
failure's traceback is in ``exc``.

Every ``alpr`` command runs under a Faust worker, which sets the log handlers up from the app's
``logging_config``; :func:`logging_config` gives the one that puts this formatter in place of
Faust's (``log_format: json``), or None to keep Faust's text lines (the default).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

from opentelemetry import trace

#: The fields a line carries where they are known, in this order.
CONTEXT_FIELDS = ("trace_id", "camera", "event_id")

_context: dict[str, ContextVar[str | None]] = {
    name: ContextVar(f"alpr_log_{name}", default=None) for name in CONTEXT_FIELDS
}


@contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Within the block (and the tasks it starts), every line carries ``fields``."""
    unknown = set(fields) - set(CONTEXT_FIELDS)
    if unknown:
        raise ValueError(f"log_context: unknown fields {sorted(unknown)}; known: {CONTEXT_FIELDS}")
    tokens = [(_context[name], _context[name].set(value)) for name, value in fields.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def context_of(record: logging.LogRecord) -> dict[str, str]:
    """The context fields of ``record``: its own (``extra=``) or else the block's; the trace
    id, given neither way, is the current span's (``streams.tracing``) when there is one."""
    found = {}
    for name in CONTEXT_FIELDS:
        value = getattr(record, name, None) or _context[name].get()
        if value:
            found[name] = str(value)
    if "trace_id" not in found:
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            found = {"trace_id": format(span.trace_id, "032x"), **found}
    return found


class JsonFormatter(logging.Formatter):
    """A log record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **context_of(record),
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def logging_config(log_format: Literal["text", "json"]) -> dict[str, Any] | None:
    """A ``logging_config`` for the Faust app: its own handlers kept (merged), both of its
    formatters (``default`` for a log file, ``colored`` for the console) made JSON."""
    if log_format == "text":
        return None
    json_formatter = {"()": f"{__name__}.JsonFormatter"}
    return {"merge": True, "formatters": {"default": json_formatter, "colored": json_formatter}}


def install(log_format: Literal["text", "json"], level: int = logging.INFO) -> None:
    """Log lines of a process no Faust worker sets up (a spawned child, e.g. an edge process)
    to stderr at ``level`` in ``log_format``."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s")
        )
    logging.basicConfig(level=level, handlers=[handler], force=True)
