"""``GET /api/plates/search`` and ``GET /api/plates/{plate}``: audited plate lookups."""

from __future__ import annotations

from faust.web import Request, Response

from alpr import app
from web import plate_lookup
from web.api import params
from web.api.base import ApiView, client_address
from web.api.sightings import sighting_json


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
        hits = await plate_lookup.search(self.state, who, text, limit)
        items = [{**hit.model_dump(mode="json"), "url": f"/api/plates/{hit.plate}"} for hit in hits]
        return self.json({"query": text, "items": items, "count": len(items)})


@app.page("/api/plates/{plate}")
class PlateHistory(ApiView):
    """Every sighting of one plate, newest first, one page at a time."""

    async def get(self, request: Request, plate: str) -> Response:
        who = await _who(self, request)
        cursor = params.text(request.query, "cursor")
        limit = params.limit(request.query, 50, self.state.settings.web.max_page)
        normalised, page = await plate_lookup.history(self.state, who, plate, cursor, limit)
        return self.json(
            {
                "plate": normalised,
                "items": [sighting_json(s) for s in page.items],
                "next_cursor": page.next_cursor,
            }
        )
