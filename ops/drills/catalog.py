"""The drills: each a fault caused while a known set of events goes through a real worker.

A drill starts a worker on its own topics of the private stack, sends its events spread
over some seconds, causes its fault once a third of them are out, ends it, and returns when
the component came back (the start of "time to recover"); :mod:`ops.drills.runner` then
counts every event by id in every store.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from ops.drills.stack import DrillRun, DrillStack, Sent, partition_leader, send
from ops.drills.workload import Workload, bad_events, mixed, valid_events
from streams.codec import SchemaCache

#: Seconds the sending of a drill's events is spread over, at least.
MIN_LOAD_S = 6.0
#: A worker started without the registry crashed about 29 s later before issue 17's fix.
REGISTRY_OUTAGE_S = 35.0
#: How long the registry (its schemas in PostgreSQL) may take to serve after PostgreSQL.
REGISTRY_HEAL_S = 60.0


@dataclass
class DrillContext:
    """What a drill acts on, and what it found."""

    stack: DrillStack
    run: DrillRun
    work: Workload
    outage_s: float
    sent: Sent = field(default_factory=Sent)
    notes: list[str] = field(default_factory=list)
    #: Services the drill left down: started again once it has counted.
    down: list[str] = field(default_factory=list)
    #: What crashed beyond the workers (e.g. an edge's camera thread).
    crashed: list[str] = field(default_factory=list)
    #: What the drill lost beyond the stores' events (e.g. alerts never delivered).
    lost_elsewhere: list[str] = field(default_factory=list)

    @property
    def load_s(self) -> float:
        return max(MIN_LOAD_S, len(self.work.messages) / 2000)

    async def send(self, third: asyncio.Event | None = None) -> Sent:
        raw = self.run.topic("raw")
        return await send(self.stack.bootstrap, raw, self.work.messages, self.load_s, third)


class Drill:
    """A fault under load; subclasses set the fault (``fault``) or the whole course."""

    name = ""
    summary = ""
    #: Only in ``alpr drill --full`` (and by name).
    full_only = False
    #: Kafka brokers the drill needs.
    brokers = 1

    def workload(self, cache: SchemaCache, subject: str, events: int) -> Workload:
        return valid_events(cache, subject, events)

    async def execute(self, ctx: DrillContext) -> float | None:
        """Run the drill; the monotonic time the faulty component was back (None: no fault)."""
        worker = ctx.run.start_worker()
        await ctx.run.wait_ready(worker)
        third = asyncio.Event()
        sending = asyncio.create_task(ctx.send(third))
        try:
            await third.wait()
            recovered = await self.fault(ctx)
        finally:
            ctx.sent = await sending
        return recovered

    async def fault(self, ctx: DrillContext) -> float | None:
        return None


class WorkerKill(Drill):
    name = "worker-kill"
    summary = (
        "The only worker is killed with SIGKILL mid-load and started again (a static member: "
        "it takes its partitions back without waiting for the group to drop the dead one)."
    )

    async def fault(self, ctx: DrillContext) -> float | None:
        victim = ctx.run.workers[-1]
        ctx.run.kill_worker(victim)
        ctx.run.start_worker(int(victim.web_url.rsplit(":", 1)[1]))
        return time.monotonic()


class PostgresKill(Drill):
    name = "postgres-kill"
    summary = (
        "PostgreSQL is killed with SIGKILL (a crash, not a stop) mid-load, stays down for "
        "--outage seconds and starts again with crash recovery."
    )

    async def fault(self, ctx: DrillContext) -> float | None:
        ctx.stack.private.kill("postgres")
        await asyncio.sleep(ctx.outage_s)
        await asyncio.to_thread(ctx.stack.private.start, "postgres")
        await self._registry_back(ctx)
        return time.monotonic()

    async def _registry_back(self, ctx: DrillContext) -> None:
        """The registry keeps its schemas in PostgreSQL: wait until it serves again; one
        that still answers errors after ``REGISTRY_HEAL_S`` is restarted, and noted."""
        deadline = time.monotonic() + REGISTRY_HEAL_S
        while not await asyncio.to_thread(ctx.stack.registry_serving):
            if time.monotonic() > deadline:
                ctx.notes.append(
                    f"the registry still failed {REGISTRY_HEAL_S:.0f}s after PostgreSQL was "
                    "back (HTTP 500, its connections broken): restarted"
                )
                await asyncio.to_thread(ctx.stack.private.stop, "registry")
                await asyncio.to_thread(ctx.stack.private.start, "registry")
                return
            await asyncio.sleep(2)


class ElasticsearchDown(Drill):
    name = "elasticsearch-down"
    summary = "Elasticsearch is stopped mid-load for --outage seconds, then started again."

    async def fault(self, ctx: DrillContext) -> float | None:
        await asyncio.to_thread(ctx.stack.private.stop, "elasticsearch")
        await asyncio.sleep(ctx.outage_s)
        await asyncio.to_thread(ctx.stack.private.start, "elasticsearch")
        return time.monotonic()


class RegistryDownAtStart(Drill):
    name = "registry-down"
    summary = (
        f"The events wait in the raw topic; the schema registry is stopped and the worker "
        f"started without it, watched for {REGISTRY_OUTAGE_S:.0f} s (it used to crash after "
        f"about 29 s), then the registry is started again."
    )

    async def execute(self, ctx: DrillContext) -> float | None:
        ctx.sent = await ctx.send()
        await asyncio.to_thread(ctx.stack.private.stop, "registry")
        try:
            worker = ctx.run.start_worker()
            await ctx.run.wait_ready(worker)
            deadline = time.monotonic() + max(REGISTRY_OUTAGE_S, ctx.outage_s)
            while time.monotonic() < deadline:
                if worker.process is None or worker.process.poll() is not None:
                    ctx.notes.append("the worker exited while the registry was down")
                    break
                await asyncio.sleep(1)
            health = await asyncio.to_thread(worker.health)
            if health is not None and "registry" not in health.get("waiting_on", {}):
                ctx.notes.append(f"/health did not name the registry: {health.get('waiting_on')}")
        finally:
            await asyncio.to_thread(ctx.stack.private.start, "registry")
        return time.monotonic()


class BadInput(Drill):
    name = "bad-input"
    summary = (
        "Valid events mixed with malformed ones (a NUL in camera_id or plate_text, a control "
        "character in site_id, an event id that is no UUID, an empty plate, a confidence out "
        "of range, truncated Avro, an unknown schema id, a wrong magic byte, JSON, an empty "
        "payload): every valid one stored, every bad one dead-lettered with its reason."
    )
    #: Malformed messages of each kind per this many valid events.
    PER_KIND = 30

    def workload(self, cache: SchemaCache, subject: str, events: int) -> Workload:
        each = max(1, events // self.PER_KIND)
        return mixed(valid_events(cache, subject, events), bad_events(cache, subject, each))


class BrokerKill(Drill):
    name = "broker-kill"
    summary = (
        "A three-broker cluster (replication factor 3, min.insync.replicas=2): the leader of "
        "the raw topic's partition 0 is killed with SIGKILL mid-load and left down until the "
        "drill has counted (the other two carry on)."
    )
    full_only = True
    brokers = 3

    async def fault(self, ctx: DrillContext) -> float | None:
        leader = await partition_leader(ctx.stack.bootstrap, ctx.run.topic("raw"), 0)
        victim = "kafka" if leader == 1 else f"kafka-{leader}"
        ctx.stack.private.kill(victim)
        ctx.notes.append(f"killed {victim}")
        ctx.down.append(victim)
        return time.monotonic()
