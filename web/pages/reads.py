"""``/reads``: reads by plate pattern (wildcards anywhere: ``M*``, ``*12*``), time range in the
site's time zone, camera and vehicle type, a page at a time, with their crops; audited as an
event list, with a reason where the role needs one. ``/export/reads`` exports the same search."""

from __future__ import annotations

from typing import Any

from faust.web import Request, Response

from alpr import app
from web.api import params
from web.api.cameras import cameras
from web.api.sightings import sighting_json, signed_urls
from web.auth import access
from web.pages.base import PageView
from web.pages.forms import READ_FIELDS, FormQuery, read_filter

PAGE_SIZE = 25


@app.page("/reads")
class ReadsPage(PageView):
    """The reads search form and one page of what it finds, newest first."""

    async def get(self, request: Request) -> Response:
        key = await self.caller(request, "viewer")
        form = FormQuery.of(request.query, READ_FIELDS)
        reason = (request.query.get("reason") or "").strip()
        cursor = params.text(request.query, "cursor")
        common: dict[str, Any] = {
            "form": form, "reason": reason, "cameras": await cameras(self.state),
            "needs_reason": key.role in self.state.settings.web.reason_required_for,
            "export": form.link("/export/reads", reason=reason), "first": cursor is not None,
        }  # fmt: skip
        if not form.given:
            return self.page("reads.html", key=key, reads=None, message=None, next=None, **common)
        where = read_filter(form)
        admitted = await self.reader(request, key, "events", form.described())
        if isinstance(admitted, str):
            return self.page(
                "reads.html", key=key, status=400, reads=None, message=admitted, next=None,
                **common,
            )  # fmt: skip
        backend = await self.state.lookup()
        found = await backend.events(where, cursor=cursor, limit=PAGE_SIZE)
        audit_id = await access.audited(
            self.state, admitted, "events", form.described(), len(found.items)
        )
        urls = await signed_urls(self.state, admitted, audit_id)
        reads = [sighting_json(s, urls) | {"at": s.captured_at} for s in found.items]
        following = found.next_cursor and form.link(
            "/reads", reason=reason, cursor=found.next_cursor
        )
        response = self.page(
            "reads.html", key=key, reads=reads, message=None, next=following, **common
        )
        return access.private(response, audit_id)
