"""Alerts on the wire: Avro in the Confluent wire format, every field and action kept."""

from __future__ import annotations

from typing import Any

import pytest

from streams.alert import Alert, AlertCodec, alert_id
from streams.codec import AvroSchema, decode, schema_id_of
from tests.notify.conftest import make_alert
from tests.support.streams import memory_schema_cache

ACTIONS: list[dict[str, Any]] = [
    {"channel": "email", "to": ["sec@example.org"], "subject": None},
    {"channel": "webhook", "url": "http://127.0.0.1:9/hook", "secret_env": "HOOK_KEY"},
]


def test_an_alert_survives_the_round_trip_with_its_actions() -> None:
    codec = AlertCodec(subject="t.alerts-value", schema_cache=memory_schema_cache())
    alert = make_alert("a1", ACTIONS)
    alert.details = {"count": "3"}
    data = codec.dumps(alert)
    assert schema_id_of(data) == 1
    back = Alert.from_data(codec.loads(data))
    assert back.asdict() == alert.asdict()
    assert back.actions == ACTIONS


def test_the_wire_form_is_the_registered_schema() -> None:
    cache = memory_schema_cache()
    codec = AlertCodec(subject="t.alerts-value", schema_cache=cache)
    datum = decode(codec.dumps(make_alert("a1", ACTIONS)), AvroSchema.named("Alert"), cache)
    assert datum["actions"][1] == {
        "channel": "webhook",
        "options_json": '{"secret_env": "HOOK_KEY", "url": "http://127.0.0.1:9/hook"}',
    }
    assert datum["received_at"] is None and datum["plate"] == "AB123CD"


def test_the_alert_id_depends_on_the_rule_and_the_set_of_reads_only() -> None:
    assert alert_id("r", ["e2", "e1", "e1"]) == alert_id("r", ["e1", "e2"])
    assert alert_id("r", ["e1"]) != alert_id("s", ["e1"])


def test_the_alerts_topic_sends_avro_not_the_records_json(monkeypatch: pytest.MonkeyPatch) -> None:
    from agents.alerting.topics import alerts
    from alpr import app

    topic: Any = alerts
    codec = topic.value_serializer
    assert isinstance(codec, AlertCodec)
    monkeypatch.setattr(codec, "_schema_cache", memory_schema_cache())
    data = app.serializers.dumps_value(Alert, make_alert("a1", ACTIONS), serializer=codec)
    assert data is not None and schema_id_of(data) == 1
    assert app.serializers.loads_value(Alert, data, serializer=codec).actions == ACTIONS
