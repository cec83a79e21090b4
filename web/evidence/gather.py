"""A report's facts, read from the stores: the reads from the lookup backend, their cameras,
alerts and corrections from PostgreSQL, their images' bytes from the S3 object store, and for
a plate's report who looked at the plate (the access audit log).

An image that is not there is a fact the report states (no key stored with the read, no
object under the key, an object too large to embed); an object store that does not answer
is not: the request fails as a store outage (503) rather than file a report that looks as if
the crop were gone.
"""

from __future__ import annotations

import asyncio
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from web.app_state import WebResources
from web.auth import audit
from web.errors import StoreUnavailable
from web.evidence.facts import (
    IMAGE_KINDS,
    CorrectionFact,
    Evidence,
    Generation,
    ImageFact,
    ReadFact,
)
from web.lookup.contract import Alert, Camera, Page, Sighting
from web.lookup.queries import check_event_id

#: Largest image embedded in a report; a plate crop is a few kilobytes.
MAX_IMAGE_BYTES = 8 * 1024 * 1024
#: How long one image may take to come from the object store.
IMAGE_TIMEOUT_S = 15.0
#: Most reads of one alert a report holds (as on the alert's page).
MAX_FIRED_READS = 50
#: Most reads of one plate a report holds in full, newest first (each with its images).
MAX_PLATE_READS = 100
#: Most rows of the audit trail a plate's report holds, newest first.
MAX_TRAIL_ROWS = 500
_NOT_THERE = frozenset({"NoSuchKey", "404", "NotFound"})


async def image_fact(state: WebResources, kind: str, key: str | None) -> ImageFact:
    """The ``kind`` image stored under ``key``, or why the report has none."""
    if not key:
        return ImageFact(kind, None, missing=f"no {kind} was stored with this read")
    try:
        data = await asyncio.wait_for(_object(state, key), IMAGE_TIMEOUT_S)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _NOT_THERE:
            return ImageFact(
                kind, key, missing=f"the object store holds no {kind} under its key any more "
                "(removed, for example by retention, or never uploaded)",
            )  # fmt: skip
        raise StoreUnavailable(f"S3: {exc}") from exc
    except BotoCoreError as exc:
        raise StoreUnavailable(f"S3: {exc}") from exc
    if data is None:
        return ImageFact(
            kind, key, missing=f"the stored {kind} is larger than {MAX_IMAGE_BYTES} bytes"
        )
    return ImageFact(kind, key, data=data)


async def _object(state: WebResources, key: str) -> bytes | None:
    """The object's bytes, or None when it is too large to embed."""
    client = await state.s3()
    answer: dict[str, Any] = await client.get_object(Bucket=state.settings.s3.bucket, Key=key)
    async with answer["Body"] as body:
        if int(answer.get("ContentLength") or 0) > MAX_IMAGE_BYTES:
            return None
        data: bytes = await body.read()
    return data


async def corrections_of(state: WebResources, event_id: str) -> tuple[CorrectionFact, ...]:
    """Every correction made to the read through the web views, oldest first."""
    rows = await (await state.pool()).fetch(
        "SELECT corrected_at, actor, key_id, old_text, new_text, reason FROM read_corrections"
        " WHERE event_id = $1 ORDER BY corrected_at, id LIMIT 100",
        event_id,
    )
    return tuple(CorrectionFact(**dict(row)) for row in rows)


async def read_fact(
    state: WebResources, sighting: Sighting, cameras: dict[str, Camera]
) -> ReadFact:
    images = await asyncio.gather(
        *(image_fact(state, kind, getattr(sighting, f)) for kind, f in IMAGE_KINDS.items())
    )
    return ReadFact(
        sighting, cameras.get(sighting.camera_id), tuple(images),
        await corrections_of(state, sighting.event_id),
    )  # fmt: skip


async def _cameras(state: WebResources) -> dict[str, Camera]:
    return {c.camera_id: c for c in await (await state.reference()).cameras()}


async def read_evidence(
    state: WebResources, event_id: str, generation: Generation
) -> Evidence | None:
    """The facts of read ``event_id``'s report, or None when there is no such read."""
    sighting = await (await state.lookup()).sighting(check_event_id(event_id))
    if sighting is None:
        return None
    read = await read_fact(state, sighting, await _cameras(state))
    plates = [sighting.plate, *(c.old_text for c in read.corrections)]
    alerts = await (await state.reference()).alerts_for_read(sighting.event_id, plates)
    return Evidence("read", sighting.event_id, (read,), generation, tuple(alerts))


async def alert_evidence(
    state: WebResources, alert: Alert, fired_by: list[str], generation: Generation
) -> Evidence:
    """The facts of ``alert``'s report, with the reads ``fired_by`` that are still kept."""
    backend = await state.lookup()
    ids = [check_event_id(i) for i in fired_by][:MAX_FIRED_READS]
    found = await asyncio.gather(*(backend.sighting(i) for i in ids))
    cameras = await _cameras(state)
    reads = await asyncio.gather(*(read_fact(state, s, cameras) for s in found if s is not None))
    missing = len(ids) - len(reads)
    return Evidence("alert", alert.alert_id, tuple(reads), generation, (alert,), missing)


async def plate_evidence(
    state: WebResources, plate: str, generation: Generation, *, with_trail: bool
) -> Evidence | None:
    """The facts of ``plate``'s report (a normalised plate), or None when no read of it is
    kept: its newest reads in full, the alerts raised on it, and, ``with_trail``, who looked
    at it (the audit log is an admin's to read)."""
    backend = await state.lookup()
    sightings: list[Sighting] = []
    cursor: str | None = None
    while len(sightings) < MAX_PLATE_READS:
        page: Page[Sighting] = await backend.history(
            plate, cursor=cursor, limit=MAX_PLATE_READS - len(sightings)
        )
        sightings += page.items
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    if not sightings:
        return None
    hits = await backend.search(plate, limit=1)
    kept = next((h.sightings for h in hits if h.plate == plate), len(sightings))
    cameras = await _cameras(state)
    reads = await asyncio.gather(*(read_fact(state, s, cameras) for s in sightings))
    ids = [s.event_id for s in sightings]
    alerts = await (await state.reference()).alerts_for_plate(plate, ids)
    trail = None
    if with_trail:
        named = ids + [a.alert_id for a in alerts]
        rows = await audit.trail(await state.pool(), plate, named, limit=MAX_TRAIL_ROWS)
        trail = tuple(rows)
    return Evidence(
        "plate", plate, tuple(reads), generation, tuple(alerts),
        reads_left_out=max(0, kept - len(reads)), audit_trail=trail,
    )  # fmt: skip
