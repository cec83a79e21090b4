"""The plate page's correction form's target: ``POST /reads/{event_id}/correction``.

Operators and admins correct a read's text on the plate page; the form goes through the same
checks, event and audit as ``POST /api/reads/{event_id}/correction`` (and the console's CSRF
and origin checks, as every form does). Back to the plate page, where the read shows its new
text once the projections have applied it.
"""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import quote, urlencode

from faust.web import Request, Response

from alpr import app
from web.api.base import client_address
from web.api.corrections import correct_read
from web.pages.base import PageView


@app.page("/reads/{event_id}/correction")
class CorrectReadPage(PageView):
    """An operator's correction of one read, from the plate page."""

    async def post(self, request: Request, event_id: str) -> Response:
        key = await self.caller(request, "operator")
        form = await cast(Any, request).post()
        correction = await correct_read(
            self.state, key, event_id, str(form.get("text", "")), str(form.get("reason", "")),
            client_address(request),
        )  # fmt: skip
        plate = quote(str(form.get("plate", "")) or correction.old_text, safe="")
        back = urlencode({"reason": str(form.get("lookup_reason", ""))[:500]})
        return self.redirect(f"/plates/{plate}?{back}#read-{quote(event_id, safe='')}")
