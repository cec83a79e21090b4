"""Records and the backend interface between the lookup stores and the HTTP layer.

The web views depend only on this module: a backend (PostgreSQL with pg_trgm, or
Elasticsearch) is chosen by configuration and must return the same records for the same data.
Cursors are opaque strings made and checked by the backend; a bad cursor raises
``BadCursor`` and a bad argument ``BadQuery``, each with a message a person can read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

MatchKind = Literal["exact", "prefix", "fuzzy"]
T = TypeVar("T")

#: Most items a backend returns in one call; a larger ``limit`` is a ``BadQuery``.
MAX_LIMIT = 1000


class LookupFailure(Exception):
    """Base of the errors a backend raises for bad input (never for a store failure)."""


class BadQuery(LookupFailure):
    """The query or a filter is malformed; the message says which part and why."""


class BadCursor(LookupFailure):
    """The cursor was not made by this backend for this query, or is corrupt."""


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SearchHit(_Record):
    """One plate that matches a search, with why it matched."""

    plate: str = Field(description="Normalised plate")
    match: MatchKind = Field(description="How the plate matched the query")
    reason: str = Field(description="The match reason in words, e.g. 'fuzzy: 0 read as O'")
    distance: int = Field(ge=0, description="OCR-aware edit distance to the query (0 if exact)")
    cost: float = Field(
        default=0.0,
        ge=0,
        description="Weighted edit cost: an OCR look-alike swap (O/0, B/8...) costs less than 1",
    )
    score: float = Field(description="Ranking score, higher first")
    sightings: int = Field(ge=0, description="Reads of this plate in the store")
    last_seen: datetime = Field(description="Capture time of the newest read")
    last_camera_id: str = Field(description="Camera of the newest read")


class Sighting(_Record):
    """One read of a plate, as shown in a history or an event list."""

    event_id: str
    plate: str
    captured_at: datetime
    camera_id: str
    site_id: str
    camera_name: str | None = None
    confidence: float
    direction: str
    vehicle_type: str | None = None
    vehicle_colour: str | None = None
    plate_crop_key: str | None = None
    vehicle_image_key: str | None = None
    lat: float | None = None
    lon: float | None = None


class Page(_Record, Generic[T]):
    """A page of results, newest first; ``next_cursor`` is None on the last page."""

    items: list[T]
    next_cursor: str | None = None


class EventFilter(_Record):
    """Filters of ``GET /api/events``; all optional, combined with AND."""

    camera_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_confidence: float | None = Field(default=None, ge=0, le=1)
    vehicle_type: str | None = None
    vehicle_colour: str | None = Field(
        default=None, description="Body colour as the edge names it, lower case: red, white..."
    )
    plate_pattern: str | None = Field(
        default=None,
        description="Normalised plate with wildcards: * any run of characters, ? one",
    )


class HourlyCount(_Record):
    camera_id: str
    hour: datetime
    reads: int = Field(ge=0)


class AlertFilter(_Record):
    """Filters of ``GET /api/alerts``; all optional, combined with AND."""

    since: datetime | None = None
    until: datetime | None = None
    severity: str | None = None
    rule_id: str | None = None
    acknowledged: bool | None = None
    assigned_to: str | None = Field(default=None, description="Only alerts assigned to this owner")
    assigned: bool | None = Field(
        default=None, description="True: assigned to someone; False: assigned to no one"
    )


class Alert(_Record):
    """One alert a rule raised, with its acknowledgement if an operator gave one, and its
    assignment: to whom (None: no one), by whom and when (None: never assigned)."""

    alert_id: str
    rule_id: str
    event_id: str
    captured_at: datetime
    plate: str
    camera_id: str
    severity: str
    raised_at: datetime
    details: dict[str, object] = Field(default_factory=dict)
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    ack_note: str | None = None
    assigned_to: str | None = None
    assigned_by: str | None = None
    assigned_at: datetime | None = None


class Camera(_Record):
    """A camera as described in the ``cameras`` table (live figures come from tables)."""

    camera_id: str
    site_id: str
    name: str | None = None
    zone: str | None = None
    state: str | None = None
    lat: float | None = None
    lon: float | None = None
    edge_version: str | None = None
    last_seen_at: datetime | None = None


class LookupBackend(Protocol):
    """What every lookup store offers the web views."""

    name: str

    async def search(self, query: str, *, limit: int) -> list[SearchHit]:
        """Exact, then prefix, then fuzzy matches of ``query`` (already normalised), ranked."""

    async def history(self, plate: str, *, cursor: str | None, limit: int) -> Page[Sighting]:
        """Every read of one normalised plate, newest first."""

    async def events(self, where: EventFilter, *, cursor: str | None, limit: int) -> Page[Sighting]:
        """Reads matching the filter, newest first."""

    async def sighting(self, event_id: str) -> Sighting | None:
        """One read by its event id (for image redirects), or None."""

    async def close(self) -> None: ...
