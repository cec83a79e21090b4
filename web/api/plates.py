"""``GET /api/plates/search`` and ``GET /api/plates/{plate}``: audited plate lookups."""

from __future__ import annotations

from faust.web import Request, Response

from alpr import app
from web import plate_lookup
from web.api import params
from web.api.base import ApiView, client_address
from web.api.sightings import sighting_json, signed_urls
from web.auth.access import private


async def _who(view: ApiView, request: Request) -> plate_lookup.Lookup:
    key = await view.caller(request, "viewer")
    return plate_lookup.Lookup(key, params.text(request.query, "reason"), client_address(request))


@app.page("/api/plates/search")
class PlateSearch(ApiView):
    """Plates matching ``q`` exactly, by prefix or fuzzily (OCR look-alikes), ranked."""

    async def get(self, request: Request) -> Response:
        who = await _who(self, request)
        text = params.text(request.query, "q", required=True) or ""
        limit = params.limit(request.query, 20, self.state.settings.web.max_page)
        found = await plate_lookup.search(self.state, who, text, limit)
        items = [
            {**hit.model_dump(mode="json"), "url": f"/api/plates/{hit.plate}"}
            for hit in found.value
        ]
        body = {"query": text, "items": items, "count": len(items)}
        return private(self.json(body), found.audit_id)


@app.page("/api/plates/{plate}")
class PlateHistory(ApiView):
    """Every sighting of one plate, newest first, one page at a time; its image URLs carry
    links signed for the caller's key, covered by this request's audit row."""

    async def get(self, request: Request, plate: str) -> Response:
        who = await _who(self, request)
        cursor = params.text(request.query, "cursor")
        limit = params.limit(request.query, 50, self.state.settings.web.max_page)
        found = await plate_lookup.history(self.state, who, plate, cursor, limit)
        normalised, page = found.value
        urls = await signed_urls(self.state, found.reader, found.audit_id)
        body = {
            "plate": normalised,
            "items": [sighting_json(s, urls) for s in page.items],
            "next_cursor": page.next_cursor,
        }
        return private(self.json(body), found.audit_id)
