"""Router throughput against a bare aiokafka loop, in one run on the local broker.

    .venv/bin/python -m bench.router [--events 200000] [--traced OTLP_URL]

Publishes N PlateEvents to a fresh raw topic, then measures (a) a bare aiokafka
consume-decode-encode-produce loop and (b) the Faust router (a real ``faust -A alpr worker``)
on the same events. Each rate is output messages over the span of their Kafka timestamps, so
start-up does not count. Ends with ``RESULT router_eps=... baseline_eps=... ratio=...``.

``--traced`` then routes the same events once more with tracing on (each event a trace
started at the router, kept at ``ALPR_TRACING__SAMPLE_RATIO``, 1 by default; spans exported
to ``OTLP_URL``), in a group and output topic of its own, and adds ``traced_eps=...
traced_cpu_us=... tracing_cost=...`` (the share of the rate lost). ``router_cpu_us`` and
``traced_cpu_us`` are the worker's CPU time per event, which other work on the machine moves
much less than the rates.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from config.settings import get_settings
from ops.worker import WorkerProcess, free_port
from streams.codec import AvroSchema, SchemaCache, decode, default_schema_cache, encode
from tests.support.isolated import CORE_TOPICS, IsolatedRun
from tests.support.streams import create_topics, plate_event_datum

EVENT = AvroSchema.named("PlateEvent")


async def publish(bootstrap: str, topic: str, cache: SchemaCache, count: int) -> None:
    schema_id = cache.id_for(f"{topic}-value", EVENT)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=512 * 1024
    )
    await producer.start()
    try:
        for _ in range(count):
            datum = plate_event_datum(event_id=str(uuid.uuid4()))
            await producer.send(
                topic, encode(schema_id, EVENT, datum), key=datum["event_id"].encode()
            )
        await producer.flush()
    finally:
        await producer.stop()


async def baseline(bootstrap: str, source: str, sink: str, cache: SchemaCache, count: int) -> None:
    """Consume, decode, re-encode and produce every event: the floor any router pays."""
    out_id = cache.id_for(f"{sink}-value", EVENT)
    consumer = AIOKafkaConsumer(
        source, bootstrap_servers=bootstrap, group_id=f"bench-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest", enable_auto_commit=False,
    )  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await consumer.start()
    await producer.start()
    done = 0
    try:
        while done < count:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for records in batches.values():
                for record in records:
                    datum = decode(record.value, EVENT, cache)
                    await producer.send(sink, encode(out_id, EVENT, datum), key=record.key)
                done += len(records)
            await consumer.commit()
        await producer.flush()
    finally:
        await producer.stop()
        await consumer.stop()


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process ``pid`` so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def output_rate(
    bootstrap: str,
    topic: str,
    count: int,
    timeout: float,
    alive: subprocess.Popen[bytes] | None = None,
    cpu: dict[str, float] | None = None,
) -> float:
    """Events per second over the Kafka timestamps of the first ``count`` messages of ``topic``.

    With ``cpu``, also the worker's (``alive``'s) CPU time per event, in microseconds, from
    its first output seen to its last (``cpu["us_per_event"]``): on a machine other work
    shares, CPU time per event moves much less than the rate does."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    stamps: list[int] = []
    started: tuple[int, float] | None = None
    deadline = time.monotonic() + timeout
    try:
        while len(stamps) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: {len(stamps)} of {count} messages in {timeout}s")
            if alive is not None and alive.poll() is not None:
                raise RuntimeError(f"the worker exited with {alive.returncode}; see its log")
            batches = await consumer.getmany(timeout_ms=1000)
            stamps += [r.timestamp for records in batches.values() for r in records]
            if cpu is not None and alive is not None and stamps and started is None:
                started = (len(stamps), cpu_seconds(alive.pid))
        if cpu is not None and alive is not None and started is not None:
            events = len(stamps) - started[0]
            if events > 0:
                cpu["us_per_event"] = (cpu_seconds(alive.pid) - started[1]) / events * 1e6
    finally:
        await consumer.stop()
    span = (max(stamps) - min(stamps)) / 1000.0
    return (len(stamps) - 1) / span if span > 0 else float("inf")


def router_env(run: IsolatedRun) -> dict[str, str]:
    """The worker measures the router alone, not the stores' projections of its output."""
    return {
        **run.env(),
        "ALPR_PROJECTIONS__ENABLE_PG": "false",
        "ALPR_PROJECTIONS__ENABLE_ES": "false",
    }


async def router_rate(env: dict[str, str], detected: str, count: int) -> tuple[float, float]:
    """A router worker's rate on ``detected`` and its CPU time per event (us)."""
    cpu: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as workdir:
        with WorkerProcess(Path(workdir), free_port(), env=env) as worker:
            eps = await output_rate(
                get_settings().kafka.bootstrap_servers, detected, count, timeout=900,
                alive=worker.process, cpu=cpu,
            )  # fmt: skip
    return eps, cpu.get("us_per_event", float("nan"))


async def traced_router_rate(raw: str, count: int, endpoint: str) -> tuple[float, float]:
    """:func:`router_rate` on ``raw`` with tracing on, in a run (group, topics) of its own."""
    bootstrap = get_settings().kafka.bootstrap_servers
    traced = IsolatedRun(kind="bench")
    names = [traced.topic(t) for t in CORE_TOPICS if t != "raw"]
    await create_topics(bootstrap, names, partitions=get_settings().kafka.partitions)
    env = {**router_env(traced), "ALPR_TOPICS__RAW": raw, "ALPR_TRACING__ENDPOINT": endpoint}
    try:
        return await router_rate(env, traced.topic("detected"), count)
    finally:
        await traced.drop(bootstrap, get_settings().schema_registry.url)


async def run(count: int, keep: bool, traced: str | None = None) -> dict[str, float]:
    settings = get_settings()
    bootstrap = settings.kafka.bootstrap_servers
    cache = default_schema_cache()
    isolated = IsolatedRun(kind="bench")
    topics = {t: isolated.topic(t) for t in CORE_TOPICS}
    baseline_out = isolated.topic("baseline")
    names = [*topics.values(), baseline_out]
    await create_topics(bootstrap, names, partitions=settings.kafka.partitions)
    result: dict[str, float] = {}
    try:
        print(f"publishing {count} events to {topics['raw']}", flush=True)
        await publish(bootstrap, topics["raw"], cache, count)

        print("baseline: aiokafka consume-decode-encode-produce", flush=True)
        await baseline(bootstrap, topics["raw"], baseline_out, cache, count)
        result["baseline_eps"] = await output_rate(bootstrap, baseline_out, count, timeout=120)
        print(f"baseline: {result['baseline_eps']:,.0f} events/s", flush=True)

        print("router: faust -A alpr worker", flush=True)
        eps, cpu = await router_rate(router_env(isolated), topics["detected"], count)
        result |= {"router_eps": eps, "router_cpu_us": cpu}
        print(f"router: {eps:,.0f} events/s, {cpu:.0f} us CPU per event", flush=True)
        if traced is not None:
            print(f"router, traced: spans to {traced}", flush=True)
            eps, cpu = await traced_router_rate(topics["raw"], count, traced)
            result |= {"traced_eps": eps, "traced_cpu_us": cpu}
            print(f"router, traced: {eps:,.0f} events/s, {cpu:.0f} us CPU per event", flush=True)
        return result
    finally:
        if not keep:
            await isolated.drop(bootstrap, settings.schema_registry.url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="events to publish")
    parser.add_argument("--keep", action="store_true", help="keep the topics afterwards")
    parser.add_argument(
        "--traced", metavar="OTLP_URL",
        help="route the events again with tracing on, spans to this OTLP/HTTP traces URL "
        "(the stack's Jaeger: http://127.0.0.1:14318/v1/traces)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.events < 2:
        parser.error(f"--events must be at least 2, got {args.events}")
    found = asyncio.run(run(args.events, args.keep, args.traced))
    router_eps = found["router_eps"]
    line = (
        f"RESULT router_eps={router_eps:.0f} baseline_eps={found['baseline_eps']:.0f} "
        f"ratio={router_eps / found['baseline_eps']:.2f} "
        f"router_cpu_us={found['router_cpu_us']:.0f}"
    )
    if "traced_eps" in found:
        line += (
            f" traced_eps={found['traced_eps']:.0f} traced_cpu_us={found['traced_cpu_us']:.0f}"
            f" tracing_cost={1 - found['traced_eps'] / router_eps:.1%}"
        )
    print(line)


if __name__ == "__main__":
    main()
