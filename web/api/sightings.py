"""Sightings as the API shows them: the stored read plus the URLs of its images."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import quote

from web.app_state import WebResources
from web.auth.access import Reader
from web.lookup.contract import Sighting

#: The URL of a read's image: (event id, kind) -> path.
ImageUrl = Callable[[str, str], str]


def image_url(event_id: str, kind: str) -> str:
    """The image's path without a signed link (the request is audited on its own)."""
    return f"/api/images/{quote(event_id, safe='')}/{kind}"


async def signed_urls(state: WebResources, reader: Reader, audit_id: int) -> ImageUrl:
    """Image URLs with links signed for ``reader``'s key, covered by audit row ``audit_id``."""
    return partial((await state.image_links()).url, reader.key.key_id, audit_id)


def sighting_json(sighting: Sighting, urls: ImageUrl = image_url) -> dict[str, Any]:
    """The sighting's fields, with ``plate_crop_url``/``vehicle_image_url`` (None: no image)."""
    body = sighting.model_dump(mode="json")
    body["plate_crop_url"] = urls(sighting.event_id, "plate") if sighting.plate_crop_key else None
    body["vehicle_image_url"] = (
        urls(sighting.event_id, "vehicle") if sighting.vehicle_image_key else None
    )
    return body
