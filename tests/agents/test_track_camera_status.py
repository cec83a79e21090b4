"""The camera agent keeps the latest status per camera and dead-letters bad heartbeats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from agents.cameras import track_camera_status
from streams.codec import AvroSchema, SchemaCache, encode
from tables.cameras import cameras_by_id

SCHEMA = AvroSchema.named("CameraStatus")


def heartbeat(cache: SchemaCache, reported_at: datetime, state: str = "online") -> bytes:
    datum = {
        "camera_id": "cam-7",
        "site_id": "site-1",
        "name": "Exit lane",
        "state": state,
        "reported_at": reported_at,
        "location": {"lat": 10.0, "lon": 20.0},
    }
    return encode(cache.id_for("alpr.cameras-value", SCHEMA), SCHEMA, datum)


async def test_latest_status_wins_and_bad_bytes_are_dead_lettered(
    schema_cache: SchemaCache, sent: Any
) -> None:
    now = datetime.now(UTC)
    async with track_camera_status.test_context() as agent:
        await agent.put(heartbeat(schema_cache, now, "degraded"), key=b"cam-7")
        await agent.put(heartbeat(schema_cache, now - timedelta(minutes=5)), key=b"cam-7")
        assert cameras_by_id.data["cam-7"].state == "degraded"
        await agent.put(b"not avro", key=b"cam-7", wait=False)
        await agent.put(heartbeat(schema_cache, now + timedelta(seconds=1), "offline"), key=b"c")
    status = cameras_by_id.data["cam-7"]
    assert (status.state, status.name, status.location.lat) == ("offline", "Exit lane", 10.0)
    assert sent.reasons == ["wrong_magic"]
    assert sent.dead_letters[0][1].payload == b"not avro"
