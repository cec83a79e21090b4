"""``track_camera_status``: keeps ``cameras_by_id`` up to date from the ``alpr.cameras`` topic.

Like the router it reads raw bytes and decodes itself, so a bad heartbeat is dead-lettered
instead of being skipped before the agent sees it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from agents import metrics
from agents.deadletters.letters import dead_letter_for
from agents.emit import send_dead_letter
from agents.topics import camera_statuses
from alpr import app
from streams.codec import AvroSchema, decode, default_schema_cache
from streams.failures import ProcessingError, Reason, Stage
from streams.records import CameraStatus
from tables.cameras import cameras_by_id

log = logging.getLogger(__name__)

camera_statuses_raw = app.topic(
    camera_statuses.get_topic_name(),
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
    compacting=True,
    internal=True,
)


def status_from(payload: bytes | None) -> CameraStatus:
    """The CameraStatus in one raw message, or ``ProcessingError``."""
    status = CameraStatus.from_data(
        decode(payload, AvroSchema.named("CameraStatus"), default_schema_cache())
    )
    if not status.camera_id.strip():
        raise ProcessingError(Reason.INVALID_FIELD, Stage.VALIDATE, "camera_id is empty")
    return status


@app.agent(camera_statuses_raw)
async def track_camera_status(stream: Any) -> Any:
    """Store each camera's latest status; dead-letter what does not decode."""
    async for event in stream.events():
        message = event.message
        metrics.EVENTS_IN.labels(message.topic).inc()
        try:
            status = status_from(message.value)
        except ProcessingError as error:
            letter = dead_letter_for(error, message, time.time())
            await send_dead_letter(letter)
            metrics.DEAD_LETTERS.labels(letter.reason, letter.stage).inc()
            continue
        previous = cameras_by_id.get(status.camera_id)
        if previous is None or previous.reported_at <= status.reported_at:
            cameras_by_id[status.camera_id] = status
        yield status
