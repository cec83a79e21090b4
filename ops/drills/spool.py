"""The full disk drill: the edge's event spool on a file system that fills up mid-load.

The spool (``edge.publish.spool``, SQLite) lies on a small tmpfs of its own; events go in
through the edge's own policy for a final plate event (``CappedSpools.event``, as a camera's
thread puts them) and out through its publisher (``EventPublisher``) to the drill's raw
topic, which sends nothing until the disk has room again (an uplink outage meanwhile), so the
spool must grow. A third of the way in, a file takes every free byte of the tmpfs; after
``--outage`` seconds it is removed. Every event must still reach the stores, and the camera's
feeding must not fail. Mounting a tmpfs needs root; elsewhere the drill says so and fails.

The edge is imported inside the drill only: autodiscovery imports this module in every core
worker, which must not load the edge.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from ops.drills.catalog import Drill, DrillContext
from ops.drills.workload import plate_event
from streams.retry import Backoff

#: The tmpfs the spool lies on: small, so that one file fills it at once.
TMPFS_SIZE = "8m"


class SpoolDiskFull(Drill):
    name = "spool-full"
    summary = (
        f"The edge's event spool lies on a {TMPFS_SIZE} tmpfs that a file fills up a third "
        "of the way through the load and frees after --outage seconds; the events go in "
        "through the edge's policy for plate events and out through its publisher (needs root)."
    )
    full_only = True

    async def execute(self, ctx: DrillContext) -> float | None:
        worker = ctx.run.start_worker()
        await ctx.run.wait_ready(worker)
        fs = ctx.stack.workdir / self.name / "spool-fs"
        fs.mkdir(parents=True, exist_ok=True)
        mount = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(fs)],
            capture_output=True, text=True,
        )  # fmt: skip
        if mount.returncode != 0:
            raise RuntimeError(f"cannot mount a tmpfs for the spool: {mount.stderr.strip()}")
        try:
            return await self._through_full_disk(ctx, fs)
        finally:
            subprocess.run(["umount", "-l", str(fs)], capture_output=True)

    async def _through_full_disk(self, ctx: DrillContext, fs: Path) -> float:
        from edge.metrics import EdgeMetrics
        from edge.publish.capped import CappedSpools
        from edge.publish.kafka import EventPublisher
        from edge.publish.spool import Spool

        publisher = EventPublisher(
            Spool(fs / "events.db"), ctx.stack.bootstrap, ctx.stack.layout.url("registry"),
            batch=100, backoff=Backoff(first_s=0.2, max_s=2.0, jitter=0.3),
        )  # fmt: skip
        stopping = threading.Event()
        spools = CappedSpools(publisher, None, EdgeMetrics(), stopping)  # type: ignore[arg-type]
        third = threading.Event()
        stop = asyncio.Event()
        feeding = asyncio.create_task(asyncio.to_thread(self._feed, ctx, spools, third))
        # The uplink is down until the disk has room again: the spool must grow into it.
        sender: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        sender.set_result(None)
        try:
            await asyncio.to_thread(third.wait)
            filler = _fill(fs)
            ctx.notes.append(f"spool disk filled ({filler.stat().st_size // 1024} KiB filler)")
            await asyncio.sleep(ctx.outage_s)
            filler.unlink()
            sender = asyncio.ensure_future(publisher.run(stop))
            recovered = time.monotonic()
            await feeding
            deadline = time.monotonic() + 120
            while publisher.spool.depth() > 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
            if depth := publisher.spool.depth():  # negative: its count went wrong
                ctx.notes.append(f"the spool's depth is {depth} once drained")
        finally:
            stopping.set()
            stop.set()
            await asyncio.gather(feeding, return_exceptions=True)
            try:
                await asyncio.wait_for(sender, 60)
            except Exception as exc:  # what would end the edge's sender
                ctx.crashed.append(f"edge sender: {exc!r}")
            await publisher.close()
            publisher.spool.close()
        return recovered

    def _feed(self, ctx: DrillContext, spools: Any, third: threading.Event) -> None:
        """Put every event as a camera's thread does; a failure is the camera's crash."""
        import random

        rnd = random.Random(5)
        ids = ctx.work.valid_ids
        pause = ctx.load_s / max(1, len(ids))
        raw = ctx.run.topic("raw")
        for n, event_id in enumerate(ids):
            if n == len(ids) // 3:
                third.set()
            datum = plate_event(rnd, event_id, captured_at=round(time.time() * 1000))
            try:
                spools.event(raw, datum["camera_id"], "PlateEvent", datum)
            except Exception as exc:  # what would end a camera's thread
                ctx.crashed.append(f"camera thread: {exc!r} at event {n}")
                ctx.notes.append(f"{len(ids) - n} events never spooled: the feeding stopped")
                break
            ctx.sent.acked.add(event_id)
            time.sleep(pause)
        third.set()


def _fill(fs: Path) -> Path:
    """A file that takes every free byte of ``fs``."""
    filler = fs / "filler"
    block = b"\0" * (64 * 1024)
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(block)
        except OSError:
            pass
        try:
            os.fsync(out.fileno())
        except OSError:
            pass
    return filler
