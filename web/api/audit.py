"""``GET /api/audit``: the search audit log, newest first, for admins."""

from __future__ import annotations

from faust.web import Request, Response

from alpr import app
from web.api import params
from web.api.base import ApiView
from web.auth import audit
from web.errors import bad_request


@app.page("/api/audit")
class AuditLog(ApiView):
    """Who looked up which plate, when, why, and how many results they got."""

    async def get(self, request: Request) -> Response:
        await self.caller(request, "admin")
        limit = params.limit(request.query, 100, self.state.settings.web.max_page)
        raw = params.text(request.query, "cursor")
        if raw is not None and (not raw.isascii() or not raw.isdigit() or len(raw) > 18):
            raise bad_request("cursor must be the next_cursor of a previous page", "bad_cursor")
        rows = await audit.read(
            await self.state.pool(), before=int(raw) if raw else None, limit=limit
        )
        next_cursor = str(rows[-1].id) if len(rows) == limit else None
        return self.json(
            {"items": [r.model_dump(mode="json") for r in rows], "next_cursor": next_cursor}
        )
