"""``/search`` and ``/plates/{plate}``: the same audited lookups as the API, as pages."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from itertools import groupby
from typing import Any

from faust.web import Request, Response

from alpr import app
from web import plate_lookup
from web.api import params
from web.api.base import client_address
from web.api.sightings import sighting_json
from web.errors import ApiError
from web.lookup.contract import Sighting
from web.pages.base import PageView

PAGE_SIZE = 25


def by_day(sightings: Iterable[Sighting]) -> list[tuple[date, list[dict[str, Any]]]]:
    """The timeline: sightings grouped by UTC day, newest first, as the template shows them."""
    return [
        (day, [sighting_json(s) | {"at": s.captured_at} for s in group])
        for day, group in groupby(sightings, key=lambda s: s.captured_at.date())
    ]


@app.page("/search")
class SearchPage(PageView):
    """A search box (plate and reason) and the ranked hits."""

    async def get(self, request: Request) -> Response:
        key = await self.caller(request, "viewer")
        q = (request.query.get("q") or "").strip()
        reason = (request.query.get("reason") or "").strip()
        hits, error, status = None, None, 200
        if q:
            who = plate_lookup.Lookup(key, reason or None, client_address(request))
            try:
                hits = await plate_lookup.search(self.state, who, q, PAGE_SIZE)
            except ApiError as exc:
                if exc.status != 400:
                    raise
                error, status = exc.message, 400
        needs_reason = key.role in self.state.settings.web.reason_required_for
        return self.page(
            "search.html", key=key, status=status, q=q, reason=reason, hits=hits,
            error=error, needs_reason=needs_reason,
        )  # fmt: skip


@app.page("/plates/{plate}")
class PlatePage(PageView):
    """One plate: its crops and a timeline of sightings, a page at a time."""

    async def get(self, request: Request, plate: str) -> Response:
        key = await self.caller(request, "viewer")
        reason = (request.query.get("reason") or "").strip() or None
        cursor = params.text(request.query, "cursor")
        who = plate_lookup.Lookup(key, reason, client_address(request))
        try:
            normalised, page = await plate_lookup.history(self.state, who, plate, cursor, PAGE_SIZE)
        except ApiError as exc:
            if exc.code != "reason_required":
                raise
            return self.page(
                "plate.html", key=key, status=400, plate=params.plate(plate), needs_reason=True,
                message=exc.message,
            )  # fmt: skip
        return self.page(
            "plate.html", key=key, plate=normalised, days=by_day(page.items), needs_reason=False,
            next_cursor=page.next_cursor, reason=reason or "",
        )  # fmt: skip
