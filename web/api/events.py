"""``GET /api/events``: reads filtered by camera, time range, confidence, vehicle type and
colour."""

from __future__ import annotations

from collections.abc import Mapping

from faust.web import Request, Response

from alpr import app
from web.api import params
from web.api.base import ApiView, client_address
from web.api.sightings import sighting_json, signed_urls
from web.auth import access
from web.errors import bad_request
from web.lookup.contract import EventFilter

FILTERS = (
    "camera", "since", "until", "min_confidence", "vehicle_type", "vehicle_colour", "cursor",
)  # fmt: skip


def event_filter(q: Mapping[str, str]) -> EventFilter:
    """The filter in ``q``'s parameters; 400 naming the first bad one."""
    since, until = params.timestamp(q, "since"), params.timestamp(q, "until")
    if since is not None and until is not None and since > until:
        raise bad_request("since must not be later than until", "bad_range")
    return EventFilter(
        camera_id=params.text(q, "camera"),
        since=since,
        until=until,
        min_confidence=params.fraction(q, "min_confidence"),
        vehicle_type=params.text(q, "vehicle_type"),
        vehicle_colour=params.lower_text(q, "vehicle_colour"),
    )


@app.page("/api/events")
class Events(ApiView):
    """Reads matching every filter given, newest first, one page at a time (plate data:
    audited, with a reason where the caller's role needs one)."""

    async def get(self, request: Request) -> Response:
        key = await self.caller(request, "viewer")
        where = event_filter(request.query)
        cursor = params.text(request.query, "cursor")
        limit = params.limit(request.query, 50, self.state.settings.web.max_page)
        query = params.described(request.query, FILTERS) or "(all)"
        reader = await access.admit(
            self.state, key, "events", query, params.text(request.query, "reason"),
            client_address(request),
        )  # fmt: skip
        page = await (await self.state.lookup()).events(where, cursor=cursor, limit=limit)
        audit_id = await access.audited(self.state, reader, "events", query, len(page.items))
        urls = await signed_urls(self.state, reader, audit_id)
        body = {
            "items": [sighting_json(s, urls) for s in page.items],
            "next_cursor": page.next_cursor,
        }
        return access.private(self.json(body), audit_id)
