"""The consumers' session timeout and heartbeat (issue 17, finding 3): one pair in the kafka
section reaches Faust's consumer and every batch consumer's aiokafka consumer.

A lone worker restarted after a crash used to wait out Faust's 60 s session of its dead
predecessor before it consumed again. The figures before and after are measured, not timed
here (``tests/integration/test_reliability_takeover.py``).
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

import streams.batch_consumer
from alpr import app
from config.settings import KafkaSettings, get_settings
from streams.batch_consumer import BatchConsumer, BatchConsumerSettings
from tests.support.settings import use_sections


def kafka_section(**fields: float) -> KafkaSettings:
    return KafkaSettings(**fields)  # type: ignore[arg-type]


def test_the_kafka_section_bounds_the_session_and_heartbeat() -> None:
    assert kafka_section(session_timeout_s=9, heartbeat_interval_s=3).session_timeout_s == 9
    with pytest.raises(ValidationError, match="session_timeout_s"):
        kafka_section(session_timeout_s=2)
    with pytest.raises(ValidationError, match="at most a third"):
        kafka_section(session_timeout_s=10, heartbeat_interval_s=4)


def test_fausts_consumer_has_the_sections_session_and_heartbeat() -> None:
    kafka = get_settings().kafka
    assert app.conf.broker_session_timeout == kafka.session_timeout_s < 60
    assert app.conf.broker_heartbeat_interval == kafka.heartbeat_interval_s


class StartedConsumer:
    """Stands in for aiokafka's consumer at start: keeps what it was built with."""

    built: dict[str, Any] = {}

    def __init__(self, **kwargs: Any) -> None:
        StartedConsumer.built = kwargs

    def subscribe(self, topics: Any, listener: Any) -> None:
        pass

    async def start(self) -> None:
        pass


async def test_a_batch_consumer_joins_with_the_sections_session_and_heartbeat(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kafka = kafka_section(session_timeout_s=12, heartbeat_interval_s=2)
    use_sections(monkeypatch, streams.batch_consumer, kafka=kafka)
    monkeypatch.setattr(streams.batch_consumer, "AIOKafkaConsumer", StartedConsumer)

    async def handler(batch: Any) -> None:
        pass

    consumer = BatchConsumer(
        "t", "127.0.0.1:1", ["t"], "g", handler, BatchConsumerSettings(max_records=10)
    )
    await consumer._start()
    assert StartedConsumer.built["session_timeout_ms"] == 12_000
    assert StartedConsumer.built["heartbeat_interval_ms"] == 2_000
