"""The worker's Kafka consumer waits at most ALPR_FAUST__FETCH_MAX_WAIT_MS per fetch and holds
its next fetch up to ALPR_FAUST__FETCH_HOLD_MS while fetched records wait."""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.consumer.fetcher import Fetcher
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.types import TP

import alpr  # builds the app, which applies the fixes
from config.settings import get_settings
from ops import faust_fixes


async def test_the_workers_consumer_gets_the_configured_fetch_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built = AIOKafkaConsumer()  # what Faust builds (not started)
    monkeypatch.setattr(faust_fixes, "_create_worker_consumer", lambda _self, _t: built)
    configured = SimpleNamespace(faust=SimpleNamespace(fetch_max_wait_ms=42, fetch_hold_ms=250))
    monkeypatch.setattr(faust_fixes, "get_settings", lambda: configured)
    thread: Any = AIOKafkaConsumerThread
    consumer = thread._create_worker_consumer(object(), object())
    assert consumer is built
    assert built._fetch_max_wait_ms == 42
    assert get_settings().faust.fetch_max_wait_ms == 1500  # Faust's own, by default
    assert get_settings().faust.fetch_hold_ms == 1000  # aiokafka's own is 100
    await built.stop()


def test_aiokafka_still_holds_fetches_by_prefetch_backoff() -> None:
    # The fix sets a private attribute of the fetcher (tests/integration/
    # test_faust_fetch_hold.py shows its effect); a newer aiokafka that drops it fails here.
    assert "backoff=self._prefetch_backoff" in inspect.getsource(Fetcher._proc_fetch_request)


def test_aiokafka_still_builds_its_fetcher_from_that_attribute() -> None:
    # The fix sets a private attribute: a newer aiokafka that stops reading it fails here.
    assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in inspect.getsource(AIOKafkaConsumer.start)


async def test_the_workers_producer_waits_for_every_replica_and_is_idempotent() -> None:
    faust_producer: Any = alpr.app.producer
    producer = faust_producer._new_producer()
    try:
        assert producer._sender._acks == -1  # "all"
        assert producer._txn_manager is not None  # aiokafka's idempotence
    finally:
        await producer.stop()


async def test_the_workers_producer_follows_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    kafka = get_settings().kafka.model_copy(
        update={"producer_acks": "1", "producer_idempotence": False}
    )
    monkeypatch.setattr(faust_fixes, "get_settings", lambda: SimpleNamespace(kafka=kafka))
    faust_producer: Any = alpr.app.producer
    producer = faust_producer._new_producer()
    try:
        assert producer._sender._acks == 1
        assert producer._txn_manager is None
    finally:
        await producer.stop()


def test_faust_pausing_a_partition_before_its_consumer_starts_keeps_its_own_books() -> None:
    # Nothing fetches yet, so only Faust's books change (the fetcher's side: tests/
    # integration/test_faust_fetch_hold.py).
    consumer: Any = alpr.app.consumer  # built, not started
    tp = TP("alpr-rule_state_by_plate-changelog", 0)
    consumer.pause_partitions([tp])
    assert tp in consumer._paused_partitions
    consumer.resume_partitions([tp])
    assert tp not in consumer._paused_partitions


def test_aiokafka_still_holds_fetches_for_records_of_paused_partitions() -> None:
    # The fix lets those records go: aiokafka looks at waiting records before the pause.
    source = inspect.getsource(Fetcher._get_actions_per_node)
    assert source.index("if tp in self._records:") < source.index("elif tp_state.paused:")
