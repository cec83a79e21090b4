"""The rule feed's handler with an in-memory producer, plate state and registry, for the
tests of the plate-keyed rules (``tests/agents/test_alerts.py``) and of the feed itself."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import ConsumerRecord
from aiokafka.partitioner import DefaultPartitioner
from pydantic import TypeAdapter

from agents.alerting.feed import RuleFeed
from agents.alerting.rule_book import apply_rule_message
from config.alerting import RulesSettings
from config.settings import get_settings
from rules.model import AnyRule, Rule
from rules.ruleset import encode_rule
from streams.alert import Alert, AlertCodec
from streams.batch_consumer import Batch
from streams.codec import AvroCodec
from streams.records import Box, CameraInfo, DeadLetter, PlateRead
from streams.retry import Backoff
from tables.plate_state import PlateStates, decode_plate_key
from tables.rule_state import CameraTick, decode_state
from tests.agents.memory_producer import MemoryProducer, Sent
from tests.support.streams import memory_schema_cache

RULE: TypeAdapter[AnyRule] = TypeAdapter(Rule)
T0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
DETECTED = "test.detected"
ALERTS_TOPIC, TICKS_TOPIC, CHANGELOG = "test.alerts", "test.alerts.by-camera", "test-changelog"
PARTITIONS = 4

#: The registry of these tests: the feed decodes reads and encodes alerts through it.
CACHE = memory_schema_cache()
READS = AvroCodec("PlateRead", subject=f"{DETECTED}-value", schema_cache=CACHE)
ALERTS = AlertCodec(subject=f"{ALERTS_TOPIC}-value", schema_cache=CACHE)


def use_rules(*rules: dict[str, Any]) -> None:
    """Apply rules as the rule topic would deliver them."""
    for fields in rules:
        rule = RULE.validate_python(fields)
        apply_rule_message(rule.name, encode_rule(rule))


def plate_read(
    n: int, plate: str = "AB123CD", seconds: float = 0, camera: str = "cam-1"
) -> PlateRead:
    return PlateRead(
        event_id=f"ev-{n}", site_id="site-1", camera_id=camera,
        captured_at=T0 + timedelta(seconds=seconds), received_at=T0, plate_text=plate,
        plate=plate, search_key=plate, plate_confidence=0.9,
        plate_box=Box(x=0, y=0, width=10, height=5), track_id=n, frames_agreed=3,
        edge_version="test", camera=CameraInfo(known=True), plate_crop_key=f"crops/{n}.jpg",
    )  # fmt: skip


def partition_of(plate: str) -> int:
    """The detected partition of a plate's reads (the router keys them by plate)."""
    keys = list(range(PARTITIONS))
    return int(DefaultPartitioner()(plate.encode(), keys, keys))


class FeedHarness:
    """A :class:`RuleFeed` whose sends land in :attr:`producer` and dead letters in
    :attr:`dead_letters`; reads go in as batches of the detected topic."""

    def __init__(
        self,
        settings: RulesSettings | None = None,
        encode_alert: Callable[[Alert], bytes] = ALERTS.dumps,
        backoff: Backoff | None = None,
        loaded: bool = True,
    ) -> None:
        self.producer = MemoryProducer()
        self.states = PlateStates()
        self.dead_letters: list[DeadLetter] = []
        self.offsets: dict[int, int] = {}
        self.loaded = loaded

        async def ready() -> bool:
            return self.loaded

        async def dead_letter(letter: DeadLetter) -> None:
            self.dead_letters.append(letter)

        self.feed = RuleFeed(
            self.producer, self.states, settings or get_settings().rules,
            backoff or Backoff(0.01, 0.01),
            alerts_topic=ALERTS_TOPIC, ticks_topic=TICKS_TOPIC, changelog=CHANGELOG,
            encode_alert=encode_alert, rules_ready=ready, send_dead_letter=dead_letter,
            schema_cache=lambda: CACHE,
        )  # fmt: skip

    def record(self, read: PlateRead | tuple[str | None, bytes]) -> ConsumerRecord:
        """A read as the router writes it: keyed by plate, Avro in the wire format, on the
        partition its key chooses (or given as a plate and raw bytes)."""
        key, value = read if isinstance(read, tuple) else (read.plate, READS.dumps(read))
        partition = partition_of(key or "")
        offset = self.offsets.get(partition, 0)
        self.offsets[partition] = offset + 1
        key_bytes = key.encode() if key is not None else None
        return ConsumerRecord(
            DETECTED, partition, offset, 1_700_000_000_000, 0, key_bytes, value, None,
            len(key_bytes or b""), len(value), [],
        )  # fmt: skip

    async def put(self, *reads: PlateRead | tuple[str | None, bytes]) -> None:
        """One batch of ``reads``."""
        await self.feed.handle(Batch([self.record(r) for r in reads], generation=0))

    def sent_to(self, topic: str) -> list[Sent]:
        return [s for s in self.producer.sent if s.topic == topic]

    @property
    def alerts(self) -> list[Alert]:
        return [Alert.from_data(ALERTS.loads(s.value or b"")) for s in self.sent_to(ALERTS_TOPIC)]

    @property
    def ticks(self) -> list[CameraTick]:
        return [CameraTick.loads(s.value or b"") for s in self.sent_to(TICKS_TOPIC)]

    @property
    def changelog(self) -> list[tuple[int | None, str, Any]]:
        """(partition, plate, state or None) of each changelog record sent."""
        return [
            (s.partition, decode_plate_key(s.key or b""), s.value and decode_state(s.value))
            for s in self.sent_to(CHANGELOG)
        ]
