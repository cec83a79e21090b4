"""The topics of the event contract in the core's Faust app, each declaring its key and value
types (the records and codecs are the contract's, in ``streams``).

``alpr.plates.raw`` carries raw bytes on purpose: the router decodes inside the agent so that
a message that does not decode becomes a dead letter instead of an error before the agent.
Its key is the event id (UTF-8), which keeps duplicates of an event on one partition, where
the dedupe table entry for it lives.

The topics are ``internal``: Faust creates those it consumes (with these partitions and
configs) before subscribing, and ``declare_output_topics`` creates the others at start,
so a fresh cluster works without a separate bootstrap step.
"""

from __future__ import annotations

import faust

from alpr import app
from config.settings import get_settings
from streams.codec import AvroCodec, value_subject
from streams.records import CameraStatus, DeadLetter, PlateRead

_names = get_settings().topics


def _avro(record: str, topic: str) -> AvroCodec:
    return AvroCodec(record, subject=value_subject(topic))


def record_topic(name: str, record: type[faust.Record]) -> faust.TopicT:
    """A topic of one contract record (Avro, its schema named as the record's class) keyed
    by an id in UTF-8: the operators' events (assignments, acknowledgements, corrections)."""
    return app.topic(
        name,
        key_type=str,
        value_type=record,
        key_serializer="raw",
        value_serializer=_avro(record.__name__, name),
        internal=True,
    )


_large = {"max.message.bytes": str(_names.max_message_bytes)}

plates_raw: faust.TopicT = app.topic(
    _names.raw,
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
    config=_large,
    internal=True,
)

plates_detected: faust.TopicT = app.topic(
    _names.detected,
    key_type=str,
    value_type=PlateRead,
    key_serializer="raw",
    value_serializer=_avro("PlateRead", _names.detected),
    internal=True,
)

dead_letters: faust.TopicT = app.topic(
    _names.dlq,
    key_type=str,
    value_type=DeadLetter,
    key_serializer="raw",
    value_serializer=_avro("DeadLetter", _names.dlq),
    config=_large,
    internal=True,
)

camera_statuses: faust.TopicT = app.topic(
    _names.cameras,
    key_type=str,
    value_type=CameraStatus,
    key_serializer="raw",
    value_serializer=_avro("CameraStatus", _names.cameras),
    compacting=True,
    internal=True,
)

#: Every topic of the contract, for declaring them at start and in tests.
ALL_TOPICS = (plates_raw, plates_detected, dead_letters, camera_statuses)


async def declare_topics() -> None:
    """Create every topic of the contract that does not exist yet."""
    for topic in ALL_TOPICS:
        await topic.maybe_declare()
