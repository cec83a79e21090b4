"""Alert latency: from a raw read's produce to its webhook's receipt, through a real worker.

    .venv/bin/python -m bench.alerts [--eps 1000] [--seconds 20] [--plates 100000] [--fuzzy]
                                     [--profile DIR]

Publishes a watch list of ``--plates`` plates with a webhook action pointing at a receiver
in this process, starts a real ``faust -A alpr worker`` on fresh topics (its own app id),
then produces raw PlateEvents at ``--eps`` for ``--seconds`` with 1% of them on the list.
Each alert's latency is the receipt time minus the produce time of its triggering read
(both clocks are this machine's). Ends with ``RESULT alert_p50_ms=... alert_p99_ms=...
eps=...`` (eps: the produce rate reached). ``--profile DIR`` samples the worker with py-spy
while the reads are produced and prints the share of its samples by stage (router, alert
agent, notifier, producer and consumer I/O).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

from aiohttp import web
from aiokafka import AIOKafkaProducer

from bench.projections import start_profiler
from config.settings import get_settings
from ops.isolated import IsolatedRun
from ops.worker import WorkerProcess, free_port
from rules.model import WatchlistRule
from rules.sync import publish_rules
from streams.codec import AvroSchema, default_schema_cache, encode
from streams.testing import create_topics, plate_event_datum

EVENT = AvroSchema.named("PlateEvent")
PARTITIONS = 4


class Receiver:
    """The webhook endpoint: the receipt time of each alert's triggering event ids."""

    def __init__(self) -> None:
        self.received: dict[str, float] = {}
        #: Per triggering event id: when the router routed its read and the alert was raised.
        self.stamps: dict[str, tuple[float, float]] = {}
        self.calls = 0

    async def handle(self, request: web.Request) -> web.Response:
        now = time.time()
        alert = json.loads(await request.read())
        self.calls += 1
        routed, raised = (_epoch(alert.get(f)) for f in ("received_at", "raised_at"))
        for event_id in alert["event_ids"]:
            self.received.setdefault(event_id, now)
            if routed is not None and raised is not None:
                self.stamps.setdefault(event_id, (routed, raised))
        return web.Response(text="ok")

    async def start(self) -> tuple[web.AppRunner, str]:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return runner, f"http://127.0.0.1:{port}/hook"


def _epoch(stamp: str | None) -> float | None:
    return datetime.fromisoformat(stamp).timestamp() if stamp else None


def stage_report(sent_at: dict[str, float], receiver: Receiver) -> str:
    """p50/p99 of each hop, ms: produce -> routed (router), routed -> alert raised (alert
    agent), raised -> webhook receipt (alerts topic, notifier, HTTP)."""
    hops: dict[str, list[float]] = {"router": [], "alert agent": [], "notifier": []}
    for event_id, produced in sent_at.items():
        if event_id not in receiver.stamps or event_id not in receiver.received:
            continue
        routed, raised = receiver.stamps[event_id]
        hops["router"].append((routed - produced) * 1000)
        hops["alert agent"].append((raised - routed) * 1000)
        hops["notifier"].append((receiver.received[event_id] - raised) * 1000)
    return "; ".join(
        f"{hop} p50 {percentile(v, 0.5):.1f} p99 {percentile(v, 0.99):.1f} ms"
        for hop, v in hops.items()
        if v
    )


def watch_plates(count: int) -> list[str]:
    rnd = random.Random(7)
    letters = "ABCDEFGHJKLMNPRSTUVWXY"
    return sorted(
        {"".join(rnd.choices(letters, k=2)) + f"{rnd.randrange(100):02d}"
         + "".join(rnd.choices(letters, k=3)) for _ in range(count * 2)}
    )[:count]  # fmt: skip


async def produce(
    bootstrap: str, topic: str, eps: int, seconds: float, plates: list[str]
) -> tuple[dict[str, float], float]:
    """Send ``eps`` events a second; the produce time of each matching event, and the rate."""
    cache = default_schema_cache()
    schema_id = cache.id_for(f"{topic}-value", EVENT)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=1, acks=1)
    await producer.start()
    sent_at: dict[str, float] = {}
    rnd = random.Random(11)
    tick = 0.01
    per_tick = max(1, round(eps * tick))
    total = int(eps * seconds)
    start = time.time()
    try:
        sent = 0
        while sent < total:
            for _ in range(min(per_tick, total - sent)):
                hit = rnd.random() < 0.01
                plate = rnd.choice(plates) if hit else f"Q{rnd.randrange(10**6):06d}"
                datum = plate_event_datum(event_id=str(uuid.uuid4()), plate_text=plate)
                if hit:
                    sent_at[datum["event_id"]] = time.time()
                value = encode(schema_id, EVENT, datum)
                await producer.send(topic, value, key=datum["event_id"].encode())
                sent += 1
            pause = start + sent / eps - time.time()
            await asyncio.sleep(max(0.0, pause))
        await producer.flush()
    finally:
        await producer.stop()
    return sent_at, total / (time.time() - start)


def stage_means(web_url: str) -> str:
    """Mean seconds of the worker's latency histograms, to tell the stages apart."""
    import urllib.request

    with urllib.request.urlopen(web_url + "/metrics", timeout=5) as response:
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name.endswith(("_seconds_sum", "_seconds_count")) and "latency" in name:
            values[name] = float(value)
    means = []
    for name in sorted(n for n in values if n.endswith("_sum")):
        count = values.get(name.replace("_sum", "_count"), 0)
        if count:
            means.append(f"{name.removesuffix('_sum')} mean {values[name] / count * 1000:.1f} ms")
    return "; ".join(means)


#: Stages of the worker, each named by a frame its samples pass through (first match wins).
STAGES = (
    ("router (BatchRouter: routing, its sends and dedupe)", "BatchRouter"),
    ("rule feed (RuleFeed)", "RuleFeed"),
    ("alert agent (evaluate_plate_rules)", "evaluate_plate_rules"),
    ("camera-rule agent", "evaluate_camera_rules"),
    ("notifier", "agents/notifier.py"),
    ("alert projection (PostgreSQL)", "project_alerts_to_postgres"),
    ("producer: requests to Kafka (aiokafka Sender)", "aiokafka/producer/sender.py"),
    ("consumer: fetch and hand-off (Faust Fetcher, Conductor)", "Fetcher._fetcher"),
    ("consumer thread (Faust's aiokafka thread)", "mode/threads.py"),
)


#: Leaf functions of threads that wait for work (thread pools): not the worker's time.
IDLE_THREAD_LEAVES = {"_worker", "Condition.wait", "Event.wait"}


def stage_shares(collapsed: Path) -> list[tuple[float, str]]:
    """Share of the worker's busy samples in each of :data:`STAGES` (the rest: Faust's
    streams, tables, timers and web server), largest first. Samples of idle threads (a pool
    waiting for work) are left out; the event loops' waits are a stage of their own."""
    counts: dict[str, int] = {}
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        leaf = stack.rsplit(";", 1)[-1].partition(" (")[0]  # the function, not its file
        if not samples.isdigit() or leaf in IDLE_THREAD_LEAVES:
            continue
        total += int(samples)
        stage = next((name for name, frame in STAGES if frame in stack), "other Faust machinery")
        if leaf == "EpollSelector.select":
            stage = "event loops waiting (either thread)"
        counts[stage] = counts.get(stage, 0) + int(samples)
    return sorted(((n / max(total, 1), stage) for stage, n in counts.items()), reverse=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(args: argparse.Namespace) -> int:
    bootstrap = get_settings().kafka.bootstrap_servers
    isolated = IsolatedRun(kind="bench")
    names = {t: isolated.topic(t) for t in ("raw", "detected", "dlq", "cameras", "rules", "alerts")}
    receiver = Receiver()
    runner, url = await receiver.start()
    plates = watch_plates(args.plates)
    rule = WatchlistRule(
        type="watchlist", name="bench-watch", plates=plates,
        match="fuzzy" if args.fuzzy else "exact",
        actions=[{"channel": "webhook", "url": url}],  # type: ignore[list-item]
    )  # fmt: skip
    env = {
        **isolated.env(partitions=PARTITIONS, alerts=True),
        "ALPR_NOTIFY_RATE_PER_S": "10000",
        "ALPR_NOTIFY_BURST": "10000",
    }
    if not args.with_projections:  # they consume the same reads in the same worker
        env |= {"ALPR_PROJECTIONS_ENABLE_PG": "false", "ALPR_PROJECTIONS_ENABLE_ES": "false"}
    try:
        await create_topics(
            bootstrap, [names[t] for t in ("raw", "detected", "dlq", "alerts")], PARTITIONS
        )
        await publish_rules(bootstrap, names["rules"], [rule], prune=True)
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(args.workdir) if args.workdir else Path(tmp)
            with WorkerProcess(workdir, free_port(), env=env) as worker:
                await asyncio.to_thread(worker.wait_ready, 180.0, 1, ("router",))
                await asyncio.sleep(3)  # the rule set loads after the assignment
                spy = None
                if args.profile:
                    args.profile.mkdir(parents=True, exist_ok=True)
                    spy = start_profiler(worker, args.profile / "alerts.txt")
                sent_at, eps = await produce(
                    bootstrap, names["raw"], args.eps, args.seconds, plates
                )
                if spy is not None:
                    spy.send_signal(signal.SIGINT)
                    await asyncio.to_thread(spy.wait, 60)
                    print("worker profile while producing (share of samples by stage):")
                    for share, stage in stage_shares(args.profile / "alerts.txt"):
                        print(f"  {share:6.1%}  {stage}")
                deadline = time.time() + 30
                while len(receiver.received) < len(sent_at) and time.time() < deadline:
                    await asyncio.sleep(0.2)
                print(stage_means(worker.web_url))
    finally:
        await runner.cleanup()
        await isolated.drop(bootstrap, get_settings().schema_registry.url)
    latencies = [
        (receiver.received[e] - t) * 1000 for e, t in sent_at.items() if e in receiver.received
    ]
    print(f"watch list {len(plates)} plates ({rule.match}), {len(sent_at)} matching reads sent, "
          f"{len(latencies)} alerts received, {receiver.calls} webhook calls")  # fmt: skip
    if not latencies:
        print(f"RESULT alert_p50_ms=nan alert_p99_ms=nan eps={eps:.0f}")
        return 1
    print(f"latency ms: min {min(latencies):.1f} mean {statistics.mean(latencies):.1f} "
          f"max {max(latencies):.1f}")  # fmt: skip
    print(f"by hop: {stage_report(sent_at, receiver)}")
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    print(f"RESULT alert_p50_ms={p50:.1f} alert_p99_ms={p99:.1f} eps={eps:.0f}")
    return 0 if len(latencies) == len(sent_at) else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eps", type=int, default=1000, help="events per second produced")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to produce")
    parser.add_argument("--plates", type=int, default=100_000, help="watch-list size")
    parser.add_argument("--workdir", default=None, help="keep the worker's log here")
    parser.add_argument(
        "--with-projections", action="store_true", help="keep the store projections running"
    )
    parser.add_argument("--fuzzy", action="store_true", help="OCR-fuzzy instead of exact")
    parser.add_argument(
        "--profile", type=Path, help="sample the worker with py-spy into this folder"
    )
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
