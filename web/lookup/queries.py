"""Checks of lookup arguments that are not plates, and the scopes their cursors are bound to.

Every argument is checked before a store sees it, so bad input is a ``BadQuery`` with a
message, never a store error.
"""

from __future__ import annotations

import re

from web.lookup import cursor
from web.lookup.contract import BadQuery, EventFilter

_NAME = re.compile(r"[\w.:@/-]{1,200}")
#: A plate pattern: normalised characters and the wildcards, at least one character to match.
_PATTERN = re.compile(r"(?=.*[A-Z0-9])[A-Z0-9*?]{1,24}")


def check_name(value: str, what: str) -> str:
    """An id or name of a camera, vehicle type, rule...: letters, digits and ``._:@/-``."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        shown = value[:40] if isinstance(value, str) else value
        raise BadQuery(f"{what} must be 1 to 200 letters, digits or . _ : @ / -, got {shown!r}")
    return value


def check_event_id(event_id: str) -> str:
    return check_name(event_id, "event id")


def check_event_filter(where: EventFilter) -> EventFilter:
    if where.camera_id is not None:
        check_name(where.camera_id, "camera_id")
    if where.vehicle_type is not None:
        check_name(where.vehicle_type, "vehicle_type")
    if where.vehicle_colour is not None:
        check_name(where.vehicle_colour, "vehicle_colour")
    if where.plate_pattern is not None and not _PATTERN.fullmatch(where.plate_pattern):
        raise BadQuery(
            "a plate pattern is 1 to 24 of A-Z, 0-9 and the wildcards * (any run) and ? (one "
            f"character), with at least one letter or digit; got {where.plate_pattern[:40]!r}"
        )
    for name, moment in (("since", where.since), ("until", where.until)):
        if moment is not None and moment.tzinfo is None:
            raise BadQuery(f"{name} must carry a time zone, e.g. 2026-01-31T08:00:00Z")
    if where.since is not None and where.until is not None and where.since >= where.until:
        raise BadQuery(f"since ({where.since}) must be before until ({where.until})")
    return where


def like_pattern(pattern: str) -> str:
    """A checked plate pattern as SQL ``LIKE`` text (its characters need no escaping)."""
    return pattern.replace("*", "%").replace("?", "_")


def history_scope(plate: str) -> str:
    return cursor.scope_of("history", plate)


def events_scope(where: EventFilter) -> str:
    return cursor.scope_of("events", where.model_dump_json())
