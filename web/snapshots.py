"""The latest image each camera sent, for the cameras page: its newest read that has a plate
crop or a vehicle image in the object store.

Each camera's newest reads come through the lookup backend's event list (PostgreSQL or
Elasticsearch, by camera and time, on their camera index), so no store needs a query of its
own. A camera whose last :data:`SCAN` reads carry no image shows none, and the page says so
with the reason; the images themselves are served through ``/api/images`` with links signed
by the page's audit row, as on every page that shows crops.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from web.lookup.contract import BadQuery, EventFilter, LookupBackend, Sighting
from web.lookup.queries import check_event_filter

#: How many of a camera's newest reads are looked through for one with an image.
SCAN = 20


@dataclass(frozen=True)
class Snapshot:
    """What the cameras page shows of a camera's latest image: the read that has it (None
    when there is none), and whether the camera has any read at all."""

    camera_id: str
    read: Sighting | None
    any_reads: bool

    @property
    def words(self) -> str:
        """Why there is no image, in words (empty when there is one)."""
        if self.read is not None:
            return ""
        if not self.any_reads:
            return "No reads from this camera are stored."
        return f"None of its last {SCAN} reads has an image."


def newest_with_image(camera_id: str, reads: Sequence[Sighting]) -> Snapshot:
    """The snapshot of ``camera_id`` among its ``reads`` (newest first)."""
    found = next((r for r in reads if r.plate_crop_key or r.vehicle_image_key), None)
    return Snapshot(camera_id, found, bool(reads))


async def snapshots(backend: LookupBackend, camera_ids: Iterable[str]) -> dict[str, Snapshot]:
    """The latest image of each camera, looked up side by side."""
    ids = sorted(set(camera_ids))

    async def one(camera_id: str) -> Snapshot:
        try:
            where = check_event_filter(EventFilter(camera_id=camera_id))
        except BadQuery:  # a heartbeat's id no read can carry (the router checks theirs)
            return Snapshot(camera_id, None, False)
        page = await backend.events(where, cursor=None, limit=SCAN)
        return newest_with_image(camera_id, page.items)

    found = await asyncio.gather(*(one(camera_id) for camera_id in ids))
    return {snapshot.camera_id: snapshot for snapshot in found}
