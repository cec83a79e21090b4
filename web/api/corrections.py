"""``POST /api/reads/{event_id}/correction``: an operator corrects the text of a read.

The body is ``{"text": ..., "reason": ...}``. The text is normalised as the router normalises
plates (``streams.corrections``); the correction is sent to ``alpr.reads.corrected``, where the
projections apply it to the stored read (this view writes no read), and is audited in
``read_corrections``. The answer is 202: the stores show the new text once the projections have
applied it. The plate page's correction form (``web.pages.corrections``) goes through
:func:`correct_read` too.
"""

from __future__ import annotations

from typing import Any

from faust.web import Request, Response

from agents.projections.corrections import read_corrections
from alpr import app
from streams.corrections import CorrectionError, make_correction
from streams.records import ReadCorrection
from web.api.base import ApiView, client_address, json_body
from web.app_state import WebResources
from web.auth import correction_audit
from web.auth.keys import ApiKey
from web.errors import bad_request, not_found
from web.lookup.queries import check_event_id


async def correct_read(
    state: WebResources, key: ApiKey, event_id: str, text: object, reason: object,
    client: str | None,
) -> ReadCorrection:  # fmt: skip
    """Check, send and audit ``key``'s correction of read ``event_id`` (400/404 when refused)."""
    sighting = await (await state.lookup()).sighting(check_event_id(event_id))
    if sighting is None:
        raise not_found(f"no read {event_id[:100]!r}")
    try:
        correction = make_correction(
            event_id=sighting.event_id, captured_at=sighting.captured_at,
            old_text=sighting.plate, text=text, reason=reason, key_id=key.key_id,
            owner=key.owner, router=state.settings.router,
            plate_crop_key=sighting.plate_crop_key,
        )  # fmt: skip
    except CorrectionError as exc:
        raise bad_request(str(exc), f"bad_{exc.field}") from None
    # Sent before it is audited, as rule changes are: the audit never names a correction
    # that was not sent; waiting for the broker's acknowledgement makes it durable first.
    await (await read_corrections.send(key=correction.event_id, value=correction))
    await correction_audit.record(await state.pool(), correction, client)
    return correction


def correction_json(correction: ReadCorrection) -> dict[str, Any]:
    fields = ("correction_id", "event_id", "old_text", "new_text", "new_plate", "reason")
    body: dict[str, Any] = {name: getattr(correction, name) for name in fields}
    body["corrected_by"] = {"key_id": correction.key_id, "owner": correction.owner}
    body["corrected_at"] = correction.corrected_at.isoformat()
    return body


@app.page("/api/reads/{event_id}/correction")
class CorrectRead(ApiView):
    """An operator (or admin) corrects a read's plate text, with a reason."""

    async def post(self, request: Request, event_id: str) -> Response:
        key = await self.caller(request, "operator")
        body = await json_body(request)
        correction = await correct_read(
            self.state, key, event_id, body.get("text"), body.get("reason"),
            client_address(request),
        )  # fmt: skip
        return self.json(correction_json(correction), status=202)
