"""The ``projections`` section: how the projections and retention batch, retry, partition
and expire (``ALPR_PROJECTIONS__*``).
"""

from __future__ import annotations

from pydantic import Field, model_validator

from config.section import Section


class ProjectionSettings(Section):
    """How the projections batch, retry, partition and expire."""

    batch_size: int = Field(
        default=5000, ge=1, le=50_000, description="Most reads written per batch"
    )
    batch_within_s: float = Field(
        default=0.2, gt=0, le=60, description="Longest wait, seconds, to fill a batch"
    )
    batches_in_flight: int = Field(
        # 3 measured best on two cores: one batch decoding while two are in the store.
        default=3,
        ge=1,
        le=16,
        description="Batches written at once by a projection (offsets still commit in order)",
    )
    retry_first_s: float = Field(
        default=0.2, gt=0, le=60, description="First pause, seconds, after a failed write"
    )
    retry_max_s: float = Field(
        default=10.0, gt=0, le=600, description="Longest pause, seconds, between write attempts"
    )
    es_item_attempts: int = Field(
        default=8,
        ge=1,
        le=100,
        description="Attempts at a document Elasticsearch rejects with a 4xx other than 429 "
        "before it goes to the dead-letter topic (a 429 or 5xx is retried without limit)",
    )
    partitions_ahead_days: int = Field(
        default=7, ge=1, le=366, description="Daily partitions of plate_reads created ahead"
    )
    retention_interval_s: float = Field(
        default=3600.0,
        ge=60,
        le=7 * 24 * 3600,
        description="Seconds between runs of the retention timer in each worker",
    )
    es_shards: int = Field(default=1, ge=1, le=64, description="Primary shards of a daily index")
    es_replicas: int = Field(default=0, ge=0, le=8, description="Replicas of a daily index")
    enable_pg: bool = Field(default=True, description="Run the PostgreSQL projection agent")
    enable_es: bool = Field(default=True, description="Run the Elasticsearch projection agent")

    @model_validator(mode="after")
    def _retry_bounds(self) -> ProjectionSettings:
        if self.retry_first_s > self.retry_max_s:
            raise ValueError(
                f"retry_first_s ({self.retry_first_s}) must not exceed "
                f"retry_max_s ({self.retry_max_s})"
            )
        return self
