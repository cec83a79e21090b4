"""``GET /api/images/{event_id}/{plate|vehicle}``: 302 to a presigned URL of the image in S3.

With ``?t=`` (a link signed by the audited answer that listed the image, see
``web.auth.image_links``) the request is covered by that answer's audit row and is not rate
limited; without one it is a read of plate data of its own: reasoned and audited.
"""

from __future__ import annotations

from faust.web import Request, Response

from alpr import app
from web.api import params
from web.api.base import ApiView, client_address
from web.auth import access
from web.auth.keys import ApiKey
from web.errors import ApiError, bad_request, not_found

KINDS = {"plate": "plate_crop_key", "vehicle": "vehicle_image_key"}


@app.page("/api/images/{event_id}/{kind}")
class Image(ApiView):
    """Redirects to the read's plate crop or vehicle image for ``presign_seconds``."""

    async def get(self, request: Request, event_id: str, kind: str) -> Response:
        token = request.query.get("t")
        key = await self.caller(request, "viewer", limited=token is None)
        if kind not in KINDS:
            raise bad_request(f"the image kind must be plate or vehicle (got {kind[:20]!r})")
        if not 1 <= len(event_id) <= 100 or not event_id.isprintable():
            raise bad_request("event_id must be printable text of 1 to 100 characters")
        if token is not None:
            audit_id = await self._linked(key, token, event_id, kind)
            image = await self._image_key(event_id, kind)
        else:
            query = f"{event_id}/{kind}"
            reader = await access.admit(
                self.state, key, "image", query, params.text(request.query, "reason"),
                client_address(request),
            )  # fmt: skip
            image = await self._image_key(event_id, kind)
            audit_id = await access.audited(self.state, reader, "image", query, int(bool(image)))
        if image is None:
            raise not_found(f"read {event_id} has no {kind} image (or there is no such read)")
        s3 = self.state.settings.s3
        url = await (await self.state.s3()).generate_presigned_url(
            "get_object",
            Params={"Bucket": s3.bucket, "Key": image},
            ExpiresIn=s3.presign_seconds,
        )
        return access.private(self.text("", status=302, headers={"Location": url}), audit_id)

    async def _linked(self, key: ApiKey, token: str, event_id: str, kind: str) -> int:
        """The audit row a signed link is covered by; 403 for a bad or expired link (which
        then counts against the key's rate, so links cannot be guessed at speed)."""
        audit_id = (await self.state.image_links()).check(token, key.key_id, event_id, kind)
        if audit_id is None:
            self.state.limiter.take(key.key_id)
            raise ApiError(
                403, "bad_image_link",
                "this image link is expired, altered or for another key: reload the page",
            )  # fmt: skip
        return audit_id

    async def _image_key(self, event_id: str, kind: str) -> str | None:
        sighting = await (await self.state.lookup()).sighting(event_id)
        return None if sighting is None else getattr(sighting, KINDS[kind]) or None
