"""JSON log lines: the fields every line has, the context a block or a call gives, failures
with their traceback; the setting that switches them on, through Faust's logging set-up."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config.settings import Settings
from streams.log_format import JsonFormatter, log_context, logging_config


@pytest.fixture
def lines() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("alpr.test.log_format")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    yield log, out
    log.removeHandler(handler)


def read(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_line_has_time_level_logger_and_message(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    log, out = lines
    log.warning('camera %s is "silent" ✓', "cam-1")
    (line,) = read(out)
    assert line.keys() == {"time", "level", "logger", "message"}
    assert line["level"] == "WARNING" and line["logger"] == "alpr.test.log_format"
    assert line["message"] == 'camera cam-1 is "silent" ✓'
    assert line["time"].endswith("+00:00") and len(line["time"]) == len(
        "2026-01-01T00:00:00.000+00:00"
    )


def test_a_block_and_a_call_give_the_trace_camera_and_event(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    log, out = lines

    async def in_a_task() -> None:
        log.info("routed")

    async def block() -> None:
        with log_context(trace_id="4bf92f3577b34da6a3ce929d0e0e4736", camera="cam-1"):
            with log_context(event_id="e-1"):
                await asyncio.create_task(in_a_task())
            log.info("after the event", extra={"event_id": "e-2"})
        log.info("outside")

    asyncio.run(block())
    routed, after, outside = read(out)
    assert routed["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert (routed["camera"], routed["event_id"]) == ("cam-1", "e-1")
    assert (after["camera"], after["event_id"]) == ("cam-1", "e-2")
    assert "camera" not in outside and "trace_id" not in outside
    with pytest.raises(ValueError, match="unknown fields \\['plate'\\]"):
        with log_context(plate="AB12CDE"):
            pass


def test_a_failure_carries_its_traceback(lines: tuple[logging.Logger, io.StringIO]) -> None:
    log, out = lines
    try:
        raise RuntimeError("store down")
    except RuntimeError:
        log.exception("write failed")
    (line,) = read(out)
    assert line["message"] == "write failed" and line["level"] == "ERROR"
    assert line["exc"].startswith("Traceback") and "RuntimeError: store down" in line["exc"]


def test_the_setting_is_text_by_default_and_json_on_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ALPR_LOG_FORMAT", raising=False)
    assert Settings().log_format == "text" and logging_config("text") is None  # type: ignore[call-arg]
    monkeypatch.setenv("ALPR_LOG_FORMAT", "json")
    assert Settings().log_format == "json"  # type: ignore[call-arg]
    monkeypatch.setenv("ALPR_LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="log_format"):
        Settings()  # type: ignore[call-arg]


#: Run in a process of its own: Faust's set-up (logging.config.dictConfig) closes every
#: handler of the process, pytest's own among them.
_FAUST_SETUP = """
import json, logging, sys
from mode.utils.logging import setup_logging
from streams.log_format import install, log_context, logging_config

setup_logging(loglevel="INFO", logfile=None, logging_config=logging_config("json"))
with log_context(camera="cam-9"):
    logging.getLogger("alpr.worker").info("started")
install("json", logging.INFO)  # a spawned process: one handler on stderr
logging.getLogger("edge").warning("reconnecting")
"""


def test_faust_sets_the_console_up_with_json_lines() -> None:
    """The handlers a Faust worker makes (mode's ``setup_logging``) with the app's config,
    then those of a spawned process (``install``): every line is JSON with its context."""
    done = subprocess.run(
        [sys.executable, "-c", _FAUST_SETUP],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in (done.stdout + done.stderr).splitlines() if line]
    assert [(x["logger"], x["message"]) for x in lines] == [
        ("alpr.worker", "started"),
        ("edge", "reconnecting"),
    ]
    assert lines[0]["camera"] == "cam-9"
