"""Page cursors round-trip, and refuse anything else with BadCursor."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from web.lookup.contract import BadCursor, EventFilter
from web.lookup.cursor import Position, decode, encode, scope_of
from web.lookup.queries import events_scope, history_scope

AT = datetime(2026, 11, 25, 6, 30, 1, 123456, tzinfo=UTC)


def test_round_trip_keeps_the_time_to_the_microsecond_in_utc() -> None:
    scope = scope_of("history", "AB12C")
    local = AT.astimezone(timezone(timedelta(hours=2)))
    token = encode(scope, Position(local, "e-1"))
    assert token.isascii() and "=" not in token
    assert decode(scope, token) == Position(AT, "e-1")


def test_a_cursor_of_another_query_is_refused() -> None:
    token = encode(history_scope("AB12C"), Position(AT, "e-1"))
    with pytest.raises(BadCursor, match="another query"):
        decode(history_scope("XY99Z"), token)
    first = events_scope(EventFilter(camera_id="cam-1"))
    with pytest.raises(BadCursor, match="another query"):
        decode(events_scope(EventFilter(camera_id="cam-2")), encode(first, Position(AT, "e")))


def _forge(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not base64 at all!",
        "A" * 5000,
        "' OR 1=1 --",
        _forge([1, 2]),
        _forge({"v": 1, "s": "x"}),
        _forge({"v": 1, "s": scope_of("history", "AB"), "t": "yesterday", "i": "e"}),
        _forge({"v": 1, "s": scope_of("history", "AB"), "t": "2026-01-01T00:00:00", "i": "e"}),
        _forge({"v": 1, "s": scope_of("history", "AB"), "t": AT.isoformat(), "i": 7}),
        _forge({"v": 2, "s": scope_of("history", "AB"), "t": AT.isoformat(), "i": "e"}),
    ],
)
def test_corrupt_cursors_are_bad_cursors(token: str) -> None:
    with pytest.raises(BadCursor):
        decode(scope_of("history", "AB"), token)
