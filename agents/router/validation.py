"""Checks a decoded PlateEvent must pass before it becomes a PlateRead.

They work on the decoded datum (the dict fastavro returns, shaped by the PlateEvent schema)
rather than on a ``PlateEvent`` record: building a Faust record per event costs more than
everything else the router does to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from config.router import RouterSettings
from streams.failures import ProcessingError, Reason, Stage
from streams.plates import PlateTextError, normalise_plate
from streams.text import PLATE_EVENT_TEXT_LIMITS, plate_event_text_fault, text_fault

#: A UUID in its canonical text form.
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def validate_event(event: Mapping[str, Any], settings: RouterSettings, now: float) -> str:
    """Check a PlateEvent datum and return its normalised plate; ``ProcessingError`` names
    the first fault found."""
    _check_text(event)
    event_id = event["event_id"]
    _check_ids(event)
    plate = _plate(event, settings)
    _check_unit("plate_confidence", (event["plate_confidence"],), event_id)
    _check_unit("char_confidences", event["char_confidences"], event_id)
    _check_box("plate_box", event["plate_box"], event_id)
    if event["vehicle_box"] is not None:
        _check_box("vehicle_box", event["vehicle_box"], event_id)
    if event["location"] is not None:
        _check_location(event["location"], event_id)
    if event["frames_agreed"] < 1:
        raise _out_of_range(f"frames_agreed is {event['frames_agreed']}, expected >= 1", event_id)
    _check_capture_time(event, settings, now)
    return plate


def _check_text(event: Mapping[str, Any]) -> None:
    """Every text field by the contract's one rule (``streams.text``), first of all: the
    messages below quote field values, which must be known to be short and printable."""
    fault = plate_event_text_fault(event)
    if fault is not None:
        event_id = event["event_id"]
        named = (
            event_id if text_fault(event_id, PLATE_EVENT_TEXT_LIMITS["event_id"]) is None else None
        )
        raise ProcessingError(Reason.INVALID_FIELD, Stage.VALIDATE, fault, event_id=named)


def _check_ids(event: Mapping[str, Any]) -> None:
    if not _UUID.fullmatch(event["event_id"]):
        raise ProcessingError(
            Reason.INVALID_FIELD,
            Stage.VALIDATE,
            f"event_id {event['event_id']!r} is not a UUID",
            event_id=event["event_id"],
        )
    for name in ("site_id", "camera_id"):
        if not event[name].strip():
            raise ProcessingError(
                Reason.INVALID_FIELD, Stage.VALIDATE, f"{name} is empty", event_id=event["event_id"]
            )


def _plate(event: Mapping[str, Any], settings: RouterSettings) -> str:
    try:
        return normalise_plate(
            event["plate_text"],
            min_length=settings.plate_min_length,
            max_length=settings.plate_max_length,
        )
    except PlateTextError as exc:
        reason = Reason.EMPTY_PLATE if exc.empty else Reason.INVALID_PLATE
        raise ProcessingError(
            reason, Stage.VALIDATE, str(exc), event_id=event["event_id"]
        ) from None


def _check_unit(name: str, values: Iterable[float], event_id: str) -> None:
    for value in values:
        if not 0.0 <= value <= 1.0:  # also false for NaN
            raise _out_of_range(f"{name} has {value!r}, expected 0..1", event_id)


def _check_box(name: str, box: Mapping[str, int], event_id: str) -> None:
    if box["x"] < 0 or box["y"] < 0 or box["width"] <= 0 or box["height"] <= 0:
        raise _out_of_range(
            f"{name} is x={box['x']} y={box['y']} width={box['width']} height={box['height']}, "
            "expected x, y >= 0 and width, height > 0",
            event_id,
        )


def _check_location(location: Mapping[str, float], event_id: str) -> None:
    if not (-90.0 <= location["lat"] <= 90.0 and -180.0 <= location["lon"] <= 180.0):
        raise _out_of_range(
            f"location is lat={location['lat']} lon={location['lon']}, "
            "expected lat in -90..90 and lon in -180..180",
            event_id,
        )


def _check_capture_time(event: Mapping[str, Any], settings: RouterSettings, now: float) -> None:
    captured_at = event["captured_at"]
    captured = captured_at.timestamp()
    if captured < now - settings.max_age_s or captured > now + settings.max_ahead_s:
        raise ProcessingError(
            Reason.CLOCK_SKEW,
            Stage.VALIDATE,
            f"captured_at {captured_at.isoformat()} is {captured - now:+.0f}s from now, "
            f"accepted -{settings.max_age_s:.0f}s..+{settings.max_ahead_s:.0f}s",
            event_id=event["event_id"],
        )


def _out_of_range(message: str, event_id: str) -> ProcessingError:
    return ProcessingError(Reason.OUT_OF_RANGE, Stage.VALIDATE, message, event_id=event_id)
