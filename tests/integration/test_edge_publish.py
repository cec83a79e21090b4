"""Edge publishing through outages: nothing lost, nothing duplicated, in order per camera.

The shared broker and object store are not stopped (other tests use them): the sender is
first pointed at a closed port, as a worker sees an outage, then a new sender on the same
spool file (a restarted worker) is pointed at the real service.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pytest

from config.settings import Settings
from edge.publish.events import crop_keys, plate_event_datum
from edge.publish.kafka import EventPublisher
from edge.publish.s3 import CropUploader
from edge.publish.sender import SpoolSender
from edge.publish.spool import Spool
from edge.video.pipeline import TrackEvent
from streams.codec import AvroSchema, SchemaCache, decode
from streams.registry import SchemaRegistryClient
from streams.retry import Backoff
from tests.integration.conftest import require_port
from tests.integration.kafka_reading import consume_topic
from tests.support.streams import create_topics, delete_topics

CLOSED = "127.0.0.1:9"  # the discard port: nothing listens here
FAST = Backoff(first_s=0.1, max_s=0.5, jitter=0.3)


def _track_event(camera: str, track: int, text: str) -> TrackEvent:
    return TrackEvent(
        camera_id=camera,
        track_id=track,
        text=text,
        confidence=0.9,
        char_confidences=[0.9] * len(text),
        valid=True,
        format="cz:0",
        frames_agreed=3,
        reads=3,
        candidates=[(text, 0.9, 1.0)] * 3,
        captured_at=1_700_000_000.0 + track,
        plate_box=(10.0, 20.0, 110.0, 45.0),
        vehicle_box=(0.0, 0.0, 300.0, 200.0),
        vehicle_type="car",
        direction="approaching",
        plate_crop=np.zeros((25, 100, 3), dtype=np.uint8),
        vehicle_image=np.zeros((200, 300, 3), dtype=np.uint8),
        reason="ended",
    )


async def _drain(sender: SpoolSender) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    try:
        for _ in range(300):
            if sender.spool.depth() == 0:
                break
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await sender.close()
    assert sender.spool.depth() == 0, sender.stats.last_error


async def test_events_spooled_through_a_broker_outage_and_a_restart_all_arrive_in_order(
    settings: Settings, unique: str, tmp_path: Path
) -> None:
    bootstrap = settings.kafka.bootstrap_servers
    require_port(bootstrap, "Kafka")
    require_port(settings.schema_registry.url, "schema registry")
    topic = f"alpr.plates.raw.test-edge-{unique}"
    await create_topics(bootstrap, [topic], partitions=2)
    registry = SchemaRegistryClient(settings.schema_registry.url)
    spool_file = tmp_path / "events.db"
    try:
        down = EventPublisher(Spool(spool_file), CLOSED, settings.schema_registry.url, backoff=FAST)
        sent: dict[str, list[str]] = defaultdict(list)
        for track in range(12):
            camera = ("gate-in", "gate-out")[track % 2]
            event_id = str(uuid.uuid4())
            datum = plate_event_datum(
                "site-t", _track_event(camera, track, "5AU5341"), {}, None, event_id
            )
            down.enqueue(topic, camera, "PlateEvent", datum)
            sent[camera].append(event_id)
        with pytest.raises(Exception):  # noqa: B017 - whatever the client raises: broker down
            await down.drain_once()
        await down.close()
        assert down.spool.depth() == 12
        down.spool.close()

        restarted = EventPublisher(Spool(spool_file), bootstrap, settings.schema_registry.url)
        await _drain(restarted)
        assert restarted.stats.sent == 12

        messages = await consume_topic(bootstrap, topic, 12)
        cache = SchemaCache(registry)
        got: dict[str, list[str]] = defaultdict(list)
        for message in messages:
            event = decode(message.value, AvroSchema.named("PlateEvent"), cache)
            assert message.key.decode() == event["camera_id"]
            got[event["camera_id"]].append(event["event_id"])
        assert got == sent
    finally:
        await delete_topics(bootstrap, [topic])
        registry.delete_subject(f"{topic}-value", permanent=False)


async def test_crops_spooled_through_a_store_outage_are_all_uploaded_with_tags(
    settings: Settings, unique: str, tmp_path: Path
) -> None:
    from aiobotocore.session import get_session

    require_port(settings.s3.endpoint, "S3")
    bucket = f"alpr-test-edge-{unique}"
    kwargs = settings.s3.client_kwargs()
    parts = urlsplit(kwargs["endpoint_url"])
    closed = {**kwargs, "endpoint_url": urlunsplit(parts._replace(netloc=CLOSED))}
    spool_file = tmp_path / "crops.db"
    async with get_session().create_client("s3", **kwargs) as client:
        await client.create_bucket(Bucket=bucket)
        try:
            down = CropUploader(Spool(spool_file), bucket, closed, backoff=FAST)
            keys = []
            for track in range(4):
                event = _track_event("gate-in", track, f"5AU534{track}")
                key = crop_keys("site-t", event, str(uuid.uuid4())).plate
                assert key is not None
                tags = {"camera": "gate-in", "track": str(track), "plate": event.text}
                down.enqueue(key, f"jpeg-{track}".encode(), tags)
                keys.append(key)
            with pytest.raises(Exception):  # noqa: B017 - whatever the client raises: store down
                await down.drain_once()
            await down.close()
            assert down.spool.depth() == 4
            down.spool.close()

            restarted = CropUploader(Spool(spool_file), bucket, kwargs)
            await _drain(restarted)

            listed = await client.list_objects_v2(Bucket=bucket)
            assert sorted(o["Key"] for o in listed.get("Contents", [])) == sorted(keys)
            body = await (await client.get_object(Bucket=bucket, Key=keys[2]))["Body"].read()
            assert body == b"jpeg-2"
            tagging = await client.get_object_tagging(Bucket=bucket, Key=keys[2])
            assert {t["Key"]: t["Value"] for t in tagging["TagSet"]} == {
                "camera": "gate-in",
                "track": "2",
                "plate": "5AU5342",
            }
        finally:
            listed = await client.list_objects_v2(Bucket=bucket)
            for obj in listed.get("Contents", []):
                await client.delete_object(Bucket=bucket, Key=obj["Key"])
            await client.delete_bucket(Bucket=bucket)
