"""The ``router`` section: how the plate router validates, deduplicates and batches
(``ALPR_ROUTER__*``). ``ALPR_ROUTER__CAMERAS`` takes JSON:
``{"cam-1": {"site_id": "s1", "name": "North gate"}}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from config.section import Section


class CameraConfig(Section):
    """Static metadata of one camera, used when the cameras topic has nothing on it."""

    site_id: str = Field(min_length=1, description="Site the camera belongs to")
    name: str | None = Field(default=None, description="Human name of the camera")
    zone: str | None = Field(default=None, description="Zone or lane the camera watches")
    lat: float | None = Field(default=None, ge=-90, le=90, description="Latitude of the camera")
    lon: float | None = Field(default=None, ge=-180, le=180, description="Longitude of the camera")


class RouterSettings(Section):
    """How the router validates, deduplicates and batches."""

    max_age_s: float = Field(
        default=7 * 24 * 3600,
        gt=0,
        le=365 * 24 * 3600,
        description="Oldest capture time accepted, seconds before now (edges buffer offline)",
    )
    max_ahead_s: float = Field(
        default=300,
        ge=0,
        le=24 * 3600,
        description="Latest capture time accepted, seconds after now",
    )
    unknown_camera: Literal["accept", "dead_letter"] = Field(
        default="accept",
        description="Reads of cameras in neither the cameras topic nor 'cameras': accept them "
        "(camera.known=false) or dead-letter them as unknown_camera",
    )
    cameras: dict[str, CameraConfig] = Field(
        default_factory=dict, description="Static camera metadata by camera id"
    )
    plate_min_length: int = Field(
        default=2, ge=1, le=20, description="Fewest characters of a plate"
    )
    plate_max_length: int = Field(default=12, ge=1, le=20, description="Most characters of a plate")
    max_payload_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Largest raw message accepted",
    )
    dedupe_ttl_s: float = Field(
        default=24 * 3600,
        gt=0,
        le=30 * 24 * 3600,
        description="How long an event id is remembered; replays within it add no reads. "
        "Each remembered id costs about 100 bytes of disk with dedupe_store 'disk' (about 300 "
        "bytes of memory with 'memory': 1 GB per hour at 1,000 events/s)",
    )
    dedupe_sweep_s: float = Field(
        default=60, gt=0, le=3600, description="How often expired event ids are removed"
    )
    # Not 'disk' by default yet: it cost the router about 30 us of CPU per event more than
    # 'memory' in python -m bench.router (104-106 against 72-83 us, 200,000 events).
    dedupe_store: Literal["disk", "memory"] = Field(
        default="memory",
        description="Where remembered event ids are kept: 'memory' (a dict, about 300 bytes per "
        "id, restored in full from the changelog at every start) or 'disk' (an SQLite file per "
        "worker with bounded memory; a restart restores only the changelog written since; "
        "about 30 us more CPU per event routed)",
    )
    dedupe_dir: Path | None = Field(
        default=None,
        description="Directory of the on-disk dedupe state (one file per changelog topic); "
        "default: router-dedupe in the worker's faust.data_dir. Give each worker of a host its "
        "own: a worker that finds it held keeps its state in a temporary file, restored in full",
    )
    dedupe_cache_entries: int = Field(
        default=50_000,
        ge=0,
        le=5_000_000,
        description="Recent event ids the on-disk state keeps in memory too (about 200 bytes each)",
    )
    dedupe_page_cache_mib: int = Field(
        default=64,
        ge=1,
        le=64 * 1024,
        description="MiB of the on-disk state's file SQLite keeps in memory, for each of its "
        "two connections (the router's lookups, the background writer)",
    )
    batch_size: int = Field(
        default=2000, ge=1, le=50_000, description="Most raw messages routed in one batch"
    )
    linger_ms: int = Field(
        default=0,
        ge=0,
        le=1000,
        description="Milliseconds the producer waits to fill a request with reads (latency "
        "against fewer, larger requests)",
    )
    retry_first_s: float = Field(
        default=0.2, gt=0, le=60, description="First pause before a batch is sent again"
    )
    retry_max_s: float = Field(
        default=10.0, gt=0, le=600, description="Longest pause between sends of a batch"
    )

    @model_validator(mode="after")
    def _plate_bounds(self) -> RouterSettings:
        if self.plate_min_length > self.plate_max_length:
            raise ValueError(
                f"plate_min_length ({self.plate_min_length}) must not exceed "
                f"plate_max_length ({self.plate_max_length})"
            )
        return self
