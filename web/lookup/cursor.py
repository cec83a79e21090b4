"""Opaque page cursors: the sort key of the last item shown, bound to the query that made it.

A cursor is URL-safe base64 of a small JSON object: the time and the id of the last item
(keyset pagination on ``(time, id)``, newest first) and a digest of the query's scope, so a
cursor of one plate's history cannot page through another's. Anything that does not decode
to exactly that is a ``BadCursor``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from web.lookup.contract import BadCursor

_VERSION = 1
_MAX_LENGTH = 1024
_FOREIGN = "the cursor is not one this service made: use next_cursor as given"
_DAMAGED = "the cursor is damaged: start again without a cursor"


@dataclass(frozen=True)
class Position:
    """Where the previous page ended: its last item's time and id."""

    at: datetime
    id: str


def scope_of(*parts: str) -> str:
    """A short digest of what a cursor pages through (kind of list and its query)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def encode(scope: str, position: Position) -> str:
    at = position.at.astimezone(UTC).isoformat()
    payload = {"v": _VERSION, "s": scope, "t": at, "i": position.id}
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode(scope: str, cursor: str) -> Position:
    """The position in ``cursor``; ``BadCursor`` when it is corrupt or made for another query."""
    if not isinstance(cursor, str) or not cursor or len(cursor) > _MAX_LENGTH:
        raise BadCursor(_FOREIGN)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadCursor(_FOREIGN) from None
    if not isinstance(payload, dict) or set(payload) != {"v", "s", "t", "i"}:
        raise BadCursor(_FOREIGN)
    if payload["v"] != _VERSION or payload["s"] != scope:
        raise BadCursor("the cursor belongs to another query: start again without a cursor")
    at, ident = payload["t"], payload["i"]
    if not isinstance(at, str) or not isinstance(ident, str) or not 0 < len(ident) <= 200:
        raise BadCursor(_DAMAGED)
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        raise BadCursor(_DAMAGED) from None
    if moment.tzinfo is None:
        raise BadCursor(_DAMAGED)
    return Position(moment.astimezone(UTC), ident)
