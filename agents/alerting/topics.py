"""Topics of the alert engine: the rule set (compacted) and the alerts (Avro).

The rule set carries raw bytes (gzip-compressed JSON of one rule, keyed by its name; a
tombstone removes it) so that a watch list of 100,000 plates fits one message.
"""

from __future__ import annotations

import faust

from alpr import app
from config.settings import get_settings
from streams.alert import Alert, AlertCodec
from streams.codec import value_subject
from tables.rule_state import CameraTick

_settings = get_settings().rules

rule_updates: faust.TopicT = app.topic(
    _settings.topic,
    key_type=str,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
    partitions=1,
    compacting=True,
    internal=True,
)

alerts: faust.TopicT = app.topic(
    _settings.alerts_topic,
    key_type=str,
    value_type=Alert,
    key_serializer="raw",
    value_serializer=AlertCodec(subject=value_subject(_settings.alerts_topic)),
    internal=True,
)

#: Reads reduced to camera ticks and keyed by camera, for the camera-keyed rules.
camera_ticks: faust.TopicT = app.topic(
    f"{_settings.alerts_topic}.by-camera",
    key_type=str,
    value_type=CameraTick,
    key_serializer="raw",
    internal=True,
)
