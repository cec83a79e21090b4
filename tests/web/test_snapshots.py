"""The latest image of each camera: the newest read with an image among its last reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from web.lookup.contract import EventFilter, Page, Sighting
from web.snapshots import SCAN, newest_with_image, snapshots

AT = datetime(2026, 7, 1, 8, tzinfo=UTC)


def read(n: int, camera: str, crop: str | None = None, vehicle: str | None = None) -> Sighting:
    return Sighting(
        event_id=f"{camera}-{n}", plate="AB12CDE", captured_at=AT - timedelta(minutes=n),
        camera_id=camera, site_id="site-1", confidence=0.9, direction="in",
        plate_crop_key=crop, vehicle_image_key=vehicle,
    )  # fmt: skip


class Backend:
    """Reads by camera, newest first, as a lookup backend's event list gives them."""

    name = "fake"

    def __init__(self, reads: list[Sighting]) -> None:
        self.reads = reads
        self.asked: list[tuple[EventFilter, int]] = []

    async def events(self, where: EventFilter, *, cursor: str | None, limit: int) -> Page[Sighting]:
        self.asked.append((where, limit))
        mine = [r for r in self.reads if r.camera_id == where.camera_id]
        return Page[Sighting](items=mine[:limit])


def test_the_newest_read_with_a_crop_or_a_vehicle_image_is_the_snapshot() -> None:
    reads = [read(0, "cam-1"), read(1, "cam-1", vehicle="v.jpg"), read(2, "cam-1", crop="c.jpg")]
    shot = newest_with_image("cam-1", reads)
    assert shot.read == reads[1] and shot.words == ""


def test_a_camera_without_an_image_says_why() -> None:
    none_with_image = newest_with_image("cam-1", [read(0, "cam-1")])
    assert none_with_image.read is None
    assert none_with_image.words == f"None of its last {SCAN} reads has an image."
    no_reads = newest_with_image("cam-2", [])
    assert no_reads.words == "No reads from this camera are stored."


async def test_each_camera_is_looked_up_once_by_its_own_newest_reads() -> None:
    backend = Backend([read(0, "cam-1"), read(1, "cam-1", crop="c.jpg"), read(0, "cam-2")])
    found = await snapshots(backend, ["cam-2", "cam-1", "cam-1", "cam-3", "bad id"])  # type: ignore[arg-type]
    assert sorted(found) == ["bad id", "cam-1", "cam-2", "cam-3"]
    assert found["cam-1"].read is not None and found["cam-1"].read.event_id == "cam-1-1"
    assert found["cam-2"].read is None and found["cam-2"].any_reads
    assert found["cam-3"].read is None and not found["cam-3"].any_reads
    assert found["bad id"].read is None  # no read can carry it: not looked up
    assert sorted((w.camera_id, n) for w, n in backend.asked) == [
        ("cam-1", SCAN), ("cam-2", SCAN), ("cam-3", SCAN)
    ]  # fmt: skip
