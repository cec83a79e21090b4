"""Alert latency: from a raw read's produce to its webhook's receipt, through a real worker.

    .venv/bin/python -m bench.alerts [--eps 1000] [--seconds 60] [--warmup 5] [--plates 100000]
                                     [--fuzzy] [--rate-rule] [--workers 1]
                                     [--with-projections] [--profile DIR]

Publishes a watch list of ``--plates`` plates with a webhook action pointing at a receiver
in this process, starts a real ``faust -A alpr worker`` on fresh topics (its own app id),
then produces raw PlateEvents at ``--eps`` with 1% of them on the list: ``--warmup`` seconds
first, whose alerts are reported apart (a fresh worker's first alerts meet one-off costs:
connections opened, schemas looked up), then ``--seconds`` measured. Each alert's latency is
the receipt time minus the produce time of its triggering read (both clocks are this
machine's). The topics between the stages are stamped by the broker (LogAppendTime), so each
alert's path is split into hops: router, rule feed (evaluation), alert send, notifier.
Ends with ``RESULT alert_p50_ms=... alert_p99_ms=... eps=...`` (eps: the produce rate
reached). ``--profile DIR`` samples the worker with py-spy while the reads are produced and
prints the share of its samples by stage.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from agents.alerting.rule_topic import publish_rules
from bench.projections import start_profiler
from config.settings import get_settings
from ops.worker import WorkerProcess, free_port
from rules.model import RateRule, WatchlistRule
from streams.codec import AvroSchema, decode, default_schema_cache, encode
from tests.support.isolated import IsolatedRun
from tests.support.streams import create_topics, plate_event_datum

EVENT = AvroSchema.named("PlateEvent")
PARTITIONS = 4


class Receiver:
    """The webhook endpoint: the receipt time of each alert's triggering event ids."""

    def __init__(self) -> None:
        self.received: dict[str, float] = {}
        #: The time the rule feed raised each triggering event id's alert.
        self.raised: dict[str, float] = {}
        self.calls = 0

    async def handle(self, request: web.Request) -> web.Response:
        now = time.time()
        alert = json.loads(await request.read())
        self.calls += 1
        raised = datetime.fromisoformat(alert["raised_at"]).timestamp()
        for event_id in alert["event_ids"]:
            self.received.setdefault(event_id, now)
            self.raised.setdefault(event_id, raised)
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


#: Topics stamped by the broker (LogAppendTime) so each alert's path can be timed.
TRACED = ("detected", "alerts")

#: The hops of an alert's path: name, and the stamps it runs between.
HOPS = (
    ("router", "produced", "detected"),  # raw fetch, routing, send to detected
    ("rule feed", "detected", "raised"),  # detected fetch, key lookup, evaluation
    ("alert send", "raised", "alerts"),  # alert sent to Kafka
    ("notifier", "alerts", "received"),  # alert fetch, delivery log, webhook POST
)


async def append_times(
    bootstrap: str, topic: str, ids: Callable[[bytes], list[str]]
) -> dict[str, float]:
    """The broker's append time (s) of the first record naming each event id in ``topic``."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    stamps: dict[str, float] = {}
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        left = {tp: end for tp, end in (await consumer.end_offsets(parts)).items() if end}
        while left:
            for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
                for record in records:
                    for event_id in ids(record.value):
                        stamps.setdefault(event_id, record.timestamp / 1000)
                if records and records[-1].offset + 1 >= left.get(tp, 0):
                    left.pop(tp, None)
    finally:
        await consumer.stop()
    return stamps


async def trace(bootstrap: str, names: dict[str, str]) -> dict[str, dict[str, float]]:
    """Per traced topic, the append time of each event id it carries."""
    cache = default_schema_cache()
    read, alert = AvroSchema.named("PlateRead"), AvroSchema.named("Alert")

    def read_ids(value: bytes) -> list[str]:
        return [decode(value, read, cache)["event_id"]]

    alert_ids = lambda value: list(decode(value, alert, cache)["event_ids"])  # noqa: E731
    return {
        name: await append_times(
            bootstrap, names[name], alert_ids if name == "alerts" else read_ids
        )
        for name in TRACED
    }


def hop_report(
    sent_at: dict[str, float], receiver: Receiver, traced: dict[str, dict[str, float]]
) -> list[str]:
    """p50/p99 of each hop, ms, and the hops of the five slowest alerts."""
    paths = []
    for event_id, produced in sent_at.items():
        stamps = {
            "produced": produced,
            "raised": receiver.raised.get(event_id),
            "received": receiver.received.get(event_id),
        }
        stamps |= {name: traced[name].get(event_id) for name in TRACED}
        if all(stamp is not None for stamp in stamps.values()):
            paths.append([(stamps[b] - stamps[a]) * 1000 for _, a, b in HOPS])  # type: ignore[operator]
    if not paths:
        return ["by hop: no alert could be traced"]
    by_hop = zip(*paths, strict=True)
    lines = [
        "by hop (broker append times): "
        + "; ".join(
            f"{hop} p50 {percentile(list(v), 0.5):.1f} p99 {percentile(list(v), 0.99):.1f} ms"
            for (hop, _, _), v in zip(HOPS, by_hop, strict=True)
        )
    ]
    slowest = sorted(paths, key=sum, reverse=True)[:5]
    lines.append(
        "slowest alerts by hop ("
        + ", ".join(h for h, _, _ in HOPS)
        + "), ms: "
        + "; ".join(" ".join(f"{v:.0f}" for v in path) for path in slowest)
    )
    return lines


def watch_plates(count: int) -> list[str]:
    rnd = random.Random(7)
    letters = "ABCDEFGHJKLMNPRSTUVWXY"
    return sorted(
        {"".join(rnd.choices(letters, k=2)) + f"{rnd.randrange(100):02d}"
         + "".join(rnd.choices(letters, k=3)) for _ in range(count * 2)}
    )[:count]  # fmt: skip


async def produce(
    bootstrap: str, topic: str, eps: int, seconds: float, plates: list[str], warmup: float = 0.0
) -> tuple[dict[str, float], dict[str, float], float]:
    """Send ``eps`` events a second for ``warmup`` and then ``seconds`` seconds; the produce
    time of each matching event sent during the warm-up and after it, and the rate reached."""
    cache = default_schema_cache()
    schema_id = cache.id_for(f"{topic}-value", EVENT)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=1, acks=1)
    await producer.start()
    sent_at: dict[str, float] = {}
    warm: dict[str, float] = {}
    rnd = random.Random(11)
    tick = 0.01
    per_tick = max(1, round(eps * tick))
    total = int(eps * (warmup + seconds))
    measured_from = int(eps * warmup)
    start = time.time()
    try:
        sent = 0
        while sent < total:
            for _ in range(min(per_tick, total - sent)):
                hit = rnd.random() < 0.01
                plate = rnd.choice(plates) if hit else f"Q{rnd.randrange(10**6):06d}"
                datum = plate_event_datum(event_id=str(uuid.uuid4()), plate_text=plate)
                if hit:
                    (sent_at if sent >= measured_from else warm)[datum["event_id"]] = time.time()
                value = encode(schema_id, EVENT, datum)
                await producer.send(topic, value, key=datum["event_id"].encode())
                sent += 1
            pause = start + sent / eps - time.time()
            await asyncio.sleep(max(0.0, pause))
        await producer.flush()
    finally:
        await producer.stop()
    return warm, sent_at, total / (time.time() - start)


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
    ("rule feed (RuleFeed: evaluation, alerts, plate state)", "RuleFeed"),
    ("camera-rule agent", "evaluate_camera_rules"),
    ("notifier", "agents/alerting/notifier.py"),
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
        "ALPR_NOTIFY__RATE_PER_S": "10000",
        "ALPR_NOTIFY__BURST": "10000",
    }
    if not args.with_projections:  # they consume the same reads in the same worker
        env |= {"ALPR_PROJECTIONS__ENABLE_PG": "false", "ALPR_PROJECTIONS__ENABLE_ES": "false"}
    rules: list[Any] = [rule]
    if args.rate_rule:  # every read now needs evaluating, with state per plate
        rules.append(RateRule(
            type="rate", name="bench-rate", count=5, window=60,  # never met by random plates
            actions=[{"channel": "webhook", "url": url}],  # type: ignore[list-item]
        ))  # fmt: skip
    try:
        append_time = {"message.timestamp.type": "LogAppendTime"}
        await create_topics(
            bootstrap, [names[t] for t in ("raw", "detected", "dlq", "alerts")],
            PARTITIONS, {names[t]: append_time for t in TRACED},
        )  # fmt: skip
        await publish_rules(bootstrap, names["rules"], rules, prune=True)
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(args.workdir) if args.workdir else Path(tmp)
            with contextlib.ExitStack() as stack:
                workers = [
                    stack.enter_context(WorkerProcess(workdir / f"w{n}", free_port(), env=env))
                    for n in range(args.workers)
                ]
                # Each worker's router owns a partition once the group has settled.
                for worker in workers:
                    await asyncio.to_thread(worker.wait_ready, 180.0, 1, ("router",))
                await asyncio.sleep(3)  # the rule set loads after the assignment
                for worker in workers:
                    await asyncio.to_thread(worker.wait_ready, 60.0, 1, ("router",))
                spy = None
                if args.profile:
                    args.profile.mkdir(parents=True, exist_ok=True)
                    spy = start_profiler(workers[0], args.profile / "alerts.txt")
                warm, sent_at, eps = await produce(
                    bootstrap, names["raw"], args.eps, args.seconds, plates, args.warmup
                )
                if spy is not None:
                    spy.send_signal(signal.SIGINT)
                    await asyncio.to_thread(spy.wait, 60)
                    print("worker profile while producing (share of samples by stage):")
                    for share, stage in stage_shares(args.profile / "alerts.txt"):
                        print(f"  {share:6.1%}  {stage}")
                deadline = time.time() + 30
                while len(receiver.received) < len(warm) + len(sent_at) and time.time() < deadline:
                    await asyncio.sleep(0.2)
                for worker in workers:
                    print(stage_means(worker.web_url))
        traced = await trace(bootstrap, names)
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
    warm_ms = [(receiver.received[e] - t) * 1000 for e, t in warm.items() if e in receiver.received]
    if warm_ms:
        print(f"warm-up (not counted): {len(warm_ms)}/{len(warm)} alerts, p50 "
              f"{percentile(warm_ms, 0.5):.1f} ms, max {max(warm_ms):.1f} ms")  # fmt: skip
    print(f"latency ms: min {min(latencies):.1f} mean {statistics.mean(latencies):.1f} "
          f"max {max(latencies):.1f}")  # fmt: skip
    print("\n".join(hop_report(sent_at, receiver, traced)))
    print("warm-up " + hop_report(warm, receiver, traced)[-1])
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    print(f"RESULT alert_p50_ms={p50:.1f} alert_p99_ms={p99:.1f} eps={eps:.0f}")
    return 0 if len(latencies) == len(sent_at) and len(warm_ms) == len(warm) else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eps", type=int, default=1000, help="events per second produced")
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="how long to produce and measure"
    )
    parser.add_argument(
        "--warmup", type=float, default=5.0,
        help="seconds of reads at the same rate before measuring (not counted): the first "
        "reads of a fresh worker meet its one-off costs (connections, schema lookups)",
    )  # fmt: skip
    parser.add_argument("--plates", type=int, default=100_000, help="watch-list size")
    parser.add_argument("--workdir", default=None, help="keep the workers' logs here")
    parser.add_argument(
        "--workers", type=int, default=1,
        help="workers in the group (they share the partitions; --profile samples the first)",
    )  # fmt: skip
    parser.add_argument(
        "--with-projections", action="store_true", help="keep the store projections running"
    )
    parser.add_argument("--fuzzy", action="store_true", help="OCR-fuzzy instead of exact")
    parser.add_argument(
        "--rate-rule", action="store_true",
        help="add a rate rule (5 reads of a plate in 60 s): every read is then evaluated",
    )  # fmt: skip
    parser.add_argument(
        "--profile", type=Path, help="sample the worker with py-spy into this folder"
    )
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
