"""Settling the heap: garbage collected, survivors frozen, and a burst of changes settled once."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from ops import heap


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()


def test_settle_collects_cycles_and_freezes_the_survivors() -> None:
    class Node:
        other: object = None

    a, b = Node(), Node()
    a.other, b.other = b, a
    del a, b  # a cycle only the collector frees
    kept = [object() for _ in range(1000)]
    heap.settle()
    assert gc.get_freeze_count() >= len(kept)
    assert not any(type(o).__name__ == "Node" for o in gc.get_objects())


def test_a_disabled_settler_does_nothing() -> None:
    heap.Settler(enabled=False).now()
    assert gc.get_freeze_count() == 0


async def test_a_burst_of_changes_is_settled_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def settle() -> float:
        calls.append(1)
        return 0.0

    monkeypatch.setattr(heap, "settle", settle)
    settler = heap.Settler(enabled=True, quiet_s=0.05)
    for _ in range(5):
        settler.soon()
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.15)
    assert calls == [1]


def test_collections_are_timed_into_the_pause_histogram() -> None:
    heap.watch_pauses()
    heap.watch_pauses()  # once only
    assert sum(isinstance(hook, heap.PauseTimer) for hook in gc.callbacks) == 1
    before = heap.GC_PAUSES.labels("2")._sum.get()
    count = _count("2")
    gc.collect()
    assert _count("2") == count + 1 and heap.GC_PAUSES.labels("2")._sum.get() > before


def _count(generation: str) -> float:
    for metric in heap.GC_PAUSES.collect():
        for sample in metric.samples:
            if sample.name.endswith("_count") and sample.labels.get("generation") == generation:
                return sample.value
    return 0.0
