"""The router while its on-disk dedupe state cannot be written (issue 17): no batch fails
for it, duplicates are still caught, the outage is reported, the router waits once too many
marks wait, and every mark reaches the file once the disk has room; a file broken for good
is started afresh and its partitions restored in full before the batch is routed. The files
fail for real (``tests.tables.full_file``), not mocked."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition

import agents.router.service
import tables.dedupe.disk
import tests.agents.test_route_raw_reads as routing
from config.router import RouterSettings
from streams.codec import SchemaCache
from streams.outages import OUTAGES
from streams.retry import Backoff
from tables.dedupe import DiskSeenEvents, MemorySeenEvents, SeenEvent, encode_entry, encode_key
from tables.dedupe.writer import COMPONENT
from tests.support.streams import encode_plate_event
from tests.tables.full_file import corrupt, fill_up, make_room

pytestmark = pytest.mark.usefixtures("router_settings")

#: Events per batch: their marks need more pages than the full file has free.
EVENTS = 400


def router_on_a_full_disk(
    path: Path, settings: RouterSettings, cache: SchemaCache, sent: Any
) -> tuple[routing.Harness, DiskSeenEvents]:
    seen = DiskSeenEvents(path, routing.CHANGELOG, backoff=Backoff(0.01, 0.05))
    fill_up(seen)
    return routing.Harness(settings, cache, sent, seen), seen


def router_on_a_broken_file(
    path: Path, settings: RouterSettings, cache: SchemaCache, sent: Any
) -> tuple[routing.Harness, DiskSeenEvents]:
    corrupt(path, routing.CHANGELOG)
    seen = DiskSeenEvents(path, routing.CHANGELOG, backoff=Backoff(0, 0))
    return routing.Harness(settings, cache, sent, seen), seen


async def wait_until(condition: Any, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


async def test_a_full_disk_fails_no_batch_and_loses_no_mark(
    router_settings: RouterSettings, schema_cache: SchemaCache, sent: Any, tmp_path: Path
) -> None:
    path = tmp_path / "seen.sqlite3"
    harness, seen = router_on_a_full_disk(path, router_settings, schema_cache, sent)
    payloads = [encode_plate_event(schema_cache) for _ in range(EVENTS)]
    await harness.route(*(harness.record(p) for p in payloads))  # raises nothing
    await wait_until(lambda: OUTAGES.is_down(COMPONENT))  # its write failed, in the thread
    await harness.route(*(harness.record(p) for p in payloads))  # sent again by the edge
    assert len(sent.reads) == EVENTS and sent.reasons == ["duplicate"] * EVENTS
    make_room(seen)
    await wait_until(lambda: not OUTAGES.is_down(COMPONENT))
    harness.seen.close()
    again = DiskSeenEvents(path, routing.CHANGELOG)
    assert set(again) == {r.event_id for r in routing.reads_of(sent, schema_cache)}
    again.close()


async def test_the_router_waits_once_too_many_marks_wait_for_the_file(
    router_settings: RouterSettings,
    schema_cache: SchemaCache,
    sent: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tables.dedupe.disk, "WRITE_BACKLOG", 20)
    harness, seen = router_on_a_full_disk(
        tmp_path / "seen.sqlite3", router_settings, schema_cache, sent
    )
    batch = [harness.record(encode_plate_event(schema_cache)) for _ in range(EVENTS)]
    routed = asyncio.ensure_future(harness.route(*batch))
    await asyncio.sleep(0.2)
    assert not routed.done()  # held back: neither dropped nor failed
    assert len(sent.reads) == EVENTS  # its reads went; its offsets wait for the file
    make_room(seen)
    await asyncio.wait_for(routed, 5)
    assert len(harness.seen) == EVENTS
    harness.seen.close()


async def test_the_memory_state_never_holds_the_router_back() -> None:
    await asyncio.wait_for(MemorySeenEvents().room(), 1)


async def test_a_file_broken_for_good_is_restored_in_full_before_the_next_batch(
    router_settings: RouterSettings,
    schema_cache: SchemaCache,
    sent: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    harness, seen = router_on_a_broken_file(
        tmp_path / "seen.sqlite3", router_settings, schema_cache, sent
    )

    async def read_changelog(
        bootstrap: str, topic: str, starts: Mapping[int, int | None], apply: Any
    ) -> dict[int, int]:
        """What the router logged, read back as from Kafka."""
        for offset, (partition, event_id, entry) in enumerate(harness.output.changelog):
            value = None if entry is None else encode_entry(entry)
            if partition in starts:
                apply(partition, offset, encode_key(event_id), value)
        return {}

    monkeypatch.setattr(agents.router.service, "read_changelog", read_changelog)
    earlier = [str(uuid.uuid4()) for _ in range(10)]  # routed before, kept in the changelog
    harness.output.changelog = [(0, e, SeenEvent(time.time(), 0, n)) for n, e in enumerate(earlier)]
    await harness.router.restore("kafka:9092", [TopicPartition(routing.RAW, 0)])
    fresh = [encode_plate_event(schema_cache) for _ in range(5)]
    again = [encode_plate_event(schema_cache, event_id=e) for e in earlier]
    await harness.route(*(harness.record(p) for p in fresh + again))  # raises nothing
    assert "cannot be written for good: started afresh" in caplog.text
    assert len(sent.reads) == 5 and sent.reasons == ["duplicate"] * 10  # restored in full
    assert not seen.lost and len(seen) == 15
    seen.close()


async def test_a_broken_file_found_by_a_lookup_costs_no_event(
    router_settings: RouterSettings,
    schema_cache: SchemaCache,
    sent: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    harness, seen = router_on_a_broken_file(
        tmp_path / "seen.sqlite3", router_settings, schema_cache, sent
    )

    async def empty_changelog(
        bootstrap: str, topic: str, starts: Mapping[int, int | None], apply: Any
    ) -> dict[int, int]:
        return {}

    monkeypatch.setattr(agents.router.service, "read_changelog", empty_changelog)
    await harness.router.restore("kafka:9092", [TopicPartition(routing.RAW, 0)])
    await harness.route(*(harness.record(encode_plate_event(schema_cache)) for _ in range(5)))
    assert len(sent.reads) == 5 and sent.dead_letters == []  # the batch waited, then went
    assert len(seen) == 5 and not seen.failing
    seen.close()
