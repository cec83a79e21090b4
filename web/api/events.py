"""``GET /api/events``: reads filtered by camera, time range, confidence and vehicle type."""

from __future__ import annotations

from collections.abc import Mapping

from faust.web import Request, Response

from alpr import app
from web.api import params
from web.api.base import ApiView
from web.api.sightings import sighting_json
from web.errors import bad_request
from web.lookup.contract import EventFilter


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
    )


@app.page("/api/events")
class Events(ApiView):
    """Reads matching every filter given, newest first, one page at a time."""

    async def get(self, request: Request) -> Response:
        await self.caller(request, "viewer")
        where = event_filter(request.query)
        cursor = params.text(request.query, "cursor")
        limit = params.limit(request.query, 50, self.state.settings.web.max_page)
        page = await (await self.state.lookup()).events(where, cursor=cursor, limit=limit)
        return self.json(
            {"items": [sighting_json(s) for s in page.items], "next_cursor": page.next_cursor}
        )
