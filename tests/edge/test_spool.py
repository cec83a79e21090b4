"""The disk spool and its sender, without services: order, acknowledgement, restarts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from edge.publish.sender import SpoolSender, Unsendable
from edge.publish.spool import Item, Spool
from streams.retry import Backoff


def test_items_leave_in_order_only_when_acknowledged_and_survive_a_reopen(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    for i in range(5):
        spool.put(f"cam-{i % 2}", f"v{i}".encode(), "m")
    first = spool.peek(2)
    assert [i.value for i in first] == [b"v0", b"v1"]
    assert spool.peek(2) == first  # peeking takes nothing away
    spool.ack(first)
    spool.close()
    reopened = Spool(tmp_path / "s.db")
    assert reopened.depth() == 3
    assert [i.value for i in reopened.peek(10)] == [b"v2", b"v3", b"v4"]
    with pytest.raises(ValueError, match="limit"):
        reopened.peek(0)


class FlakyReceiver(SpoolSender):
    """Fails its first ``failures`` sends, refuses values starting with 'bad'."""

    def __init__(self, spool: Spool, failures: int) -> None:
        super().__init__(spool, batch=2, backoff=Backoff(first_s=0.01, max_s=0.02, jitter=0.3))
        self.failures = failures
        self.received: list[bytes] = []
        self.resets = 0

    async def send(self, items: list[Item]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("receiver down")
        for item in items:
            if item.value.startswith(b"bad"):
                raise Unsendable("does not encode", item)
        self.received += [item.value for item in items]

    async def reset(self) -> None:
        self.resets += 1


async def test_the_sender_retries_through_failures_keeping_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    for i in range(5):
        spool.put("cam", f"v{i}".encode())
    sender = FlakyReceiver(spool, failures=3)
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    for _ in range(500):
        if spool.depth() == 0:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert sender.received == [b"v0", b"v1", b"v2", b"v3", b"v4"]
    assert sender.stats.failures == 3 and sender.resets >= 3
    assert sender.stats.last_error == "ConnectionError: receiver down"


async def test_an_item_that_can_never_be_sent_is_set_aside_not_retried(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    spool.put("cam", b"bad")
    spool.put("cam", b"good")
    sender = FlakyReceiver(spool, failures=0)
    assert await sender.drain_once() == 1
    assert await sender.drain_once() == 1
    assert sender.received == [b"good"]
    assert spool.depth() == 0 and spool.rejected() == 1
