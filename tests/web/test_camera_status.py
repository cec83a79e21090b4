"""Camera health and rates from heartbeats, metadata and hourly counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streams.records import CameraStatus
from web.camera_status import health, merge, reads_per_minute
from web.lookup.contract import Camera, HourlyCount

NOW = datetime(2026, 1, 31, 8, 30, tzinfo=UTC)


def beat(state: str, age_s: float, camera: str = "cam-1") -> CameraStatus:
    return CameraStatus(
        camera_id=camera, site_id="s1", state=state, reported_at=NOW - timedelta(seconds=age_s)
    )


def test_health_follows_the_last_heartbeat() -> None:
    assert health(None, NOW) == "unknown"
    assert health(beat("online", 5), NOW) == "ok"
    assert health(beat("degraded", 5), NOW) == "degraded"
    assert health(beat("offline", 5), NOW) == "down"
    assert health(beat("online", 600), NOW) == "stale"


def test_reads_per_minute_count_the_previous_and_current_hour() -> None:
    counts = [
        HourlyCount(camera_id="cam-1", hour=NOW.replace(minute=0) - timedelta(hours=2), reads=900),
        HourlyCount(camera_id="cam-1", hour=NOW.replace(minute=0) - timedelta(hours=1), reads=60),
        HourlyCount(camera_id="cam-1", hour=NOW.replace(minute=0), reads=30),
    ]
    assert reads_per_minute(counts, NOW) == {"cam-1": 1.0}  # 90 reads over 90 minutes


def test_cameras_from_either_source_are_merged() -> None:
    stored = [Camera(camera_id="cam-1", site_id="s1", name="North gate", zone="A")]
    live = {"cam-1": beat("online", 1), "cam-9": beat("offline", 1, "cam-9")}
    views = {v.camera_id: v for v in merge(stored, live, {"cam-1": 2.5}, NOW)}
    assert views["cam-1"].name == "North gate" and views["cam-1"].health == "ok"
    assert views["cam-1"].reads_per_minute == 2.5
    assert views["cam-9"].health == "down" and views["cam-9"].reads_per_minute == 0.0
    assert merge(stored, {}, {}, NOW)[0].health == "unknown"
