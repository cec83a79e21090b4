"""The router while the schema registry is down (issue 17, finding 1): events wait, nothing is
dead-lettered for the outage, the outage is reported, and everything is routed once it is back.

Before the fix a raw event whose writer schema was not cached became a ``registry_unavailable``
dead letter, and that dead letter's own encoding needed the registry, which crashed the worker.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import tests.agents.test_route_raw_reads as routing
from agents.topics import dead_letters
from config.router import RouterSettings
from streams.codec import SchemaCache, value_subject
from streams.outages import OUTAGES, RETRIES
from streams.registry import RegistryError
from tests.support.streams import InMemoryRegistry, encode_plate_event

pytestmark = pytest.mark.usefixtures("router_settings")

DLQ_SUBJECT = value_subject(dead_letters.get_topic_name())


class FlakyRegistry(InMemoryRegistry):
    """An in-memory registry that refuses connections while ``down``."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.refused = 0

    def _gate(self) -> None:
        if self.down:
            self.refused += 1
            raise RegistryError("GET http://registry: [Errno 111] Connection refused")

    def set_compatibility(self, subject: str, level: str) -> None:
        self._gate()
        super().set_compatibility(subject, level)

    def register(self, subject: str, schema: str) -> int:
        self._gate()
        return super().register(subject, schema)

    def schema_by_id(self, schema_id: int) -> str:
        self._gate()
        return super().schema_by_id(schema_id)


def harness_on(registry: FlakyRegistry, settings: RouterSettings, sent: Any) -> routing.Harness:
    """A router whose schema cache starts empty, as in a worker just started."""
    cache = SchemaCache(registry)  # type: ignore[arg-type]
    return routing.Harness(settings, cache, sent)


async def wait_until(condition: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_events_wait_for_the_registry_and_all_arrive_once_it_is_back(
    router_settings: RouterSettings, sent: Any
) -> None:
    registry = FlakyRegistry()
    edge = SchemaCache(registry)  # type: ignore[arg-type]
    good = [encode_plate_event(edge) for _ in range(3)]
    bad = b"\x01not avro"
    harness = harness_on(registry, router_settings, sent)
    retries_before = RETRIES.labels("registry")._value.get()
    registry.down = True

    routed = asyncio.create_task(
        harness.route(*(harness.record(p, key=f"k{i}".encode()) for i, p in enumerate(good)),
                      harness.record(bad, key=b"bad"))
    )  # fmt: skip
    await wait_until(lambda: registry.refused >= 5)
    assert not routed.done(), routed  # waiting, not crashed
    assert sent.reads == [] and sent.dead_letters == []  # nothing half-sent, nothing lost
    assert OUTAGES.is_down("registry")
    assert "Connection refused" in str(OUTAGES.status()["registry"]["error"])
    assert RETRIES.labels("registry")._value.get() > retries_before

    registry.down = False
    await asyncio.wait_for(routed, timeout=5)
    reads = routing.reads_of(sent, harness.router.schema_cache)
    assert len(reads) == 3 and len(harness.seen) == 3
    assert [letter.reason for _, letter in sent.dead_letters] == ["wrong_magic"]
    assert not OUTAGES.is_down("registry")
    assert registry.subjects.keys() >= {value_subject(routing.DETECTED), DLQ_SUBJECT}


async def test_a_dead_letter_waits_until_its_schema_can_be_registered(
    router_settings: RouterSettings, sent: Any
) -> None:
    """A message that is bad whatever the registry says still needs the registry for its
    dead letter: it waits too, instead of failing the worker."""
    registry = FlakyRegistry()
    harness = harness_on(registry, router_settings, sent)
    registry.down = True
    routed = asyncio.create_task(harness.route(harness.record(b"{}")))
    await wait_until(lambda: registry.refused >= 3)
    assert not routed.done() and sent.dead_letters == []
    registry.down = False
    await asyncio.wait_for(routed, timeout=5)
    assert [letter.reason for _, letter in sent.dead_letters] == ["json_payload"]
    assert DLQ_SUBJECT in registry.subjects


async def test_the_registry_lost_in_the_middle_of_a_batch_never_makes_a_dead_letter(
    router_settings: RouterSettings, sent: Any
) -> None:
    """Schemas cached, then an unknown writer id the registry cannot be asked about: the
    batch goes again later rather than dead-lettering ``registry_unavailable``."""
    registry = FlakyRegistry()
    edge = SchemaCache(registry)  # type: ignore[arg-type]
    harness = harness_on(registry, router_settings, sent)
    await harness.route(harness.record(encode_plate_event(edge)))
    assert len(sent.reads) == 1
    newer = encode_plate_event(edge, subject="another-value", region="FR")
    registry.schemas[99] = registry.schemas[1]  # a writer id this router has not seen
    payload = newer[:1] + (99).to_bytes(4, "big") + newer[5:]
    registry.down = True
    routed = asyncio.create_task(harness.route(harness.record(payload)))
    await wait_until(lambda: registry.refused >= 3)
    assert not routed.done() and sent.dead_letters == [] and len(sent.reads) == 1
    registry.down = False
    await asyncio.wait_for(routed, timeout=5)
    assert len(sent.reads) == 2 and sent.dead_letters == []
