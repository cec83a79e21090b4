"""The rules a read alone does not settle, end to end: a per-camera rate over plates on
every partition of the detected topic (camera ticks from the rule feed, batch runtime, to the
camera-rule agent, Faust), and an overdue dwell raised by the rule feed's timer."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from agents.alerting.rule_topic import publish_rules
from config.settings import Settings
from ops.worker import WorkerProcess, free_port
from rules.model import AnyRule, DwellRule, RateRule
from streams.codec import default_schema_cache
from tests.integration.conftest import require_port
from tests.integration.test_alerts_worker import hook  # noqa: F401  (fixture)
from tests.support.isolated import IsolatedRun
from tests.support.streams import create_topics, encode_plate_event

PARTITIONS = 2
PLATES = ("FA11AAA", "FB22BBB", "FC33CCC")


async def test_a_cameras_rate_counts_the_reads_of_plates_on_every_partition(
    settings: Settings,
    unique: str,
    tmp_path: Path,
    hook: tuple[str, list[tuple[dict[str, str], bytes]]],  # noqa: F811
) -> None:
    # The plates' reads go to both partitions of the detected topic (keyed by plate).
    assert {(murmur2(p.encode()) & 0x7FFFFFFF) % PARTITIONS for p in PLATES} == {0, 1}
    url, received = hook
    rule = RateRule(
        type="rate", name="busy-gate", per="camera", count=3, window=600,
        actions=[{"channel": "webhook", "url": url}],  # type: ignore[list-item]
    )  # fmt: skip
    reads = [(plate, "gate-1", str(uuid.uuid4())) for plate in PLATES]
    # A second alert would come in the 2 s after the first.
    alert = await _one_alert(settings, unique, tmp_path, received, rule, reads, {}, settle_s=2)
    assert (alert["rule"], alert["subject"], alert["camera_id"]) == (
        "busy-gate", "gate-1", "gate-1"
    )  # fmt: skip
    assert alert["details"]["count"] == "3" and len(alert["event_ids"]) == 3


async def test_the_rule_feeds_timer_raises_an_overdue_dwell_once(
    settings: Settings,
    unique: str,
    tmp_path: Path,
    hook: tuple[str, list[tuple[dict[str, str], bytes]]],  # noqa: F811
) -> None:
    """Dwell is a plate rule: its timer runs in the rule feed, over the plate state there."""
    url, received = hook
    rule = DwellRule(
        type="dwell", name="stay", entry_cameras=["in"], exit_cameras=["out"], within=2,
        actions=[{"channel": "webhook", "url": url}],  # type: ignore[list-item]
    )  # fmt: skip
    entered = str(uuid.uuid4())
    reads = [
        ("FA11AAA", "in", entered), ("FB22BBB", "in", str(uuid.uuid4())),
        ("FB22BBB", "out", str(uuid.uuid4())),
    ]  # fmt: skip
    # The timer goes on: a second alert would come in the 3 s after the first.
    alert = await _one_alert(
        settings, unique, tmp_path, received, rule, reads,
        {"ALPR_RULES__TIMER_INTERVAL_S": "0.5"}, settle_s=3,
    )  # fmt: skip
    assert (alert["rule"], alert["plate"], alert["event_ids"]) == ("stay", "FA11AAA", [entered])


async def _one_alert(
    settings: Settings,
    unique: str,
    tmp_path: Path,
    received: list[tuple[dict[str, str], bytes]],
    rule: AnyRule,
    reads: list[tuple[str, str, str]],
    env: dict[str, str],
    settle_s: float,
) -> dict[str, Any]:
    """The one webhook alert (into ``received``, the hook's list) that a worker of its own
    raises with ``rule`` published, once the raw ``reads`` (plate, camera, event id) are
    sent; none more comes in ``settle_s``."""
    bootstrap = settings.kafka.bootstrap_servers
    require_port(bootstrap, "Kafka")
    require_port(settings.schema_registry.url, "schema registry")
    run = IsolatedRun(tag=unique)
    names = {t: run.topic(t) for t in ("raw", "detected", "dlq", "cameras", "rules", "alerts")}
    worker_env = {
        **run.env(partitions=PARTITIONS, alerts=True),
        "ALPR_PROJECTIONS__ENABLE_PG": "false",
        "ALPR_PROJECTIONS__ENABLE_ES": "false",
        **env,
    }
    try:
        await create_topics(
            bootstrap, [names[t] for t in ("raw", "detected", "dlq", "alerts")], PARTITIONS
        )
        await publish_rules(bootstrap, names["rules"], [rule], prune=True)
        worker = WorkerProcess(tmp_path, free_port(), env=worker_env).start()
        try:
            await asyncio.to_thread(worker.wait_ready, 120.0, 1, ("router", "rule-feed"))
            cache = default_schema_cache()
            subject = f"{names['raw']}-value"
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
            await producer.start()
            try:
                for plate, camera, event_id in reads:
                    value = encode_plate_event(
                        cache, subject, event_id=event_id, plate_text=plate, camera_id=camera
                    )
                    await producer.send_and_wait(names["raw"], value, key=event_id.encode())
            finally:
                await producer.stop()
            deadline = time.monotonic() + 60
            while not received and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            assert received, f"no webhook call; worker log:\n{worker.log_tail()}"
            await asyncio.sleep(settle_s)
        finally:
            worker.stop()
        ((_, body),) = received
        alert: dict[str, Any] = json.loads(body)
        return alert
    finally:
        await run.drop(bootstrap, settings.schema_registry.url)
