"""Names and sizes of the event topics: the ``topics`` section (``ALPR_TOPICS__RAW``...).

The defaults are the platform's topic names; tests and staging override them to run beside
a live deployment (``ALPR_TOPICS__RAW=alpr.plates.raw.test-1234``).
"""

from __future__ import annotations

from pydantic import Field

from config.section import Section

#: What Kafka accepts as a topic name.
TOPIC_NAME = r"^[A-Za-z0-9._-]{1,249}$"


class TopicSettings(Section):
    """The topics of the event contract."""

    raw: str = Field(
        default="alpr.plates.raw", pattern=TOPIC_NAME, description="PlateEvents from the edge"
    )
    detected: str = Field(
        default="alpr.plates.detected", pattern=TOPIC_NAME, description="PlateReads from the router"
    )
    dlq: str = Field(
        default="alpr.dlq", pattern=TOPIC_NAME, description="DeadLetters of every stage"
    )
    cameras: str = Field(
        default="alpr.cameras",
        pattern=TOPIC_NAME,
        description="CameraStatus per camera (compacted)",
    )
    corrected: str = Field(
        default="alpr.reads.corrected",
        pattern=TOPIC_NAME,
        description="ReadCorrections by operators, keyed by the corrected read's event id",
    )
    assigned: str = Field(
        default="alpr.alerts.assigned",
        pattern=TOPIC_NAME,
        description="AlertAssignments by operators, keyed by the assigned alert's id",
    )
    acknowledged: str = Field(
        default="alpr.alerts.acknowledged",
        pattern=TOPIC_NAME,
        description="AlertAcknowledgements by operators, keyed by the acknowledged alert's id",
    )
    max_message_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1024 * 1024,
        le=64 * 1024 * 1024,
        description="max.message.bytes of the raw and dead-letter topics: a dead letter "
        "carries the original payload, so it must hold the largest raw message plus headers",
    )
