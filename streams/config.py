"""Names and sizes of the event topics, read from ``ALPR_TOPICS_*`` variables.

The defaults are the platform's topic names; tests and staging override them to run beside
a live deployment (``ALPR_TOPICS_RAW=alpr.plates.raw.test-1234``).
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

_TOPIC = r"^[A-Za-z0-9._-]{1,249}$"


class TopicSettings(BaseSettings):
    """The topics of the event contract."""

    model_config = SettingsConfigDict(env_prefix="ALPR_TOPICS_", extra="forbid", frozen=True)

    raw: str = Field(
        default="alpr.plates.raw", pattern=_TOPIC, description="PlateEvents from the edge"
    )
    detected: str = Field(
        default="alpr.plates.detected", pattern=_TOPIC, description="PlateReads from the router"
    )
    dlq: str = Field(default="alpr.dlq", pattern=_TOPIC, description="DeadLetters of every stage")
    cameras: str = Field(
        default="alpr.cameras", pattern=_TOPIC, description="CameraStatus per camera (compacted)"
    )
    max_message_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1024 * 1024,
        le=64 * 1024 * 1024,
        description="max.message.bytes of the raw and dead-letter topics: a dead letter "
        "carries the original payload, so it must hold the largest raw message plus headers",
    )


@lru_cache(maxsize=1)
def get_topic_settings() -> TopicSettings:
    """The process-wide topic settings, read once."""
    return TopicSettings()  # type: ignore[call-arg]  # every field has a default
