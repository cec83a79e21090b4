"""``GET /api/images/{event_id}/{plate|vehicle}``: 302 to a presigned URL of the image in S3."""

from __future__ import annotations

from faust.web import Request, Response

from alpr import app
from web.api.base import ApiView
from web.errors import bad_request, not_found

KINDS = {"plate": "plate_crop_key", "vehicle": "vehicle_image_key"}


@app.page("/api/images/{event_id}/{kind}")
class Image(ApiView):
    """Redirects to the read's plate crop or vehicle image for ``presign_seconds``."""

    async def get(self, request: Request, event_id: str, kind: str) -> Response:
        await self.caller(request, "viewer")
        if kind not in KINDS:
            raise bad_request(f"the image kind must be plate or vehicle (got {kind[:20]!r})")
        if not 1 <= len(event_id) <= 100 or not event_id.isprintable():
            raise bad_request("event_id must be printable text of 1 to 100 characters")
        sighting = await (await self.state.lookup()).sighting(event_id)
        if sighting is None:
            raise not_found(f"no read with event id {event_id!r}")
        key = getattr(sighting, KINDS[kind])
        if not key:
            raise not_found(f"read {event_id} has no {kind} image")
        s3 = self.state.settings.s3
        url = await (await self.state.s3()).generate_presigned_url(
            "get_object",
            Params={"Bucket": s3.bucket, "Key": key},
            ExpiresIn=s3.presign_seconds,
        )
        response = self.text("", status=302, headers={"Location": url})
        response.headers["Cache-Control"] = "private, max-age=60"
        return response
