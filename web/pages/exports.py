"""CSV exports of plate data: a reads search (``/export/reads``, the ``/reads`` form's
fields) and a plate's history (``/export/plates/{plate}``). Each is one audited read of plate
data like the page it comes from (a reason where the role needs one), of at most
``web.export_max_rows`` reads, newest first, times in UTC and in the site's time zone.

Cells that a spreadsheet would take for a formula (``=``, ``+``, ``-``, ``@`` first) are
quoted with a leading apostrophe: a camera name is text a site typed, not a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from faust.web import Request, Response

from alpr import app
from web.api.base import client_address
from web.auth import access
from web.auth.access import Reader
from web.auth.audit import Kind
from web.errors import ApiError
from web.lookup.contract import MAX_LIMIT, EventFilter, Page, Sighting
from web.pages.base import PageView
from web.pages.forms import READ_FIELDS, FormQuery, read_filter
from web.pages.render import local
from web.plate_lookup import Lookup, admit_plate

COLUMNS = (
    "event_id", "plate", "captured_at_utc", "captured_at_local", "camera_id", "camera_name",
    "site_id", "direction", "vehicle_type", "vehicle_colour", "confidence",
)  # fmt: skip
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA) else text


def csv_text(reads: Iterable[Sighting]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for r in reads:
        writer.writerow(
            cell(v) for v in (
                r.event_id, r.plate, r.captured_at.isoformat(), local(r.captured_at).isoformat(),
                r.camera_id, r.camera_name, r.site_id, r.direction, r.vehicle_type,
                r.vehicle_colour,
                f"{r.confidence:.3f}",
            )
        )  # fmt: skip
    return out.getvalue()


async def collect(pages: Any, most: int) -> list[Sighting]:
    """Up to ``most`` reads from ``pages(cursor, limit)``, following cursors."""
    reads: list[Sighting] = []
    cursor: str | None = None
    while len(reads) < most:
        page: Page[Sighting] = await pages(cursor, min(MAX_LIMIT, most - len(reads)))
        reads.extend(page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    return reads


class ExportView(PageView):
    async def refused(self, request: Request, admitted: Reader | str) -> Reader:
        if isinstance(admitted, str):
            raise ApiError(400, "reason_required", admitted)
        return admitted

    async def answer(
        self, reader: Reader, kind: Kind, query: str, reads: list[Sighting], name: str
    ) -> Response:
        audit_id = await access.audited(self.state, reader, kind, f"csv {query}", len(reads))
        response = self.text(
            csv_text(reads), content_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )  # fmt: skip
        return access.private(response, audit_id)


@app.page("/export/reads")
class ReadsExport(ExportView):
    """The reads a ``/reads`` search finds, as CSV."""

    async def get(self, request: Request) -> Response:
        key = await self.caller(request, "viewer")
        form = FormQuery.of(request.query, READ_FIELDS)
        where: EventFilter = read_filter(form)
        reader = await self.refused(
            request, await self.reader(request, key, "events", f"csv {form.described()}")
        )
        backend = await self.state.lookup()

        async def pages(cursor: str | None, limit: int) -> Page[Sighting]:
            return await backend.events(where, cursor=cursor, limit=limit)

        reads = await collect(pages, self.state.settings.web.export_max_rows)
        return await self.answer(reader, "events", form.described(), reads, "reads.csv")


@app.page("/export/plates/{plate}")
class PlateExport(ExportView):
    """Every read of one plate (up to the export limit), as CSV."""

    async def get(self, request: Request, plate: str) -> Response:
        key = await self.caller(request, "viewer")
        who = Lookup(key, request.query.get("reason"), client_address(request))
        normalised = await admit_plate(self.state, who, "plate", plate)
        reader = await self.refused(request, await self.reader(request, key, "plate", normalised))
        backend = await self.state.lookup()

        async def pages(cursor: str | None, limit: int) -> Page[Sighting]:
            return await backend.history(normalised, cursor=cursor, limit=limit)

        reads = await collect(pages, self.state.settings.web.export_max_rows)
        return await self.answer(reader, "plate", normalised, reads, f"{normalised}.csv")
