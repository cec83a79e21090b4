"""Router throughput against a bare aiokafka loop, in one run on the local broker.

    .venv/bin/python -m bench.router [--events 200000]

Publishes N PlateEvents to a fresh raw topic, then measures (a) a bare aiokafka
consume-decode-encode-produce loop and (b) the Faust router (a real ``faust -A alpr worker``)
on the same events. Each rate is output messages over the span of their Kafka timestamps, so
start-up does not count. Ends with ``RESULT router_eps=... baseline_eps=... ratio=...``.
"""

from __future__ import annotations

import argparse
import asyncio
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


async def output_rate(
    bootstrap: str,
    topic: str,
    count: int,
    timeout: float,
    alive: subprocess.Popen[bytes] | None = None,
) -> float:
    """Events per second over the Kafka timestamps of the first ``count`` messages of ``topic``."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    stamps: list[int] = []
    deadline = time.monotonic() + timeout
    try:
        while len(stamps) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: {len(stamps)} of {count} messages in {timeout}s")
            if alive is not None and alive.poll() is not None:
                raise RuntimeError(f"the worker exited with {alive.returncode}; see its log")
            batches = await consumer.getmany(timeout_ms=1000)
            stamps += [r.timestamp for records in batches.values() for r in records]
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


async def run(count: int, keep: bool) -> tuple[float, float]:
    settings = get_settings()
    bootstrap = settings.kafka.bootstrap_servers
    cache = default_schema_cache()
    isolated = IsolatedRun(kind="bench")
    topics = {t: isolated.topic(t) for t in CORE_TOPICS}
    baseline_out = isolated.topic("baseline")
    names = [*topics.values(), baseline_out]
    await create_topics(bootstrap, names, partitions=settings.kafka.partitions)
    try:
        print(f"publishing {count} events to {topics['raw']}", flush=True)
        await publish(bootstrap, topics["raw"], cache, count)

        print("baseline: aiokafka consume-decode-encode-produce", flush=True)
        await baseline(bootstrap, topics["raw"], baseline_out, cache, count)
        baseline_eps = await output_rate(bootstrap, baseline_out, count, timeout=120)
        print(f"baseline: {baseline_eps:,.0f} events/s", flush=True)

        print("router: faust -A alpr worker", flush=True)
        env = router_env(isolated)
        with tempfile.TemporaryDirectory() as workdir:
            with WorkerProcess(Path(workdir), free_port(), env=env) as worker:
                router_eps = await output_rate(
                    bootstrap, topics["detected"], count, timeout=900, alive=worker.process
                )
        print(f"router: {router_eps:,.0f} events/s", flush=True)
        return router_eps, baseline_eps
    finally:
        if not keep:
            await isolated.drop(bootstrap, settings.schema_registry.url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="events to publish")
    parser.add_argument("--keep", action="store_true", help="keep the topics afterwards")
    args = parser.parse_args()
    if args.events < 2:
        parser.error(f"--events must be at least 2, got {args.events}")
    router_eps, baseline_eps = asyncio.run(run(args.events, args.keep))
    print(
        f"RESULT router_eps={router_eps:.0f} baseline_eps={baseline_eps:.0f} "
        f"ratio={router_eps / baseline_eps:.2f}"
    )


if __name__ == "__main__":
    main()
