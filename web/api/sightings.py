"""Sightings as the API shows them: the stored read plus the URLs of its images."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from web.lookup.contract import Sighting


def image_url(event_id: str, kind: str) -> str:
    return f"/api/images/{quote(event_id, safe='')}/{kind}"


def sighting_json(sighting: Sighting) -> dict[str, Any]:
    """The sighting's fields, with ``plate_crop_url``/``vehicle_image_url`` (None: no image)."""
    body = sighting.model_dump(mode="json")
    body["plate_crop_url"] = (
        image_url(sighting.event_id, "plate") if sighting.plate_crop_key else None
    )
    body["vehicle_image_url"] = (
        image_url(sighting.event_id, "vehicle") if sighting.vehicle_image_key else None
    )
    return body
