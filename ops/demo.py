"""``make demo``: sample plate events through a real Faust worker, end to end.

Starts ``faust -A alpr worker``, publishes a handful of plate events (as an edge worker would,
Avro through the schema registry) to ``alpr.plates.raw``, including one duplicate and one
malformed message, and prints what the router made of them: normalised reads on
``alpr.plates.detected`` and the dead letter on ``alpr.dlq``. Until the edge worker lands, the
events are samples; afterwards the demo reads a real clip.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from config.settings import Settings, get_settings
from ops.worker import WorkerProcess

ROOT = Path(__file__).resolve().parents[1]

SAMPLES = [
    ("cam-north-gate", "ab12 cde", 0.97, "car"),
    ("cam-north-gate", "KX-19 OLD", 0.91, "van"),
    ("cam-car-park", "5AU5341", 0.95, "car"),
    ("cam-car-park", "ab12cde", 0.88, "car"),
    ("cam-south-exit", "B8 S5Z2", 0.82, "truck"),
]


def sample_events() -> list[tuple[bytes, bytes | dict[str, Any]]]:
    """(key, datum) pairs: the samples, a duplicate of the first, and one malformed message."""
    now = datetime.now(UTC)
    events: list[tuple[bytes, bytes | dict[str, Any]]] = []
    for track, (camera, plate, confidence, vehicle) in enumerate(SAMPLES, start=1):
        event_id = str(uuid.uuid4())
        datum = {
            "event_id": event_id,
            "site_id": "demo-site",
            "camera_id": camera,
            "captured_at": now,
            "plate_text": plate,
            "plate_confidence": confidence,
            "char_confidences": [confidence] * len(plate.replace(" ", "").replace("-", "")),
            "region": None,
            "plate_box": {"x": 400, "y": 300, "width": 120, "height": 32},
            "vehicle_box": {"x": 300, "y": 120, "width": 420, "height": 330},
            "vehicle_type": vehicle,
            "direction": "unknown",
            "track_id": track,
            "frames_agreed": 3,
            "plate_crop_key": None,
            "vehicle_image_key": None,
            "model_versions": {},
            "edge_version": "demo",
            "location": None,
        }
        events.append((event_id.encode(), datum))
    events.append(events[0])  # an edge retry: the router dead-letters the duplicate
    events.append((b"broken-1", b'{"plate": "not avro"}'))  # goes to the dead-letter topic
    return events


async def publish(settings: Settings, events: list[tuple[bytes, bytes | dict[str, Any]]]) -> None:
    from aiokafka import AIOKafkaProducer

    from streams.codec import AvroSchema, SchemaCache, encode
    from streams.config import get_topic_settings
    from streams.registry import SchemaRegistryClient

    topic = get_topic_settings().raw
    cache = SchemaCache(SchemaRegistryClient(settings.schema_registry.url))
    schema = AvroSchema.named("PlateEvent")
    schema_id = cache.id_for(f"{topic}-value", schema)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for key, datum in events:
            value = datum if isinstance(datum, bytes) else encode(schema_id, schema, datum)
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def partitions(settings: Settings, topics: list[str]) -> list[Any]:
    """Every partition of ``topics``, from the broker's metadata."""
    from aiokafka import TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return [
        TopicPartition(topic["topic"], part["partition"])
        for topic in described
        for part in topic["partitions"]
    ]


async def end_offsets(settings: Settings, topics: list[str]) -> dict[Any, int]:
    from aiokafka import AIOKafkaConsumer

    parts = await partitions(settings, topics)
    if not parts:
        raise SystemExit(f"topics {topics} do not exist: run `alpr bootstrap` first")
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_servers)
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(parts))
    finally:
        await consumer.stop()


async def collect(
    settings: Settings, start: dict[Any, int], want: dict[str, int], timeout: float
) -> dict[str, list[Any]]:
    """Messages after ``start`` on each topic until ``want`` counts are met or time runs out."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers, enable_auto_commit=False
    )
    await consumer.start()
    got: dict[str, list[Any]] = {topic: [] for topic in want}
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(len(got[t]) < n for t, n in want.items()):
            batch = await consumer.getmany(timeout_ms=500)
            for tp, messages in batch.items():
                got[tp.topic].extend(messages)
    finally:
        await consumer.stop()
    return got


def show(got: dict[str, list[Any]], detected: str, dlq: str) -> None:
    from streams.codec import AvroSchema, decode, default_schema_cache

    cache = default_schema_cache()
    print(f"\nReads on {detected}:")
    print(f"  {'plate as read':<14} {'normalised':<11} {'search key':<11} {'camera':<16} conf")
    for msg in got[detected]:
        read = decode(msg.value, AvroSchema.named("PlateRead"), cache)
        print(
            f"  {read['plate_text']!s:<14} {read['plate']!s:<11} {read['search_key']!s:<11} "
            f"{read['camera_id']!s:<16} {read['plate_confidence']:.2f}"
        )
    print(f"\nDead letters on {dlq}:")
    for msg in got[dlq]:
        letter = decode(msg.value, AvroSchema.named("DeadLetter"), cache)
        print(f"  {letter['reason']}: {letter['message']} (stage {letter['stage']})")


async def run(settings: Settings) -> tuple[int, int]:
    from streams.config import get_topic_settings

    names = get_topic_settings()
    start = await end_offsets(settings, [names.detected, names.dlq])
    events = sample_events()
    await publish(settings, events)
    print(f"published {len(events)} events to {names.raw} ({len(SAMPLES)} plates, "
          "1 duplicate, 1 malformed)")  # fmt: skip
    got = await collect(settings, start, {names.detected: len(SAMPLES), names.dlq: 2}, 60)
    show(got, names.detected, names.dlq)
    return len(got[names.detected]), len(got[names.dlq])


def main() -> int:
    settings = get_settings()
    workdir = Path(os.environ.get("ALPR_DEMO_DIR", ROOT / "out" / "demo"))
    print("starting a Faust worker (faust -A alpr worker) ...", flush=True)
    with WorkerProcess(workdir, settings.web.port) as worker:
        try:
            health = worker.wait_ready()
        except (RuntimeError, TimeoutError) as exc:
            print(f"demo FAILED: {exc}")
            return 1
        print(f"worker up: {health['assigned_partitions']} partitions assigned, "
              f"health at {worker.web_url}/health")  # fmt: skip
        reads, letters = asyncio.run(run(settings))
    ok = reads == len(SAMPLES) and letters == 2
    print(
        f"\ndemo {'done' if ok else 'FAILED'}: {len(SAMPLES) + 2} events in, {reads} reads out, "
        f"{letters} dead letters (expected {len(SAMPLES)} and 2: the duplicate and the "
        f"malformed message). Worker log: {worker.log_path}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
