"""``/search`` and ``/plates/{plate}``: the same audited lookups as the API, as pages."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import date
from itertools import groupby
from typing import Any
from urllib.parse import urlencode

from faust.web import Request, Response

from alpr import app
from web import plate_lookup
from web.api import params
from web.api.base import client_address
from web.api.sightings import ImageUrl, sighting_json, signed_urls
from web.app_state import WebResources
from web.auth.access import REASON_CODES, private
from web.auth.roles import at_least
from web.errors import ApiError
from web.lookup.contract import SearchHit, Sighting
from web.pages.base import PageView
from web.pages.render import local

PAGE_SIZE = 25
WILDCARDS = frozenset("*?")


def by_day(
    sightings: Iterable[Sighting], urls: ImageUrl | None = None
) -> list[tuple[date, list[dict[str, Any]]]]:
    """The timeline: sightings grouped by day in the site's time zone, newest first, as the
    template shows them."""
    extra = {} if urls is None else {"urls": urls}
    return [
        (day, [sighting_json(s, **extra) | {"at": s.captured_at} for s in group])
        for day, group in groupby(sightings, key=lambda s: local(s.captured_at).date())
    ]


#: Hits whose newest crop the search page shows beside them.
THUMBNAILS = 5


async def newest_crops(
    state: WebResources, hits: list[SearchHit], urls: ImageUrl
) -> dict[str, str]:
    """The image URL of the newest plate crop of each of the first hits, by plate.

    Part of the audited search that found the hits, so not audited again as plate lookups
    (``urls`` signs the links with that search's audit row).
    """
    backend = await state.lookup()
    pages = await asyncio.gather(
        *(backend.history(hit.plate, cursor=None, limit=1) for hit in hits[:THUMBNAILS])
    )
    crops = {}
    for hit, page in zip(hits, pages, strict=False):
        if page.items and page.items[0].plate_crop_key:
            crops[hit.plate] = urls(page.items[0].event_id, "plate")
    return crops


@app.page("/search")
class SearchPage(PageView):
    """A search box (plate and reason) and the ranked hits."""

    async def get(self, request: Request) -> Response:
        key = await self.caller(request, "viewer")
        q = (request.query.get("q") or "").strip()
        reason = (request.query.get("reason") or "").strip()
        if WILDCARDS & set(q):  # a pattern: the reads search takes those
            return self.redirect("/reads?" + urlencode({"plate": q, "reason": reason}))
        hits, crops, error, status, audit_id = None, {}, None, 200, None
        if q:
            who = plate_lookup.Lookup(key, reason or None, client_address(request))
            try:
                found = await plate_lookup.search(self.state, who, q, PAGE_SIZE)
            except ApiError as exc:
                if exc.status != 400:
                    raise
                error, status = exc.message, 400
            else:
                hits, audit_id = found.value, found.audit_id
                urls = await signed_urls(self.state, found.reader, found.audit_id)
                crops = await newest_crops(self.state, hits, urls)
        needs_reason = key.role in self.state.settings.web.reason_required_for
        response = self.page(
            "search.html", key=key, status=status, q=q, reason=reason, hits=hits, crops=crops,
            error=error, needs_reason=needs_reason,
        )  # fmt: skip
        return response if audit_id is None else private(response, audit_id)


@app.page("/plates/{plate}")
class PlatePage(PageView):
    """One plate: its crops and a timeline of sightings, a page at a time."""

    async def get(self, request: Request, plate: str) -> Response:
        key = await self.caller(request, "viewer")
        reason = (request.query.get("reason") or "").strip() or None
        cursor = params.text(request.query, "cursor")
        who = plate_lookup.Lookup(key, reason, client_address(request))
        try:
            found = await plate_lookup.history(self.state, who, plate, cursor, PAGE_SIZE)
        except ApiError as exc:
            if exc.code not in REASON_CODES:
                raise
            return self.page(
                "plate.html", key=key, status=400, plate=params.plate(plate), needs_reason=True,
                message=exc.message, can_watch=False, can_correct=False,
            )  # fmt: skip
        normalised, page = found.value
        days = by_day(page.items, await signed_urls(self.state, found.reader, found.audit_id))
        response = self.page(
            "plate.html", key=key, plate=normalised, days=days, needs_reason=False,
            next_cursor=page.next_cursor, reason=reason or "", can_watch=key.role == "admin",
            can_correct=at_least(key.role, "operator"),
        )  # fmt: skip
        return private(response, found.audit_id)
