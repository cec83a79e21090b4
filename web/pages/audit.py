"""``/audit``: the access audit log for admins, filtered by who, plate, time and reason, with
a CSV export of what the filters select (``GET /api/audit?format=csv``)."""

from __future__ import annotations

from urllib.parse import urlencode

from faust.web import Request, Response

from alpr import app
from web.api.audit import audit_filter
from web.auth import audit
from web.pages.base import PageView

FILTERS = ("who", "plate", "since", "until", "reason")
PAGE_SIZE = 200


@app.page("/audit")
class AuditPage(PageView):
    """The newest audit rows matching the filters; admins only."""

    async def get(self, request: Request) -> Response:
        key = await self.caller(request, "admin")
        where = audit_filter(request.query)
        rows = await audit.read(await self.state.pool(), where, before=None, limit=PAGE_SIZE)
        given = {name: request.query[name] for name in FILTERS if request.query.get(name)}
        export = "/api/audit?" + urlencode({**given, "format": "csv"})
        return self.page("audit.html", key=key, rows=rows, filters=given, export=export)
