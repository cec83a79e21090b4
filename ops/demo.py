"""``make demo``: plates read in real photos, through a real Faust worker, end to end.

Reads the labelled sample photos (real photographs shipped in registry packages, fetched by
``bench/samples.py``) with the recognition engine, starts ``faust -A alpr worker``, publishes
a PlateEvent per plate read (Avro through the schema registry, as an edge worker does) to
``alpr.plates.raw`` with one duplicate and one malformed message, and prints what the router
made of them: normalised reads on ``alpr.plates.detected`` and dead letters on ``alpr.dlq``.
Once the edge worker lands, the demo reads a clip instead of still photos.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from config.settings import Settings, get_settings
from edge.manifest import alpr_home
from ops.worker import WorkerProcess

ROOT = Path(__file__).resolve().parents[1]

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


@dataclass(frozen=True)
class Sighting:
    """One plate read by the recognition engine in a real photo."""

    photo: str
    text: str
    confidence: float
    box: tuple[float, float, float, float]
    vehicle_type: str | None
    vehicle_box: tuple[float, float, float, float] | None


def read_photos(folder: Path) -> list[Sighting]:
    """Read every photo of the labelled sample set with the engine (``alpr read``'s path)."""
    from edge.engine.factory import build_engine
    from edge.reading import read_files

    photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
    if not photos:
        raise SystemExit(f"no photos in {folder}: run `python bench/samples.py` first")
    engine = build_engine()
    sightings = []
    for result in read_files(engine, [str(p) for p in photos]):
        print(f"  {Path(result.file).name:<32} {len(result.plates)} plate(s) in {result.ms:.0f} ms")
        for plate in result.plates:
            sightings.append(
                Sighting(
                    Path(result.file).stem,
                    plate.text,
                    plate.confidence,
                    plate.box,
                    plate.vehicle.type if plate.vehicle else None,
                    plate.vehicle.box if plate.vehicle else None,
                )
            )
    return sightings


def _box(box: tuple[float, float, float, float]) -> dict[str, int]:
    x1, y1, x2, y2 = (round(v) for v in box)
    return {"x": x1, "y": y1, "width": max(1, x2 - x1), "height": max(1, y2 - y1)}


def plate_events(sightings: list[Sighting]) -> list[tuple[bytes, bytes | dict[str, Any]]]:
    """(key, datum) pairs: a PlateEvent per sighting, one duplicate, one malformed message."""
    now = datetime.now(UTC)
    events: list[tuple[bytes, bytes | dict[str, Any]]] = []
    for track, sighting in enumerate(sightings, start=1):
        event_id = str(uuid.uuid4())
        datum = {
            "event_id": event_id,
            "site_id": "demo-site",
            # Each photo stands for a camera of the demo site.
            "camera_id": f"cam-{sighting.photo}"[:64],
            "captured_at": now,
            "plate_text": sighting.text,
            "plate_confidence": sighting.confidence,
            "char_confidences": [sighting.confidence] * len(sighting.text),
            "region": None,
            "plate_box": _box(sighting.box),
            "vehicle_box": _box(sighting.vehicle_box) if sighting.vehicle_box else None,
            "vehicle_type": sighting.vehicle_type,
            "direction": "unknown",
            "track_id": track,
            "frames_agreed": 1,
            "plate_crop_key": None,
            "vehicle_image_key": None,
            "model_versions": {"engine": "alpr-edge"},
            "edge_version": "demo",
            "location": None,
        }
        events.append((event_id.encode(), datum))
    if events:
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
    print(f"  {'plate as read':<14} {'normalised':<11} {'search key':<11} {'camera':<28} conf")
    for msg in got[detected]:
        read = decode(msg.value, AvroSchema.named("PlateRead"), cache)
        print(
            f"  {read['plate_text']!s:<14} {read['plate']!s:<11} {read['search_key']!s:<11} "
            f"{read['camera_id']!s:<28} {read['plate_confidence']:.2f}"
        )
    print(f"\nDead letters on {dlq}:")
    for msg in got[dlq]:
        letter = decode(msg.value, AvroSchema.named("DeadLetter"), cache)
        print(f"  {letter['reason']}: {letter['message']} (stage {letter['stage']})")


async def run(settings: Settings, sightings: list[Sighting]) -> tuple[int, int]:
    from streams.config import get_topic_settings

    names = get_topic_settings()
    start = await end_offsets(settings, [names.detected, names.dlq])
    events = plate_events(sightings)
    await publish(settings, events)
    print(f"\npublished {len(events)} PlateEvents to {names.raw} ({len(sightings)} plates, "
          "1 duplicate, 1 malformed)")  # fmt: skip
    want = {names.detected: len(sightings), names.dlq: 2}
    got = await collect(settings, start, want, 60)
    show(got, names.detected, names.dlq)
    return len(got[names.detected]), len(got[names.dlq])


def main() -> int:
    settings = get_settings()
    workdir = Path(os.environ.get("ALPR_DEMO_DIR", ROOT / "out" / "demo"))
    photos = Path(os.environ.get("ALPR_DEMO_PHOTOS", alpr_home() / "samples" / "plates"))
    print(f"reading the real photos in {photos} with the recognition engine ...", flush=True)
    sightings = read_photos(photos)
    print("starting a Faust worker (faust -A alpr worker) ...", flush=True)
    with WorkerProcess(workdir, settings.web.port) as worker:
        try:
            health = worker.wait_ready()
        except (RuntimeError, TimeoutError) as exc:
            print(f"demo FAILED: {exc}")
            return 1
        print(f"worker up: {health['assigned_partitions']} partitions assigned, "
              f"health at {worker.web_url}/health")  # fmt: skip
        reads, letters = asyncio.run(run(settings, sightings))
    ok = reads == len(sightings) and letters == 2
    print(
        f"\ndemo {'done' if ok else 'FAILED'}: {len(sightings)} plates read in "
        f"{len({s.photo for s in sightings})} photos, {len(sightings) + 2} events in, "
        f"{reads} reads out, {letters} dead letters (the duplicate and the malformed message)."
        f"\nWorker log: {worker.log_path}. Try: .venv/bin/alpr read {photos}/<photo>"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
